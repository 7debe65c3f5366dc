"""Bulk data for the benchmarks: branches with quotas, one member each, initiatives over every state and
both phases of the campaign (recognised ones with a decision date, credited to their branch)."""

from __future__ import annotations

import datetime as dt
import os
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import load_config
from storage import campaigns
from storage.engine import create_engine, open_database, session_factory
from storage.models import Author, Branch, BranchQuota, Initiative, Member, Status
from tests.harness import ROOT
from tests.postgres import PostgresServer, postgres_unavailable_reason

CHUNK = 20_000
STATES = [Status.RECOGNISED] * 35 + [Status.REPORTED] * 10 + [Status.VERIFIED] * 10 + [Status.SUBMITTED] * 15
STATES += [Status.DRAFT] * 20 + [Status.CHANGES_REQUESTED] * 5 + [Status.REJECTED] * 5
DECIDED = (Status.VERIFIED, Status.RECOGNISED, Status.REPORTED, Status.REJECTED, Status.CHANGES_REQUESTED)


async def on_each_database(
    measure: Callable[[str, str], Awaitable[None]], file_name: str, labels: tuple[str, str], *, sqlite_only: bool
) -> None:
    """Run `measure(label, url)` on a fresh SQLite file, then on PostgreSQL: BENCH_POSTGRES_URL, else a
    throwaway local cluster (skipped, and said so, when there is none)."""
    folder = Path(tempfile.mkdtemp(prefix="sangkien-bench-"))
    await measure(labels[0], f"sqlite+aiosqlite:///{folder}/{file_name}")
    if sqlite_only:
        return
    external = os.environ.get("BENCH_POSTGRES_URL")
    if external:
        await measure(labels[1], external)
        return
    reason = postgres_unavailable_reason()
    if reason:
        print(f"\nPostgreSQL skipped: {reason}")
        return
    server = PostgresServer.start()
    try:
        await measure(labels[1], server.create_database())
    finally:
        server.stop()


async def fill(
    url: str,
    branches: int,
    initiatives: int,
    *,
    first_id: int = 1,
    with_authors: bool = False,
    upper_units: int = 0,
    schema: str | None = None,
) -> float:
    """The schema (migrated) and the data, branch and member ids from `first_id`; `with_authors`: each
    initiative's author row too (the export lists them); `upper_units`: that many upper units (no quota of
    their own) under one root, the branches shared among them (an organisation tree); `schema`: a tenant's
    PostgreSQL schema. Returns the seconds."""
    started = time.perf_counter()
    engine = await open_database(url, schema)
    random.seed(2022)
    phase_start = dt.datetime(2022, 2, 27, 17, tzinfo=dt.UTC)
    span = int((dt.datetime(2023, 9, 30, tzinfo=dt.UTC) - phase_start).total_seconds())
    ids = range(first_id, first_id + branches)
    async with engine.begin() as connection:
        if upper_units:
            root = first_id + branches + upper_units
            tree = [{"id": root, "code": "ROOT", "name": "LĐLĐ tỉnh", "is_sample": True, "parent_id": None}]
            tree += [{"id": first_id + branches + k, "code": f"U{k:04d}", "name": f"CĐ cấp trên số {k}",
                      "is_sample": True, "parent_id": root} for k in range(upper_units)]  # fmt: skip
            await connection.execute(insert(Branch), tree)
        branch_rows = [{"id": i, "code": f"B{i:05d}", "name": f"CĐCS số {i}", "is_sample": True,
                        "parent_id": first_id + branches + i % upper_units if upper_units else None}
                       for i in ids]  # fmt: skip
        await connection.execute(insert(Branch), branch_rows)
        quotas = [{"branch_id": i, "phase_code": code, "quota": random.randint(20, 80)}
                  for i in ids for code in ("p1", "p2")]  # fmt: skip
        await connection.execute(insert(BranchQuota), quotas)
        members = [{"id": i, "full_name": f"Đoàn Viên {i}", "branch_id": i} for i in ids]
        await connection.execute(insert(Member), members)
    for first in range(0, initiatives, CHUNK):
        rows = []
        for _ in range(first, min(first + CHUNK, initiatives)):
            branch = random.choice(ids)
            status = random.choice(STATES)
            moment = phase_start + dt.timedelta(seconds=random.randrange(span))
            counted = status in (Status.RECOGNISED, Status.REPORTED)
            rows.append({"member_id": branch, "branch_id": branch, "credited_branch_id": branch, "status": status,
                         "title": "Sáng kiến", "submitted_at": moment if status != Status.DRAFT else None,
                         "decided_at": moment if status in DECIDED else None, "editing_from_summary": False,
                         "recognition_date": moment.date() if counted else None,
                         "created_at": moment, "updated_at": moment})  # fmt: skip
        async with engine.begin() as connection:
            await connection.execute(insert(Initiative), rows)
            if with_authors:
                await _add_authors(connection, len(rows))
    if url.startswith("postgresql"):
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            tables = ", ".join(("branch", "branch_quota", "member", "initiative", "author"))
            await connection.exec_driver_sql(f"VACUUM ANALYZE {tables}" if schema else "VACUUM ANALYZE")
    else:
        async with engine.begin() as connection:
            await connection.exec_driver_sql("ANALYZE")
    await engine.dispose()
    return time.perf_counter() - started


async def _add_authors(connection: AsyncConnection, count: int) -> None:
    """The lead author (the submitter) of the last `count` initiatives inserted."""
    newest = select(Initiative.id, Initiative.member_id, Member.full_name, Initiative.branch_id).join(
        Member, Member.id == Initiative.member_id
    )
    rows = (await connection.execute(newest.order_by(Initiative.id.desc()).limit(count))).all()
    authors = [
        {"initiative_id": i, "position": 1, "full_name": name, "share_percent": 100, "member_id": member,
         "branch_id": branch, "is_lead": True, "confirmed": True}
        for i, member, name, branch in rows
    ]  # fmt: skip
    await connection.execute(insert(Author), authors)


async def store_campaign(url: str, schema: str | None = None) -> float:
    """What the bot does at its start: store the config's campaign, which counts the tally /progress reads
    (storage/tally.py) from the initiatives already there. Returns the seconds."""
    started = time.perf_counter()
    engine = create_engine(url, schema)
    async with session_factory(engine)() as session, session.begin():
        await campaigns.seed(session, load_config(ROOT / "config.toml", environ={}).campaign)
    await engine.dispose()
    return time.perf_counter() - started
