"""The numbered options last shown in a chat where there are no buttons (Zalo), to map "2" back to them."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OptionMenu

LATEST = ""
# Under this key: the references of the notices with numbers of their own that arrived after the latest menu (review
# cards while the chair picks a reason, or `/pending`'s cards). A bare "1" could then mean any of these lists.
NOTICE_AFTER = "~after"
NOTICES_KEPT = 50


async def remember(
    session: AsyncSession, platform: str, chat_id: str, options: list[list[str]], ref: str, *, latest: bool = True
) -> None:
    """Keep the options under `ref` when given, and as the chat's latest menu when `latest` (else, with a `ref`,
    as the notice shown after it)."""
    keys = {ref} - {LATEST} | ({LATEST} if latest else set())
    if not keys:  # neither the latest nor answerable by its reference: nothing to keep
        return
    notices = [] if latest else [r for r in await notices_after_latest(session, platform, chat_id) if r != ref]
    await _forget(session, platform, chat_id, *keys, NOTICE_AFTER)
    for key in keys:
        session.add(OptionMenu(platform=platform, chat_id=chat_id, ref=key, options=options))
    if ref and not latest:
        notices = [*notices, ref][-NOTICES_KEPT:]
        session.add(OptionMenu(platform=platform, chat_id=chat_id, ref=NOTICE_AFTER, options=[[r] for r in notices]))


async def notices_after_latest(session: AsyncSession, platform: str, chat_id: str) -> list[str]:
    """The references of the notices with numbers shown after the chat's latest menu, oldest first."""
    shown = await find(session, platform, chat_id, NOTICE_AFTER)
    return [row[0] for row in shown or ()]


async def forget_notice_after_latest(session: AsyncSession, platform: str, chat_id: str) -> None:
    await _forget(session, platform, chat_id, NOTICE_AFTER)


async def forget_latest(session: AsyncSession, platform: str, chat_id: str) -> None:
    """No question is pending: the latest menu no longer answers a bare number (the notices shown after it
    still do: a review card waiting for its «1»)."""
    await _forget(session, platform, chat_id, LATEST)


async def _forget(session: AsyncSession, platform: str, chat_id: str, *refs: str) -> None:
    await session.execute(
        delete(OptionMenu).where(
            OptionMenu.platform == platform, OptionMenu.chat_id == chat_id, OptionMenu.ref.in_(refs)
        )
    )


async def shown_with_refs(session: AsyncSession, platform: str, chat_id: str) -> list[tuple[str, list[list[str]]]]:
    """(reference, options) of the lists shown under a reference in the chat (review cards, notices), newest first."""
    menus = await session.execute(
        select(OptionMenu.ref, OptionMenu.options)
        .where(OptionMenu.platform == platform, OptionMenu.chat_id == chat_id,
               OptionMenu.ref.not_in((LATEST, NOTICE_AFTER)))
        .order_by(OptionMenu.id.desc())
        .limit(NOTICES_KEPT)
    )  # fmt: skip
    return [(ref, options) for ref, options in menus.all()]


async def find(session: AsyncSession, platform: str, chat_id: str, ref: str = LATEST) -> list[list[str]] | None:
    """[[label, payload], …] of the chat's latest menu, or of the one shown under `ref`."""
    return await session.scalar(
        select(OptionMenu.options).where(
            OptionMenu.platform == platform, OptionMenu.chat_id == chat_id, OptionMenu.ref == ref
        )
    )
