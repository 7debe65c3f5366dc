"""The report's figures at their edges (storage/reports.py): the period's first and last instants in local
time, the recognition date against the submission time, every count of the summary, percentages, the
rows in batches with their authors and evidence. Small databases, exact answers (mutation-tested)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.config import Config, Phase
from storage.engine import create_engine, session_factory
from storage.models import Attachment, Author, Branch, BranchQuota, Initiative, Member, Status
from storage.reports import BranchFigures, ReportFilter, branch_figures, conditions, initiative_rows, to_enter

VN = dt.timezone(dt.timedelta(hours=7))


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=VN)


@pytest_asyncio.fixture
async def sessions(database_url: str) -> AsyncIterator:
    engine = create_engine(database_url)  # the database is migrated already (conftest)
    factory = session_factory(engine)
    async with factory() as session, session.begin():
        for code in ("C", "A", "B"):  # not in code order
            session.add(Branch(code=code, name=f"CĐCS {code}"))
        await session.flush()
        branch = {b.code: b for b in (await session.scalars(select(Branch))).all()}
        session.add_all([BranchQuota(branch_id=branch["A"].id, phase_code="p1", quota=4),
                         BranchQuota(branch_id=branch["A"].id, phase_code="p2", quota=3),
                         BranchQuota(branch_id=branch["B"].id, phase_code="p2", quota=0)])  # fmt: skip
        session.add_all([Member(full_name="Hoa", branch_id=branch["A"].id),
                         Member(full_name="Bình", branch_id=branch["B"].id)])  # fmt: skip
    yield factory, branch
    await engine.dispose()


def add(
    session,
    title: str,
    branch: Branch,
    status: Status,
    *,
    submitted: dt.datetime | None = None,
    recognised: dt.date | None = None,
    credited: Branch | None = None,
    member_id: int = 1,
) -> Initiative:
    kind = "council" if recognised else None
    initiative = Initiative(title=title, member_id=member_id, branch_id=branch.id,
                            credited_branch_id=(credited or branch).id, status=status, submitted_at=submitted,
                            recognition_date=recognised, recognition_kind=kind)  # fmt: skip
    session.add(initiative)
    return initiative


async def titles(factory, config: Config, report_filter: ReportFilter, keep=lambda row: True) -> list[str]:
    """`keep`: which rows a sheet takes (every one, or `to_enter`: the portal sheet's)."""
    async with factory() as session:
        return [row.values["title"] async for batch in initiative_rows(session, config.campaign, None, report_filter)
                for row in batch if keep(row)]  # fmt: skip


@pytest.mark.asyncio
async def test_a_period_runs_from_local_midnight_of_its_first_day_to_the_end_of_its_last(sessions, config) -> None:
    """Submitted: by the instant in Vietnam's time; recognised: by the decision's date, not the submission."""
    factory, branch = sessions
    a = branch["A"]
    async with factory() as session, session.begin():
        add(session, "before the first instant", a, Status.SUBMITTED, submitted=vn(2022, 3, 31, 23, 59, 59))
        add(session, "the first instant", a, Status.SUBMITTED, submitted=vn(2022, 4, 1))
        add(session, "the last second", a, Status.VERIFIED, submitted=vn(2022, 4, 30, 23, 59, 59))
        add(session, "the next day", a, Status.SUBMITTED, submitted=vn(2022, 5, 1))
        add(session, "recognised on the first day", a, Status.RECOGNISED, submitted=vn(2021, 1, 1),
            recognised=dt.date(2022, 4, 1))  # fmt: skip
        add(session, "reported on the last day", a, Status.REPORTED, submitted=vn(2021, 1, 1),
            recognised=dt.date(2022, 4, 30))  # fmt: skip
        add(session, "recognised the day before", a, Status.RECOGNISED, submitted=vn(2022, 4, 10),
            recognised=dt.date(2022, 3, 31))  # fmt: skip
        add(session, "recognised the day after", a, Status.RECOGNISED, submitted=vn(2022, 4, 10),
            recognised=dt.date(2022, 5, 1))  # fmt: skip
        add(session, "a draft", a, Status.DRAFT, submitted=None)
    april = ReportFilter(date_from=dt.date(2022, 4, 1), date_to=dt.date(2022, 4, 30))
    assert await titles(factory, config, april) == [
        "the first instant", "the last second", "recognised on the first day", "reported on the last day",
    ]  # fmt: skip
    since = ReportFilter(date_from=dt.date(2022, 4, 1))
    assert await titles(factory, config, since) == [
        "the first instant", "the last second", "the next day", "recognised on the first day",
        "reported on the last day", "recognised the day after",
    ]  # fmt: skip
    until = ReportFilter(date_to=dt.date(2022, 3, 31))
    assert await titles(factory, config, until) == ["before the first instant", "recognised the day before"]
    assert len(await titles(factory, config, ReportFilter())) == 8, "no period: everything but the draft"
    assert await titles(factory, config, ReportFilter(status=Status.VERIFIED)) == ["the last second"]
    assert await titles(factory, config, ReportFilter(), keep=to_enter) == [
        "recognised on the first day", "recognised the day before", "recognised the day after",
    ], "the portal sheet: recognised and not yet entered"  # fmt: skip
    async with factory() as session:
        counted = await session.scalars(
            select(Initiative.title).where(*conditions(ReportFilter(), config.campaign, with_drafts=True))
        )
        assert "a draft" in counted.all()


@pytest.mark.asyncio
async def test_rows_come_in_batches_with_their_authors_and_evidence_and_credited_branch_in_scope(
    sessions, config
) -> None:
    factory, branch = sessions
    a, b, c = branch["A"], branch["B"], branch["C"]
    async with factory() as session, session.begin():
        first = add(session, "one", a, Status.SUBMITTED, submitted=vn(2022, 4, 1))
        second = add(session, "two", b, Status.RECOGNISED, submitted=vn(2022, 4, 1), recognised=dt.date(2022, 4, 2),
                     credited=a, member_id=2)  # fmt: skip
        add(session, "three", c, Status.SUBMITTED, submitted=vn(2022, 4, 1))
        add(session, "four", a, Status.RECOGNISED, submitted=vn(2022, 4, 1), recognised=dt.date(2022, 4, 2),
            credited=c)  # fmt: skip
        second.decided_by_member_id = 1
        await session.flush()
        session.add_all([
            Author(initiative_id=second.id, full_name="Hoa", share_percent=60, member_id=1, position=1),
            Author(initiative_id=first.id, full_name="Hoa", share_percent=100, member_id=1, position=0),
            Author(initiative_id=second.id, full_name="Bình", share_percent=40, member_id=2, position=0, is_lead=True),
            Attachment(initiative_id=second.id, platform="telegram", file_id="F1", kind="document"),
            Attachment(initiative_id=first.id, platform="telegram", file_id="F0", kind="document"),
            Attachment(initiative_id=second.id, platform="telegram", file_id="F2", kind="photo"),
            Attachment(initiative_id=second.id, platform="telegram", file_id="S", kind="document", purpose="scan"),
        ])  # fmt: skip
    async with factory() as session:
        batches = [batch async for batch in initiative_rows(session, config.campaign, {a.id}, ReportFilter(), batch=1)]
        [together] = [batch async for batch in initiative_rows(session, config.campaign, {a.id}, ReportFilter())]
    titles = [[row.values["title"] for row in batch] for batch in batches]
    assert titles == [["one"], ["two"], ["four"]], "B's credited to A; A's credited to C"
    one, two, four = batches[0][0], batches[1][0], batches[2][0]
    assert (one.id, two.id) == (first.id, second.id)
    assert (four.authors, four.attachments) == ([], 0), "none of either"
    assert one.authors == [("Hoa", 100, False, True)] and one.attachments == 1
    assert two.authors == [("Bình", 40, True, True), ("Hoa", 60, False, False)], "in order; lead; the submitter"
    assert two.attachments == 2, "evidence only: the recognition's scan is not counted"
    assert two.values["branch"] == "CĐCS B" and two.values["credited_branch"] == "CĐCS A"
    assert (two.values["submitter"], two.values["decided_by"], one.values["decided_by"]) == ("Bình", "Hoa", None)
    assert [(row.values["title"], row.authors, row.attachments) for row in together] == [
        (row.values["title"], row.authors, row.attachments) for batch in batches for row in batch
    ], "in one batch, each row has its own authors and evidence"


@pytest.mark.asyncio
async def test_every_count_of_the_summary(sessions, config) -> None:
    factory, branch = sessions
    a, b = branch["A"], branch["B"]
    p1, p2 = config.campaign.phases
    async with factory() as session, session.begin():
        add(session, "p1 first day", a, Status.RECOGNISED, recognised=p1.counting_from, submitted=vn(2021, 9, 1))
        add(session, "p1 last day", a, Status.REPORTED, recognised=p1.end, submitted=vn(2021, 9, 1))
        add(session, "p2", b, Status.RECOGNISED, recognised=p2.start, credited=a, submitted=vn(2021, 9, 1))
        add(session, "after both", a, Status.RECOGNISED, recognised=p2.end + dt.timedelta(days=1),
            submitted=vn(2021, 9, 1))  # fmt: skip
        add(session, "before both", a, Status.RECOGNISED, recognised=p1.counting_from - dt.timedelta(days=1),
            submitted=vn(2021, 9, 1))  # fmt: skip
        add(session, "verified", a, Status.VERIFIED, submitted=vn(2022, 3, 1))
        add(session, "submitted by B", b, Status.SUBMITTED, submitted=vn(2022, 3, 1), credited=a)
        add(session, "sent back", b, Status.CHANGES_REQUESTED, submitted=vn(2022, 3, 1))
        add(session, "B's draft", b, Status.DRAFT)
        add(session, "rejected", a, Status.REJECTED, submitted=vn(2022, 3, 1))
    async with factory() as session:
        figures = {f.code: f for f in await branch_figures(session, config.campaign, None, ReportFilter())}
        only_b = await branch_figures(session, config.campaign, {b.id}, ReportFilter())
        march_only = ReportFilter(date_from=dt.date(2022, 3, 1), date_to=dt.date(2022, 3, 31))
        in_march = await branch_figures(session, config.campaign, None, march_only)
    fa, fb, fc = figures["A"], figures["B"], figures["C"]
    assert list(figures) == ["A", "B", "C"]
    assert (fa.quotas, fb.quotas, fc.quotas) == ({"p1": 4, "p2": 3}, {"p2": 0}, {})
    assert fa.recognised == {"p1": 2, "p2": 1} and fa.outside == 2, "credited to A; the days no phase counts"
    assert (fa.waiting, fa.reported, fa.pending, fa.in_progress) == (1, 1, 0, 0)
    assert (fb.recognised, fb.outside, fb.waiting, fb.reported) == ({}, 0, 0, 0)
    assert (fb.pending, fb.in_progress) == (1, 2), "submitted and in progress count where they were written"
    assert (fa.quota_total, fa.recognised_total) == (7, 5)
    assert [(f.code, f.quotas, f.pending, f.in_progress, f.recognised) for f in only_b] == [("B", {"p2": 0}, 1, 2, {})]
    march = {f.code: f for f in in_march}
    assert (march["A"].waiting, march["B"].pending, march["B"].in_progress, march["A"].recognised) == (
        1, 1, 1, {"p1": 0, "p2": 0}), "the draft has no submission: outside every period"  # fmt: skip


def test_percent_of_quota_by_phase_and_overall() -> None:
    p1 = Phase(code="p1", name="GĐ 1", start=dt.date(2022, 1, 1), end=dt.date(2022, 6, 30), target=10)
    p2 = Phase(code="p2", name="GĐ 2", start=dt.date(2022, 7, 1), end=dt.date(2022, 12, 31), target=10)
    figures = BranchFigures("A", "A", quotas={"p1": 3, "p2": 0}, recognised={"p1": 2, "p2": 1}, outside=1)
    assert figures.percent(p1) == 66.7
    assert figures.percent(p2) == 100.0, "a quota of 0 and something recognised: done"
    assert figures.percent(None) == 133.3, "overall: 4 of 3"
    assert BranchFigures("B", "B", quotas={"p1": 2}).percent(p1) == 0.0
    assert BranchFigures("C", "C").percent(None) == 0.0, "no quota, nothing recognised"
    assert BranchFigures("D", "D", quotas={"p1": 8}, recognised={"p1": 1}).percent(p1) == 12.5
    assert BranchFigures("E", "E", quotas={"p1": 1}, recognised={"p1": 2}).percent(p1) == 200.0
    assert BranchFigures("F", "F", recognised={"p1": 2}).percent(p1) == 100.0, "no quota in the phase"
