"""The tally /progress reads (storage/tally.py) against the plan's rule counted here in Python from every
initiative: after inserts, every kind of change the bot makes (status, decision date, credited branch,
branch — one row at a time and in bulk) and deletions; after a campaign is added or the config's phases
change; after its triggers were lost for a while; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections import Counter
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import delete, select, text, update

from bot.config import Campaign, Config, Phase
from storage import campaigns, progress, tally
from storage.engine import create_engine, session_factory, upgrade_database
from storage.models import COUNTED, IN_PROGRESS, Branch, BranchTally, Initiative, Member, Status

pytestmark = pytest.mark.asyncio

LATER = {
    "code": "2024", "name": "Sáng kiến 2024", "organisation": "LĐLĐ tỉnh", "timezone": "Asia/Ho_Chi_Minh",
    "eligible_from": dt.date(2023, 10, 1), "eligible_until": dt.date(2024, 12, 31), "total_target": 10,
    "phases": [{"code": "y2024", "name": "Năm 2024", "start": dt.date(2024, 1, 1), "end": dt.date(2024, 12, 31),
                "target": 10, "counts_from": dt.date(2023, 10, 1)}],
    "types": [{"code": "1.1", "label": "Giải pháp kỹ thuật", "explanation": "Mới."}],
}  # fmt: skip
LATER_CAMPAIGN = Campaign.model_validate(LATER)


@pytest_asyncio.fixture
async def world(database_url: str, config: Config) -> AsyncIterator:
    """Five branches with a member each, the config's campaign stored (as at the bot's start)."""
    engine = create_engine(database_url)
    factory = session_factory(engine)
    async with factory() as session, session.begin():
        await campaigns.seed(session, config.campaign)
        branches = [Branch(code=f"B{k}", name=f"CĐCS {k}") for k in range(5)]
        session.add_all(branches)
        await session.flush()
        session.add_all([Member(full_name=f"Đoàn viên {b.code}", branch_id=b.id) for b in branches])
    yield factory, [b.id for b in branches]
    await engine.dispose()


def expected(rows: list[Initiative], phase: Phase) -> dict[int | None, tuple[int, int, int, int]]:
    """Each branch's (recognised in the phase, waiting, pending, in progress), by the plan's rule (None:
    those credited to no branch)."""
    found: Counter[tuple[int | None, str]] = Counter()
    for row in rows:
        if row.status in COUNTED and row.recognition_date is not None and phase.counts(row.recognition_date):
            found[row.credited_branch_id, "recognised"] += 1
        elif row.status == Status.VERIFIED:
            found[row.credited_branch_id, "waiting"] += 1
        elif row.status == Status.SUBMITTED:
            found[row.branch_id, "pending"] += 1
        elif row.status in IN_PROGRESS:
            found[row.branch_id, "in_progress"] += 1
    return {
        branch: tuple(found[branch, kind] for kind in ("recognised", "waiting", "pending", "in_progress"))
        for branch in {b for b, _ in found}
    }


async def assert_tally_right(factory, branch_ids: list[int], *held: Campaign) -> None:
    """Each branch's figures and the totals of every phase of `held` as the plan's rule counts them."""
    async with factory() as session:
        rows = list((await session.scalars(select(Initiative))).all())
        for campaign in held:
            totals = await progress.campaign_totals(session, campaign, None)
            assert totals.by_phase == {p.code: sum(n[0] for n in expected(rows, p).values()) for p in campaign.phases}
        for phase in (phase for campaign in held for phase in campaign.phases):
            assert await tally.covered(session, [phase]), f"{phase.code} is read from the tally"
            shown = {
                unit.branch_id: (unit.recognised, unit.waiting, unit.pending, unit.in_progress)
                for unit in await progress.branch_progress(session, phase)
            }
            wanted = expected(rows, phase)
            assert shown == {b: wanted.get(b, (0, 0, 0, 0)) for b in branch_ids}, phase.code
            some = set(branch_ids[:2])
            scoped = await progress.branch_progress(session, phase, some)
            assert {u.branch_id: (u.recognised, u.waiting, u.pending, u.in_progress) for u in scoped} == {
                b: wanted.get(b, (0, 0, 0, 0)) for b in some
            }, f"{phase.code}, two branches"


def some_day(rng: random.Random) -> dt.date | None:
    """A decision date in phase 1's counting days, phase 2's, before, between or after them, or none."""
    if rng.random() < 0.15:
        return None
    return dt.date(2021, 6, 1) + dt.timedelta(days=rng.randrange(1400))


async def test_the_tally_follows_every_change_of_every_initiative(world, config: Config) -> None:
    factory, branch_ids = world
    rng = random.Random(15)
    statuses = list(Status)
    for _ in range(6):
        async with factory() as session, session.begin():
            for _ in range(25):
                branch = rng.choice(branch_ids)
                session.add(Initiative(
                    member_id=branch, branch_id=branch, status=rng.choice(statuses), recognition_date=some_day(rng),
                    credited_branch_id=rng.choice([*branch_ids, None]) if rng.random() < 0.5 else branch,
                ))  # fmt: skip
        async with factory() as session, session.begin():
            ids = list((await session.scalars(select(Initiative.id))).all())
            for initiative_id in rng.sample(ids, 20):  # one row at a time, as the handlers change them
                row = await session.get(Initiative, initiative_id)
                change = rng.randrange(5)
                if change == 0:
                    row.status = rng.choice(statuses)
                elif change == 1:
                    row.recognition_date = some_day(rng)
                elif change == 2:
                    row.credited_branch_id = rng.choice(branch_ids)
                elif change == 3:
                    row.branch_id = rng.choice(branch_ids)
                else:
                    row.status, row.recognition_date = rng.choice(COUNTED), some_day(rng)
                await session.flush()
            chosen = rng.sample(ids, 10)
            await session.execute(update(Initiative).where(Initiative.id.in_(chosen)).values(status=Status.VERIFIED))
            await session.execute(delete(Initiative).where(Initiative.id.in_(rng.sample(ids, 5))))
        await assert_tally_right(factory, branch_ids, config.campaign)
    async with factory() as session:
        uncredited = select(Initiative.id).where(
            Initiative.credited_branch_id.is_(None), Initiative.status.in_(COUNTED)
        )
        assert (await session.scalars(uncredited)).first(), "recognitions credited to no branch were counted too"


async def test_a_campaign_added_later_and_phases_edited_in_the_config_are_counted_again(world, config: Config) -> None:
    factory, branch_ids = world
    a, b = branch_ids[:2]
    p1, p2 = config.campaign.phases
    later_day = dt.date(2024, 3, 1)
    async with factory() as session, session.begin():
        for day in (later_day, later_day, p2.end, p1.end, p1.counting_from - dt.timedelta(days=1)):
            session.add(Initiative(member_id=a, branch_id=a, credited_branch_id=b, status=Status.RECOGNISED,
                                   recognition_date=day))  # fmt: skip
    async with factory() as session, session.begin():
        assert await tally.ensure(session, await campaigns.stored(session)) is None, "nothing changed"
        later: Campaign = await campaigns.add(session, LATER)
    await assert_tally_right(factory, branch_ids, config.campaign, later)
    async with factory() as session:
        (unit,) = await progress.branch_progress(session, later.phases[0], {b})
        assert unit.recognised == 2, "the recognitions of 2024 count in the campaign added for them"

    shorter = p2.model_copy(update={"end": p2.end - dt.timedelta(days=1)})
    edited = config.campaign.model_copy(update={"phases": (p1, shorter)})
    async with factory() as session, session.begin():
        await campaigns.seed(session, edited)  # the config's phase 2 now ends a day earlier
    await assert_tally_right(factory, branch_ids, edited, later)
    async with factory() as session:
        assert not await tally.covered(session, [p2]), "the old phase 2 is counted from the initiatives"
        (unit,) = await progress.branch_progress(session, p2, {b})
        assert unit.recognised == 1, "its last day still counts when asked about the old days"


async def test_triggers_lost_for_a_while_are_made_again_and_the_tally_counted_again(
    world, config: Config, database_url: str
) -> None:
    """A SQLite migration rebuilding `initiative` drops its triggers; changes made meanwhile are not in the
    tally — until the next start."""
    factory, branch_ids = world
    a, b = branch_ids[:2]
    p1 = config.campaign.phases[0]
    drop = ["DROP TRIGGER initiative_tally_insert", "DROP TRIGGER initiative_tally_update",
            "DROP TRIGGER initiative_tally_delete"] if database_url.startswith("sqlite") else [
            "DROP TRIGGER initiative_tally ON initiative"]  # fmt: skip
    async with factory() as session, session.begin():
        for statement in drop:
            await session.execute(text(statement))
        session.add_all([Initiative(member_id=a, branch_id=a, credited_branch_id=b, status=Status.RECOGNISED,
                                    recognition_date=p1.end), Initiative(member_id=a, branch_id=a)])  # fmt: skip
    async with factory() as session:
        (unit,) = await progress.branch_progress(session, p1, {b})
        assert unit.recognised == 0, "missed while the triggers were gone"
    async with factory() as session, session.begin():
        assert (
            await tally.ensure(session, await campaigns.stored(session)) == "the triggers were missing or out of date"
        )
    await assert_tally_right(factory, branch_ids, config.campaign)
    async with factory() as session, session.begin():  # and they keep it again
        row = (await session.scalars(select(Initiative).where(Initiative.status == Status.DRAFT))).one()
        row.status, row.credited_branch_id = Status.VERIFIED, b
    await assert_tally_right(factory, branch_ids, config.campaign)


async def test_a_tally_that_disagrees_with_the_initiatives_is_counted_again(world, config: Config) -> None:
    factory, branch_ids = world
    async with factory() as session, session.begin():
        session.add(Initiative(member_id=branch_ids[0], branch_id=branch_ids[0], status=Status.SUBMITTED))
    async with factory() as session, session.begin():
        await session.execute(update(BranchTally).values(n=BranchTally.n + 1))
    async with factory() as session, session.begin():
        assert (
            await tally.ensure(session, await campaigns.stored(session)) == "its totals disagreed with the initiatives"
        )
    await assert_tally_right(factory, branch_ids, config.campaign)


@pytest.mark.postgres
@pytest.mark.parametrize("cause", ["a campaign added", "triggers of another version"])
async def test_counting_again_while_the_bot_writes_makes_the_writer_wait_and_fails_neither(
    postgres_server, config: Config, cause: str
) -> None:
    """A bot's transaction has read an initiative when `ensure` (here `sangkien campaign add`, or a start
    after an upgrade) locks the table to count again; the bot's write then waits for the count — no
    deadlock, no error on either side, and the tally includes the write."""
    engine = create_engine(postgres_server.create_database())
    await upgrade_database(engine)
    factory = session_factory(engine)
    async with factory() as session, session.begin():
        await campaigns.seed(session, config.campaign)
        branch = Branch(code="B0", name="CĐCS 0")
        session.add(branch)
        await session.flush()
        session.add(Member(full_name="Đoàn viên", branch_id=branch.id))
        session.add(Initiative(member_id=branch.id, branch_id=branch.id, status=Status.SUBMITTED))
    if cause == "triggers of another version":
        async with factory() as session, session.begin():
            await session.execute(text(tally.POSTGRES_DDL[0].replace("-- CREATE OR REPLACE FUNCTION", "-- older")))
    counting_lock = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE c.relname = 'initiative' AND l.mode = 'ShareRowExclusiveLock' AND l.granted"
    )
    try:
        async with factory() as writer, writer.begin():
            row = (await writer.scalars(select(Initiative))).one()  # the bot has read it

            async def count_again() -> str | None:
                async with factory() as session, session.begin():
                    if cause == "a campaign added":
                        await campaigns.add(session, LATER)
                        return "added"
                    return await tally.ensure(session, await campaigns.stored(session))

            counting = asyncio.create_task(count_again())
            async with asyncio.timeout(30):
                while not counting.done():
                    async with factory() as observer:
                        if await observer.scalar(counting_lock):
                            break  # it holds the lock: the write below must wait for it
                    await asyncio.sleep(0.05)
            row.status = Status.VERIFIED
            row.credited_branch_id = branch.id
            await writer.flush()
        assert await asyncio.wait_for(counting, 30) in ("added", "the triggers were missing or out of date")
        held = (config.campaign, LATER_CAMPAIGN) if cause == "a campaign added" else (config.campaign,)
        await assert_tally_right(factory, [branch.id], *held)
    finally:
        await engine.dispose()
