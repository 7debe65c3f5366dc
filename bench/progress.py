"""Benchmark: the progress report over 1,000,000 initiatives in 10,000 branches, on SQLite and PostgreSQL.

Fills a fresh database of each kind in bulk (branches with quotas, one member per branch, initiatives
spread over every state and over the campaign's two phases), then times what `/progress` does for an
admin (every branch ranked, totals, the chart) and for a member (one branch). Prints the median and the
slowest of several runs. PostgreSQL is a throwaway local cluster (Debian's `postgresql`), or
BENCH_POSTGRES_URL. Not a pass/fail test. Run: `make bench-progress` (options: --initiatives, --branches).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from bot.config import load_config
from handlers import progress
from handlers.i18n import catalog
from storage.engine import create_engine, session_factory, upgrade_database
from storage.models import Branch, BranchQuota, Initiative, Member, Status
from tests.harness import ROOT
from tests.postgres import PostgresServer, postgres_unavailable_reason

CHUNK = 20_000
STATES = [Status.APPROVED] * 45 + [Status.REPORTED] * 10 + [Status.SUBMITTED] * 15 + [Status.DRAFT] * 20
STATES += [Status.CHANGES_REQUESTED] * 5 + [Status.REJECTED] * 5
RUNS = 5


async def fill(url: str, branches: int, initiatives: int) -> float:
    """A fresh schema and the data; returns the seconds it took."""
    started = time.perf_counter()
    engine = create_engine(url)
    await upgrade_database(engine)
    random.seed(2022)
    phase_start = dt.datetime(2022, 2, 27, 17, tzinfo=dt.UTC)
    span = int((dt.datetime(2023, 9, 30, tzinfo=dt.UTC) - phase_start).total_seconds())
    async with engine.begin() as connection:
        branch_rows = [{"id": i, "code": f"B{i:05d}", "name": f"CĐCS số {i}", "is_sample": True}
                       for i in range(1, branches + 1)]  # fmt: skip
        await connection.execute(insert(Branch), branch_rows)
        quotas = [{"branch_id": i, "phase_code": code, "quota": random.randint(20, 80)}
                  for i in range(1, branches + 1) for code in ("p1", "p2")]  # fmt: skip
        await connection.execute(insert(BranchQuota), quotas)
        members = [{"id": i, "full_name": f"Đoàn Viên {i}", "branch_id": i} for i in range(1, branches + 1)]
        await connection.execute(insert(Member), members)
    for first in range(0, initiatives, CHUNK):
        rows = []
        for _ in range(first, min(first + CHUNK, initiatives)):
            branch = random.randint(1, branches)
            status = random.choice(STATES)
            moment = phase_start + dt.timedelta(seconds=random.randrange(span))
            decided = status in (Status.APPROVED, Status.REPORTED, Status.REJECTED, Status.CHANGES_REQUESTED)
            rows.append({"member_id": branch, "branch_id": branch, "status": status, "title": "Sáng kiến",
                         "submitted_at": moment if status != Status.DRAFT else None,
                         "decided_at": moment if decided else None, "editing_from_summary": False,
                         "created_at": moment, "updated_at": moment})  # fmt: skip
        async with engine.begin() as connection:
            await connection.execute(insert(Initiative), rows)
    if url.startswith("postgresql"):
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.exec_driver_sql("VACUUM ANALYZE")
    else:
        async with engine.begin() as connection:
            await connection.exec_driver_sql("ANALYZE")
    await engine.dispose()
    return time.perf_counter() - started


async def measure(url: str) -> tuple[list[float], list[float], list[float]]:
    config = load_config(ROOT / "config.toml", environ={})
    t = catalog("vi")
    today = dt.date(2022, 4, 20)
    engine = create_engine(url)
    sessions = session_factory(engine)
    admin_text, admin_chart, member = [], [], []
    try:
        for _ in range(RUNS):
            started = time.perf_counter()
            async with sessions() as session:
                view = await progress.load(session, config.campaign, today, None)
            progress.province_text(t, view)
            admin_text.append(time.perf_counter() - started)
            started = time.perf_counter()
            await progress.chart_reply(t, view, province=True)
            admin_chart.append(time.perf_counter() - started)
            started = time.perf_counter()
            async with sessions() as session:
                mine = await progress.load(session, config.campaign, today, {random.randint(1, len(view.branches))})
            progress.branch_text(t, mine, mine.branches[0], with_counts=True)
            member.append(time.perf_counter() - started)
    finally:
        await engine.dispose()
    return admin_text, admin_chart, member


def line(label: str, seconds: list[float]) -> str:
    return f"  {label:<38} median {statistics.median(seconds) * 1000:8.0f} ms   slowest {max(seconds) * 1000:8.0f} ms"


async def bench(name: str, url: str, branches: int, initiatives: int) -> None:
    filled = await fill(url, branches, initiatives)
    admin_text, admin_chart, member = await measure(url)
    print(f"\n{name}: {initiatives:,} initiatives in {branches:,} branches (filled in {filled:.0f} s), {RUNS} runs")
    print(line("admin: all branches ranked + totals", admin_text))
    print(line("admin: the chart (PNG)", admin_chart))
    print(line("member: their branch", member))


async def run(branches: int, initiatives: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="sangkien-bench-"))
    await bench("SQLite", f"sqlite+aiosqlite:///{folder}/progress.db", branches, initiatives)
    external = os.environ.get("BENCH_POSTGRES_URL")
    if external:
        await bench("PostgreSQL", external, branches, initiatives)
        return
    reason = postgres_unavailable_reason()
    if reason:
        print(f"\nPostgreSQL skipped: {reason}")
        return
    server = PostgresServer.start()
    try:
        await bench("PostgreSQL", server.create_database(), branches, initiatives)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--branches", type=int, default=10_000)
    parser.add_argument("--initiatives", type=int, default=1_000_000)
    arguments = parser.parse_args()
    asyncio.run(run(arguments.branches, arguments.initiatives))


if __name__ == "__main__":
    main()
