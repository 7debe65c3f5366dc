"""Benchmark: 34 tenants (the provinces of the plan's national shape) × 500 units × 1,000 initiatives each,
on one PostgreSQL (a schema per tenant) and on SQLite (a file per tenant).

Each tenant gets a tree of its own (one root, 20 upper units, 479 CĐCS with quotas) and its initiatives
spread over every state and both phases. Then one tenant's root is measured with the others' data beside it:
its admin's `/progress` (every unit ranked, totals) and its whole `/export` workbook, built as the report
worker builds it. Prints the median and the slowest of several runs; targets as in the performance issue
(/progress < 300 ms, an export far under its 10 s). Not a pass/fail test.
Run: `make bench-tenants` (options: --tenants, --units, --initiatives, --sqlite-only).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import time

from bench.data import fill, on_each_database, store_campaign
from bot.config import load_config
from handlers import progress
from handlers.i18n import catalog
from handlers.reports import excel
from handlers.reports.scope import parse_filter
from storage.engine import create_engine, reading_engine, session_factory
from tests.harness import ROOT

RUNS = 5
UPPER_UNITS = 20


def place(url: str, tenant: int) -> tuple[str, str | None]:
    """Where tenant number `tenant` keeps its data: a file beside `url` (SQLite) or a schema (PostgreSQL)."""
    if url.startswith("sqlite"):
        return url.replace(".db", f".t{tenant:02d}.db"), None
    return url, f"tenant_t{tenant:02d}"


async def measure(url: str, schema: str | None) -> tuple[list[float], list[float], int]:
    config = load_config(ROOT / "config.toml", environ={})
    campaign, t, today = config.campaign, catalog("vi"), dt.date(2022, 4, 20)
    engine = create_engine(url, schema)
    reader = reading_engine(engine)
    sessions, reads = session_factory(engine), session_factory(reader)
    shown, exports, size = [], [], 0
    try:
        for _ in range(RUNS):
            started = time.perf_counter()
            async with sessions() as session:
                view = await progress.load(session, campaign, today, None)
            progress.province_text(t, view)
            shown.append(time.perf_counter() - started)
            started = time.perf_counter()
            request = excel.ReportRequest(campaign, None, parse_filter("", campaign), campaign.organisation, today,
                                          campaign.place)  # fmt: skip
            async with reads() as session:
                size = len(await excel.build(session, request))
            exports.append(time.perf_counter() - started)
    finally:
        if reader is not engine:
            await reader.dispose()
        await engine.dispose()
    return shown, exports, size


def line(label: str, seconds: list[float], target: str) -> str:
    median, slowest = statistics.median(seconds) * 1000, max(seconds) * 1000
    return f"  {label:<40} median {median:8.0f} ms   slowest {slowest:8.0f} ms   ({target})"


async def bench(name: str, url: str, tenants: int, units: int, initiatives: int) -> None:
    branches = units - UPPER_UNITS - 1
    started = time.perf_counter()
    for tenant in range(1, tenants + 1):
        tenant_url, schema = place(url, tenant)
        await fill(tenant_url, branches, initiatives, upper_units=UPPER_UNITS, schema=schema, with_authors=True)
        await store_campaign(tenant_url, schema)  # as the bot does for each tenant at its start
    filled = time.perf_counter() - started
    measured = tenants // 2 or 1  # one in the middle: tenants filled before and after it
    shown, exports, size = await measure(*place(url, measured))
    print(f"\n{name}: {tenants} tenants × {units} units × {initiatives:,} initiatives (filled in {filled:.0f} s); "
          f"tenant {measured}'s root, {RUNS} runs")  # fmt: skip
    print(line("/progress: every unit ranked + totals", shown, "target < 300 ms"))
    print(line(f"/export: the whole workbook ({size // 1024} KB)", exports, "target < 10 s"))


async def run(tenants: int, units: int, initiatives: int, sqlite_only: bool) -> None:
    async def measure(name: str, url: str) -> None:
        await bench(name, url, tenants, units, initiatives)

    labels = ("SQLite (a file per tenant)", "PostgreSQL (a schema per tenant)")
    await on_each_database(measure, "tenants.db", labels, sqlite_only=sqlite_only)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=34)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--initiatives", type=int, default=1_000)
    parser.add_argument("--sqlite-only", action="store_true")
    arguments = parser.parse_args()
    asyncio.run(run(arguments.tenants, arguments.units, arguments.initiatives, arguments.sqlite_only))


if __name__ == "__main__":
    main()
