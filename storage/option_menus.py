"""The numbered options last shown in a chat where there are no buttons (Zalo), to map "2" back to them."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OptionMenu

LATEST = ""


async def remember(
    session: AsyncSession, platform: str, chat_id: str, options: list[list[str]], ref: str, *, latest: bool = True
) -> None:
    """Keep the options under `ref` when given, and as the chat's latest menu when `latest`."""
    keys = {ref} - {LATEST} | ({LATEST} if latest else set())
    for key in sorted(keys, key=lambda key: key == LATEST):  # the latest written last: the newest row
        await session.execute(
            delete(OptionMenu).where(
                OptionMenu.platform == platform, OptionMenu.chat_id == chat_id, OptionMenu.ref == key
            )
        )
        session.add(OptionMenu(platform=platform, chat_id=chat_id, ref=key, options=options))


async def find(session: AsyncSession, platform: str, chat_id: str, ref: str = LATEST) -> list[list[str]] | None:
    """[[label, payload], …] of the menu shown under `ref`; without one, of the chat's latest menu — unless a
    numbered message came after it (a review card sent meanwhile): an answer without its reference could
    then mean either, and is taken for neither (a chair's "1" for the card on screen ran an option of the
    progress message before it)."""
    in_chat = (OptionMenu.platform == platform, OptionMenu.chat_id == chat_id)
    row = (
        await session.execute(select(OptionMenu.id, OptionMenu.options).where(*in_chat, OptionMenu.ref == ref))
    ).first()
    if row is None or ref != LATEST:
        return row.options if row is not None else None
    newer = await session.scalar(
        select(OptionMenu.id).where(*in_chat, OptionMenu.ref != LATEST, OptionMenu.id > row.id)
    )
    return None if newer is not None else row.options
