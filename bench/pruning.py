"""Benchmark: the scheduler's pruning keeps `processed_update` at its retention, not the campaign's history.

Fills 1,000,000 handled update ids spread over the last 30 days (SQLite, or BENCH_DATABASE_URL), prunes
once (timed: a first prune after an upgrade), then lives ten more days of the same traffic, pruning each
day: prints the rows and the database file's size each day, which stay flat (SQLite reuses freed pages).
Not a pass/fail test. Run: `make bench-pruning` (options: --updates).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import housekeeping
from storage.engine import create_engine, session_factory, upgrade_database
from storage.models import ProcessedUpdate

DAYS = 30
CHUNK = 50_000


async def add_updates(engine: AsyncEngine, first: int, count: int, start: dt.datetime, span: dt.timedelta) -> None:
    for offset in range(0, count, CHUNK):
        rows = [
            {"platform": "telegram", "update_key": str(first + number),
             "processed_at": start + span * (number / count)}
            for number in range(offset, min(offset + CHUNK, count))
        ]  # fmt: skip
        async with engine.begin() as connection:
            await connection.execute(insert(ProcessedUpdate), rows)


async def run(updates: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="sangkien-bench-"))
    path = folder / "pruning.db"
    url = os.environ.get("BENCH_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    engine = create_engine(url)
    await upgrade_database(engine)
    sessions = session_factory(engine)
    now = dt.datetime(2022, 5, 1, tzinfo=dt.UTC)
    per_day = updates // DAYS
    await add_updates(engine, 0, updates, now - dt.timedelta(days=DAYS), dt.timedelta(days=DAYS))

    async def rows() -> int:
        async with sessions() as session:
            return await session.scalar(select(func.count()).select_from(ProcessedUpdate)) or 0

    def size() -> str:
        return f"{path.stat().st_size / 1e6:7.1f} MB" if path.exists() else "   (n/a)"

    print(f"\n{updates:,} handled updates over {DAYS} days ({per_day:,} a day); kept "
          f"{housekeeping.UPDATE_IDS_KEPT.days} days")  # fmt: skip
    print(f"  before pruning: {await rows():>9,} rows {size()}")
    started = time.perf_counter()
    deleted = await housekeeping.prune(sessions, now)
    print(f"  first prune:    {await rows():>9,} rows {size()}   {deleted.get('processed_update', 0):,} deleted "
          f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
    for day in range(1, 11):
        await add_updates(engine, updates + day * per_day, per_day, now, dt.timedelta(days=1))
        now += dt.timedelta(days=1)
        await housekeeping.prune(sessions, now)
        print(f"  day {day:2d}:         {await rows():>9,} rows {size()}")
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=1_000_000)
    asyncio.run(run(parser.parse_args().updates))


if __name__ == "__main__":
    main()
