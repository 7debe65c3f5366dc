"""The progress figures at their edges (storage/progress.py): the days no phase counts, each count of a
branch in and out of scope, the daily series, the totals and who submitted. Small databases, exact
answers (mutation-tested); test_progress.py covers the texts and the chart."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.config import Config, Phase
from storage import campaigns, progress, tally
from storage.engine import create_engine, session_factory
from storage.models import Branch, BranchQuota, Initiative, Member, Status

DAY = dt.timedelta(days=1)


def phase(code: str, start: dt.date, end: dt.date, counts_from: dt.date | None = None) -> Phase:
    return Phase(code=code, name=code, start=start, end=end, target=10, counts_from=counts_from)


def gaps(config: Config, phases: list[Phase]) -> list[tuple[dt.date | None, dt.date | None]]:
    return progress._gaps(config.campaign.model_copy(update={"phases": phases}))


def test_the_days_no_phase_counts(config: Config) -> None:
    d = dt.date
    adjacent = [phase("p1", d(2022, 2, 28), d(2022, 5, 31), counts_from=d(2021, 9, 1)),
                phase("p2", d(2022, 6, 1), d(2023, 9, 30))]  # fmt: skip
    assert gaps(config, adjacent) == [(None, d(2021, 8, 31)), (d(2023, 10, 1), None)]
    one_day_apart = [phase("p2", d(2022, 6, 2), d(2022, 12, 31)), phase("p1", d(2022, 1, 1), d(2022, 5, 31))]
    assert gaps(config, one_day_apart) == [
        (None, d(2021, 12, 31)), (d(2022, 6, 1), d(2022, 6, 1)), (d(2023, 1, 1), None),
    ], "sorted by where they start; a gap of one day"  # fmt: skip
    nested = [phase("p1", d(2022, 1, 1), d(2022, 12, 31)), phase("p2", d(2022, 3, 1), d(2022, 4, 30)),
              phase("p3", d(2023, 1, 10), d(2023, 2, 28))]  # fmt: skip
    assert gaps(config, nested) == [
        (None, d(2021, 12, 31)), (d(2023, 1, 1), d(2023, 1, 9)), (d(2023, 3, 1), None),
    ], "a phase inside another leaves the outer one's end covered"  # fmt: skip
    assert gaps(config, []) == [(None, None)]


@pytest_asyncio.fixture(params=["counted", "tallied"])
async def sessions(request: pytest.FixtureRequest, database_url: str, config: Config) -> AsyncIterator:
    """Three branches; `tallied`: the config's campaign stored first, as at the bot's start, so its phases'
    figures come from the tally the database keeps (storage/tally.py), not from counting initiatives."""
    engine = create_engine(database_url)  # migrated already (conftest)
    factory = session_factory(engine)
    async with factory() as session, session.begin():
        if request.param == "tallied":
            await campaigns.seed(session, config.campaign)
            assert await tally.covered(session, config.campaign.phases) == {"p1", "p2"}
        for code in ("C", "A", "B"):  # not in code order
            session.add(Branch(code=code, name=f"CĐCS {code}"))
        await session.flush()
        branch = {b.code: b for b in (await session.scalars(select(Branch))).all()}
        session.add_all([BranchQuota(branch_id=branch["A"].id, phase_code="p1", quota=4),
                         BranchQuota(branch_id=branch["A"].id, phase_code="p2", quota=7),
                         BranchQuota(branch_id=branch["B"].id, phase_code="p2", quota=2)])  # fmt: skip
        for name, code in (("Hoa", "A"), ("Bình", "A"), ("An", "A"), ("Cúc", "B"), ("An", "A"), ("Dũng", "A")):
            session.add(Member(full_name=name, branch_id=branch[code].id))
    yield factory, branch
    await engine.dispose()


def add(session, branch: Branch, status: Status, recognised: dt.date | None = None, *, credited: Branch | None = None,
        member_id: int = 1, submitted: bool = True) -> None:  # fmt: skip
    session.add(Initiative(member_id=member_id, branch_id=branch.id, credited_branch_id=(credited or branch).id,
                           status=status, recognition_date=recognised,
                           submitted_at=dt.datetime(2022, 1, 1, tzinfo=dt.UTC) if submitted else None))  # fmt: skip


@pytest.mark.asyncio
async def test_each_count_of_each_branch_in_and_out_of_scope(sessions, config: Config) -> None:
    factory, branch = sessions
    a, b, c = branch["A"], branch["B"], branch["C"]
    p1, p2 = config.campaign.phases
    async with factory() as session, session.begin():
        add(session, a, Status.RECOGNISED, p1.counting_from)
        add(session, a, Status.REPORTED, p1.end)
        add(session, b, Status.RECOGNISED, p1.end, credited=a)  # counts for the credited branch
        add(session, a, Status.RECOGNISED, p1.counting_from - DAY)  # before phase 1 counts
        add(session, a, Status.RECOGNISED, p2.start)  # phase 2's
        add(session, a, Status.VERIFIED, p1.end)  # a date, but not recognised: waiting
        add(session, b, Status.VERIFIED, credited=a)
        add(session, a, Status.SUBMITTED, credited=b)  # pending where it was submitted
        add(session, b, Status.SUBMITTED)
        add(session, b, Status.DRAFT, submitted=False)
        add(session, b, Status.CHANGES_REQUESTED)
        add(session, c, Status.REJECTED)
    async with factory() as session:
        everyone = await progress.branch_progress(session, p1)
        only_a = await progress.branch_progress(session, p1, {a.id})
        phase_two = await progress.branch_progress(session, p2, {a.id, b.id})
    assert [(r.branch_id, r.code, r.name) for r in everyone] == [(a.id, "A", "CĐCS A"), (b.id, "B", "CĐCS B"),
                                                                  (c.id, "C", "CĐCS C")]  # fmt: skip
    counts = {r.code: (r.quota, r.recognised, r.waiting, r.pending, r.in_progress) for r in everyone}
    assert counts == {"A": (4, 3, 2, 1, 0), "B": (0, 0, 0, 1, 2), "C": (0, 0, 0, 0, 0)}
    assert [(r.code, r.quota, r.recognised, r.waiting, r.pending) for r in only_a] == [("A", 4, 3, 2, 1)]
    assert [(r.code, r.quota, r.recognised) for r in phase_two] == [("A", 7, 1), ("B", 2, 0)]


@pytest.mark.asyncio
async def test_totals_the_daily_series_and_who_submitted(sessions, config: Config) -> None:
    factory, branch = sessions
    a, b = branch["A"], branch["B"]
    p1, p2 = config.campaign.phases
    async with factory() as session, session.begin():
        add(session, a, Status.RECOGNISED, p1.counting_from)
        add(session, a, Status.REPORTED, p1.counting_from)  # the same day, another status: one day of 2
        add(session, b, Status.RECOGNISED, p1.end, member_id=4)
        add(session, a, Status.RECOGNISED, p1.counting_from - DAY)  # outside, before
        add(session, b, Status.REPORTED, p2.end + DAY, member_id=4)  # outside, after
        add(session, a, Status.RECOGNISED, p2.end)
        add(session, a, Status.VERIFIED, p1.end)  # dated but not recognised: nowhere
        add(session, a, Status.RECOGNISED, None)  # no date: nowhere
        add(session, a, Status.SUBMITTED, member_id=2)
        add(session, a, Status.SUBMITTED, member_id=3)
        add(session, a, Status.SUBMITTED, member_id=3)
        add(session, a, Status.DRAFT, member_id=2, submitted=False)
        add(session, a, Status.SUBMITTED, member_id=5)  # another An: counted apart from the first
        add(session, a, Status.SUBMITTED, member_id=6)  # Dũng: one, as Bình and the second An — by name
        add(session, b, Status.VERIFIED, p2.end + DAY, member_id=4)  # dated outside every phase: not recognised
    async with factory() as session:
        totals = await progress.campaign_totals(session, config.campaign, None)
        totals_b = await progress.campaign_totals(session, config.campaign, {b.id})
        days = await progress.daily_recognitions(session, p1)
        days_b = await progress.daily_recognitions(session, p1, {b.id})
        names_a = await progress.submitters(session, a.id)
        names_b = await progress.submitters(session, b.id)
        outside = await session.scalars(
            select(Initiative.id).where(progress.recognised_outside(config.campaign)).order_by(Initiative.id)
        )
    assert (totals.by_phase, totals.outside, totals.recognised) == ({"p1": 3, "p2": 1}, 2, 6)
    assert (totals_b.by_phase, totals_b.outside) == ({"p1": 1, "p2": 0}, 1)
    assert days == [(p1.counting_from, 2), (p1.end, 1)]
    assert days_b == [(p1.end, 1)]
    assert names_a == [("Hoa", 6), ("An", 2), ("An", 1), ("Bình", 1), ("Dũng", 1)], "most first, then by name"
    assert names_b == [("Cúc", 3)]
    assert outside.all() == [4, 5], "before and after every phase; neither a dateless nor a verified one"
