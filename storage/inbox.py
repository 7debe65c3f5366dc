"""The inbox: updates kept from their arrival until the transaction that handles them.

Telegram forgets an update once the bot asks for the next ones (polling) or once the webhook answered 200.
So the channel writes each batch here first, and only then asks for more or answers. At start, the rows
whose update was never claimed (`processed_update`, written in the transaction that handles it) — updates
a crash or a kill caught between arrival and handling — are handled. The scheduler's housekeeping deletes
the rows of claimed updates; an update handled twice would have no second effect anyway (its claim).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence

from sqlalchemy import ColumnElement, Insert, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.engine import core_transaction
from storage.models import InboxUpdate, ProcessedUpdate


async def keep(
    sessions: async_sessionmaker[AsyncSession], platform: str, updates: Sequence[tuple[str, str]], now: dt.datetime
) -> None:
    """Write the batch (update key, the update as JSON) in one transaction; a row already there stays."""
    if not updates:
        return
    rows = [{"platform": platform, "update_key": key, "payload": payload, "received_at": now}
            for key, payload in updates]  # fmt: skip
    async with core_transaction(sessions) as connection:
        await connection.execute(_insert(connection.dialect.name), rows)


@functools.cache
def _insert(dialect_name: str) -> Insert:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(InboxUpdate.__table__).on_conflict_do_nothing()


async def left_over(sessions: async_sessionmaker[AsyncSession], platform: str) -> list[str]:
    """What arrived and was never handled, in arrival order."""
    async with sessions() as session:
        rows = await session.scalars(
            select(InboxUpdate.payload)
            .where(InboxUpdate.platform == platform, ~handled())
            .order_by(InboxUpdate.received_at, InboxUpdate.update_key)
        )
        return list(rows)


def handled() -> ColumnElement[bool]:
    """The row's update has been claimed: handled, or being handled in a transaction that committed."""
    return exists().where(
        ProcessedUpdate.platform == InboxUpdate.platform, ProcessedUpdate.update_key == InboxUpdate.update_key
    )
