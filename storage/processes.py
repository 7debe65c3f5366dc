"""The processes serving one bot, each seen alive every few seconds: they share its sending limits.

Each process writes its row every `BEAT` (bot/limit_sharing.py) and counts the rows written within the last
`LEASE`: that many processes send for the bot. A process that stops deletes its row; one that crashed or
hung drops out of the count once its lease passes, and its row is deleted after `FORGOTTEN`. The time is the
database's on PostgreSQL (processes on several machines, one clock), the machine's on SQLite (one machine),
read inside the transaction; never the runtime's clock, which the tests move.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from storage.engine import core_transaction
from storage.models import BotProcess

BEAT = dt.timedelta(seconds=2)
LEASE = 3 * BEAT
FORGOTTEN = dt.timedelta(hours=1)
_TABLE = BotProcess.__table__


async def beat(sessions: async_sessionmaker[AsyncSession], token: str, now: dt.datetime | None = None) -> int:
    """Write that the process `token` is alive (at `now`, else the database's time); returns how many
    processes are (itself included)."""
    async with core_transaction(sessions) as connection:
        now = now or await _database_time(connection)
        seen = await connection.execute(update(_TABLE).where(_TABLE.c.token == token).values(seen_at=now))
        if seen.rowcount == 0:
            await connection.execute(insert(_TABLE).values(token=token, started_at=now, seen_at=now))
        await connection.execute(delete(_TABLE).where(_TABLE.c.seen_at < now - FORGOTTEN))
        alive = select(func.count()).select_from(_TABLE).where(_TABLE.c.seen_at >= now - LEASE)
        return (await connection.execute(alive)).scalar_one()


async def counted_by_all(sessions: async_sessionmaker[AsyncSession], token: str, since: dt.datetime) -> bool:
    """Every other process seen alive by `since` has beaten since: each has counted `token`, written before."""
    async with core_transaction(sessions) as connection:
        behind = (_TABLE.c.token != token) & (_TABLE.c.seen_at >= since - LEASE) & (_TABLE.c.seen_at < since)
        return not (await connection.execute(select(exists().where(behind)))).scalar_one()


async def database_time(sessions: async_sessionmaker[AsyncSession]) -> dt.datetime:
    async with core_transaction(sessions) as connection:
        return await _database_time(connection)


async def leave(sessions: async_sessionmaker[AsyncSession], token: str) -> None:
    """The process `token` stops: the others count without it at their next beat."""
    async with core_transaction(sessions) as connection:
        await connection.execute(delete(_TABLE).where(_TABLE.c.token == token))


async def _database_time(connection: AsyncConnection) -> dt.datetime:
    if connection.dialect.name == "postgresql":
        return (await connection.execute(select(func.now()))).scalar_one()
    return dt.datetime.now(dt.UTC)
