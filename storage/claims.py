"""Claims: a row whose insertion means "this is mine" (an update handled, a reminder period sent).

A claim is an INSERT … ON CONFLICT DO NOTHING inside the caller's transaction, so the claim and the work
it guards commit together or not at all: a handler that fails leaves its update unclaimed and a
redelivery is handled; a reminder period whose messages could not be queued is tried again.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from sqlalchemy import Insert, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Base, ProcessedUpdate, ReminderRun


async def insert_if_absent(session: AsyncSession, model: type[Base], **values: Any) -> bool:
    """Insert one row unless a unique key already holds it; True if this call inserted it. Run as Core on the
    session's connection: the ORM adds nothing to a plain insert (every update claims one)."""
    statement = _insert_if_absent(session.bind.dialect.name, model, tuple(sorted(values)))
    return (await (await session.connection()).execute(statement, values)).first() is not None


@functools.cache
def _insert_if_absent(dialect_name: str, model: type[Base], columns: tuple[str, ...]) -> Insert:
    """The statement, built once per table and columns (every update claims one: building it each time
    was a measurable share of a wizard step's CPU)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    table = model.__table__
    insert = dialect.insert(table).values({name: bindparam(name) for name in columns})
    return insert.on_conflict_do_nothing().returning(*table.primary_key.columns)


async def claim_update(session: AsyncSession, platform: str, update_key: str, now: dt.datetime) -> bool:
    """Record an update as handled; False if it already was (a redelivery must have no effect)."""
    return await insert_if_absent(session, ProcessedUpdate, platform=platform, update_key=update_key, processed_at=now)


async def claim_reminder_period(
    session: AsyncSession, reminder: str, due_at: dt.datetime, now: dt.datetime, *, skipped: bool = False
) -> bool:
    """Claim one period of a reminder for this process; False if another process (or an earlier run) has it.
    `skipped` records a period that is not sent (before the bot ever ran)."""
    return await insert_if_absent(session, ReminderRun, reminder=reminder, due_at=due_at, ran_at=now, skipped=skipped)
