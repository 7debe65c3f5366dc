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
    for key in keys:
        await session.execute(
            delete(OptionMenu).where(
                OptionMenu.platform == platform, OptionMenu.chat_id == chat_id, OptionMenu.ref == key
            )
        )
        session.add(OptionMenu(platform=platform, chat_id=chat_id, ref=key, options=options))


async def find(session: AsyncSession, platform: str, chat_id: str, ref: str = LATEST) -> list[list[str]] | None:
    """[[label, payload], …] of the chat's latest menu, or of the one shown under `ref`."""
    return await session.scalar(
        select(OptionMenu.options).where(
            OptionMenu.platform == platform, OptionMenu.chat_id == chat_id, OptionMenu.ref == ref
        )
    )
