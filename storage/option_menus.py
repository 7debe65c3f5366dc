"""The numbered options last shown in a chat where there are no buttons (Zalo), to map "2" back to them."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OptionMenu

LATEST = ""
# Under this key: the reference of a notice with numbers of its own that arrived after the latest menu (a review
# card while the chair picks a reason). A bare "1" could then mean either list.
NOTICE_AFTER = "~after"


async def remember(
    session: AsyncSession, platform: str, chat_id: str, options: list[list[str]], ref: str, *, latest: bool = True
) -> None:
    """Keep the options under `ref` when given, and as the chat's latest menu when `latest` (else, with a `ref`,
    as the notice shown after it)."""
    keys = {ref} - {LATEST} | ({LATEST} if latest else set())
    if not keys:  # neither the latest nor answerable by its reference: nothing to keep
        return
    await _forget(session, platform, chat_id, *keys, NOTICE_AFTER)
    for key in keys:
        session.add(OptionMenu(platform=platform, chat_id=chat_id, ref=key, options=options))
    if ref and not latest:
        session.add(OptionMenu(platform=platform, chat_id=chat_id, ref=NOTICE_AFTER, options=[[ref]]))


async def notice_after_latest(session: AsyncSession, platform: str, chat_id: str) -> str | None:
    """The reference of the notice with numbers shown after the chat's latest menu, if one was."""
    shown = await find(session, platform, chat_id, NOTICE_AFTER)
    return shown[0][0] if shown else None


async def forget_notice_after_latest(session: AsyncSession, platform: str, chat_id: str) -> None:
    await _forget(session, platform, chat_id, NOTICE_AFTER)


async def _forget(session: AsyncSession, platform: str, chat_id: str, *refs: str) -> None:
    await session.execute(
        delete(OptionMenu).where(
            OptionMenu.platform == platform, OptionMenu.chat_id == chat_id, OptionMenu.ref.in_(refs)
        )
    )


async def find(session: AsyncSession, platform: str, chat_id: str, ref: str = LATEST) -> list[list[str]] | None:
    """[[label, payload], …] of the chat's latest menu, or of the one shown under `ref`."""
    return await session.scalar(
        select(OptionMenu.options).where(
            OptionMenu.platform == platform, OptionMenu.chat_id == chat_id, OptionMenu.ref == ref
        )
    )
