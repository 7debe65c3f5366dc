"""Benchmark: the progress report over 1,000,000 initiatives in 10,000 branches, on SQLite and PostgreSQL.

Fills a fresh database of each kind in bulk (branches with quotas, one member per branch, initiatives
spread over every state and over the campaign's two phases), then times what `/progress` does for an
admin (every branch ranked, totals, the chart) and for a member (one branch), after storing the config's
campaign as the bot does at its start (which counts the tally /progress reads: storage/tally.py). Prints
the median and the slowest of several runs. PostgreSQL is a throwaway local cluster (Debian's `postgresql`), or
BENCH_POSTGRES_URL. Not a pass/fail test. Run: `make bench-progress` (options: --initiatives, --branches).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import random
import statistics
import time

from bench.data import fill, on_each_database, store_campaign
from bot.config import load_config
from handlers import paging, progress
from handlers.i18n import catalog
from storage import queries
from storage.engine import create_engine, session_factory
from tests.harness import ROOT

RUNS = 5


async def measure(url: str) -> tuple[list[float], list[float], list[float], list[float]]:
    config = load_config(ROOT / "config.toml", environ={})
    t = catalog("vi")
    today = dt.date(2022, 4, 20)
    engine = create_engine(url)
    sessions = session_factory(engine)
    admin_text, admin_chart, member, units = [], [], [], []
    gc.freeze()  # as the bot does once started (bot/app.py): the full passes skip what lives as long as it
    try:
        for _ in range(RUNS):
            started = time.perf_counter()
            async with sessions() as session:
                view = await progress.load(session, config.campaign, today, None)
            progress.province_text(t, view)
            admin_text.append(time.perf_counter() - started)
            started = time.perf_counter()
            await progress.chart_reply(t, view)
            admin_chart.append(time.perf_counter() - started)
            started = time.perf_counter()
            async with sessions() as session:
                mine = await progress.load(session, config.campaign, today, {random.randint(1, len(view.branches))})
            progress.branch_text(t, mine, mine.branches[0], with_counts=True)
            member.append(time.perf_counter() - started)
            started = time.perf_counter()
            async with sessions() as session:  # a newcomer's registration list, then a unit searched by name
                paging.page_of(await queries.branches_matching(session, ""), 3, config.settings.branches_per_page)
                await queries.branches_matching(session, f"cdcs {random.randint(1, len(view.branches))}")
            units.append(time.perf_counter() - started)
    finally:
        await engine.dispose()
    return admin_text, admin_chart, member, units


def line(label: str, seconds: list[float]) -> str:
    return f"  {label:<38} median {statistics.median(seconds) * 1000:8.0f} ms   slowest {max(seconds) * 1000:8.0f} ms"


async def bench(name: str, url: str, branches: int, initiatives: int, upper_units: int) -> None:
    filled = await fill(url, branches, initiatives, upper_units=upper_units)
    tallied = await store_campaign(url)
    admin_text, admin_chart, member, units = await measure(url)
    shape = f" under {upper_units:,} upper units and one root" if upper_units else ""
    print(f"\n{name}: {initiatives:,} initiatives in {branches:,} branches{shape} (filled in {filled:.0f} s, "
          f"the tally counted at start in {tallied:.1f} s), {RUNS} runs")  # fmt: skip
    print(line("admin: all branches ranked + totals", admin_text) + "   (target < 300 ms)")
    print(line("admin: the chart (PNG)", admin_chart))
    print(line("member: their branch", member))
    print(line("newcomer: a unit list page, a search", units) + "   (the slowest: the first, reading the units)")


async def run(branches: int, initiatives: int, upper_units: int, sqlite_only: bool) -> None:
    async def measure(name: str, url: str) -> None:
        await bench(name, url, branches, initiatives, upper_units)

    await on_each_database(measure, "progress.db", ("SQLite", "PostgreSQL"), sqlite_only=sqlite_only)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--branches", type=int, default=10_000)
    parser.add_argument("--initiatives", type=int, default=1_000_000)
    parser.add_argument("--upper-units", type=int, default=0, help="an organisation tree: branches under these")
    parser.add_argument("--sqlite-only", action="store_true")
    arguments = parser.parse_args()
    asyncio.run(run(arguments.branches, arguments.initiatives, arguments.upper_units, arguments.sqlite_only))


if __name__ == "__main__":
    main()
