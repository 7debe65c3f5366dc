"""Campaign progress as SQL aggregates, following the plan's counting rule, never rows in memory.

Only recognised initiatives count (plan IV.3: "sáng kiến chưa được cấp có thẩm quyền công nhận" do not):
status recognised or entered on the portal, with a recognition date. Each counts in the phase whose
counting window holds that date (phase 1 counts from 01/09/2021), for the branch of its credited author
(plan IV.2.5). Verified initiatives without a recognition are "chờ công nhận"; a recognition dated outside
every phase is counted apart ("ngoài các giai đoạn"), never dropped. Submitted and in-progress work is the
branch's it was submitted to (that branch's chairs verify it).

These queries serve /progress, the digests, the Excel summary and the chart — the same numbers everywhere
— and the benchmark over 1,000,000 initiatives: the per-branch figures of a stored campaign's phase come
from the tally the database keeps (storage/tally.py); the rest is one GROUP BY or count over an index
holding every column it reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import ColumnElement, ScalarSelect, Subquery, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.config import Campaign, Phase
from storage import org_tree, tally
from storage.initiative_import import IMPORTER_NAME
from storage.models import COUNTED, IN_PROGRESS, Author, Branch, BranchQuota, Initiative, Member, Status


class BranchProgress(NamedTuple):
    """One unit's figures (a tuple: ten thousand are built for a province's /progress, a frozen dataclass
    took ten times as long to make)."""

    branch_id: int
    code: str
    name: str
    quota: int
    recognised: int  # in the phase: what counts
    waiting: int  # verified by a chair, not recognised yet
    pending: int  # submitted, waiting for a chair
    in_progress: int  # drafts and initiatives sent back for changes
    parent_id: int | None = None

    @property
    def percent(self) -> int:
        """Recognised as a whole percentage of the quota (a branch without a quota counts as done if it has any)."""
        if self.quota <= 0:
            return 100 if self.recognised else 0
        return round(100 * self.recognised / self.quota)


def recognised_in(phase: Phase) -> ColumnElement[bool]:
    return and_(
        Initiative.status.in_(COUNTED),
        Initiative.recognition_date >= phase.counting_from,
        Initiative.recognition_date <= phase.end,
    )


def recognised_outside(campaign: Campaign) -> ColumnElement[bool]:
    """Recognised, but on a day no phase counts (a gap between phases, or after the last), within the
    campaign's territory (the days no other campaign reports)."""
    inside = or_(*(Initiative.recognition_date.between(p.counting_from, p.end) for p in campaign.phases))
    found = [Initiative.status.in_(COUNTED), ~inside]  # a missing date is in no range: NOT (NULL) is not true
    if campaign.territory_from is not None:
        found.append(Initiative.recognition_date >= campaign.territory_from)
    if campaign.territory_until is not None:
        found.append(Initiative.recognition_date <= campaign.territory_until)
    return and_(*found)


async def branch_progress(
    session: AsyncSession, phase: Phase, branch_ids: set[int] | None = None
) -> list[BranchProgress]:
    """Every unit in scope with its quota for the phase and its initiatives counted by state, rolled up
    the tree within the scope (storage/org_tree.py): a unit's figures include its descendants'.

    A stored campaign's phase reads the tally the database keeps (storage/tally.py): four rows per
    branch. Any other phase is counted from the initiatives: four small counts, each led by the status (and
    for the recognised, the decision date), reading only its own rows from a covering index. Either way the
    database joins them to the branches, and only one row per branch comes back."""
    if await tally.covered(session, [phase]):
        buckets = (tally.recognised_bucket(phase), tally.WAITING, tally.PENDING, tally.IN_PROGRESS_BUCKET)
        counts = tuple(tally.counts(bucket, branch_ids) for bucket in buckets)
    else:
        counts = (
            _counts(Initiative.credited_branch_id, recognised_in(phase), branch_ids),
            _counts(Initiative.credited_branch_id, Initiative.status == Status.VERIFIED, branch_ids),
            _counts(Initiative.branch_id, Initiative.status == Status.SUBMITTED, branch_ids),
            _counts(Initiative.branch_id, Initiative.status.in_(IN_PROGRESS), branch_ids),
        )
    query = select(
        Branch.id, Branch.code, Branch.name, BranchQuota.quota,
        *(func.coalesce(count.c.n, 0) for count in counts), Branch.parent_id,
    ).outerjoin(BranchQuota, (BranchQuota.branch_id == Branch.id) & (BranchQuota.phase_code == phase.code))  # fmt: skip
    for count in counts:
        query = query.outerjoin(count, count.c.branch_id == Branch.id)
    if branch_ids is not None:
        query = query.where(Branch.id.in_(branch_ids))
    rows = (await session.execute(query.order_by(Branch.code))).all()
    own = {row[0]: BranchProgress(*row) for row in rows}
    parents = {unit.branch_id: unit.parent_id for unit in own.values()}
    if not any(parent in own for parent in parents.values() if parent is not None):  # flat: nothing rolls up
        return [unit if unit.quota is not None else unit._replace(quota=0) for unit in own.values()]
    rolled = org_tree.roll_up(own, parents, _with_children)
    return [rolled[unit] for unit in own]  # in code order


def _with_children(unit: BranchProgress, children: list[BranchProgress]) -> BranchProgress:
    """A unit's own figures plus its children's; its quota is its own if set, else the children's sum."""
    quota = unit.quota if unit.quota is not None else sum(child.quota for child in children)
    return unit._replace(
        quota=quota,
        recognised=unit.recognised + sum(child.recognised for child in children),
        waiting=unit.waiting + sum(child.waiting for child in children),
        pending=unit.pending + sum(child.pending for child in children),
        in_progress=unit.in_progress + sum(child.in_progress for child in children),
    )


def _counts(
    branch: InstrumentedAttribute[int | None], condition: ColumnElement[bool], branch_ids: set[int] | None
) -> Subquery:
    """Initiatives matching `condition` per branch (`branch`: the credited one or the submitting one)."""
    query = select(branch.label("branch_id"), func.count().label("n")).where(condition).group_by(branch)
    if branch_ids is not None:
        query = query.where(branch.in_(branch_ids))
    return query.subquery()


@dataclass(frozen=True)
class CampaignTotals:
    """Recognised per phase, outside every phase, and in all (against the campaign's total target)."""

    by_phase: dict[str, int]
    outside: int

    @property
    def recognised(self) -> int:
        return sum(self.by_phase.values()) + self.outside


async def campaign_totals(session: AsyncSession, campaign: Campaign, branch_ids: set[int] | None) -> CampaignTotals:
    """Recognised per phase and outside every phase, all in one statement: a stored phase's from the tally,
    the rest each a count over a range of decision dates (an index seek); never a test of every recognised
    initiative against every phase."""
    outside = [_recognised_between(start, end, branch_ids) for start, end in _gaps(campaign)]
    tallied = await tally.covered(session, campaign.phases)
    counts = [
        tally.total(tally.recognised_bucket(p), branch_ids)
        if p.code in tallied
        else _recognised_between(p.counting_from, p.end, branch_ids)
        for p in campaign.phases
    ]
    *per_phase, outside_total = (await session.execute(select(*counts, sum(outside)))).one()
    return CampaignTotals({p.code: n for p, n in zip(campaign.phases, per_phase, strict=True)}, outside_total)


def _recognised_between(start: dt.date | None, end: dt.date | None, branch_ids: set[int] | None) -> ScalarSelect[int]:
    query = select(func.count()).where(Initiative.status.in_(COUNTED))  # a campaign has a phase: both ends never open
    if start is not None:
        query = query.where(Initiative.recognition_date >= start)
    if end is not None:
        query = query.where(Initiative.recognition_date <= end)
    if branch_ids is not None:
        query = query.where(Initiative.credited_branch_id.in_(branch_ids))
    return query.scalar_subquery()


def _gaps(campaign: Campaign) -> list[tuple[dt.date | None, dt.date | None]]:
    """The date ranges no phase counts: before the first, between phases, after the last (None: open),
    within the campaign's territory."""
    low, high = campaign.territory_from, campaign.territory_until
    clipped = []
    for start, end in _phase_gaps(campaign):
        start = low if start is None or (low is not None and low > start) else start
        end = high if end is None or (high is not None and high < end) else end
        if start is None or end is None or start <= end:
            clipped.append((start, end))
    return clipped


def _phase_gaps(campaign: Campaign) -> list[tuple[dt.date | None, dt.date | None]]:
    gaps: list[tuple[dt.date | None, dt.date | None]] = []
    covered_until: dt.date | None = None
    for phase in sorted(campaign.phases, key=lambda p: p.counting_from):
        if covered_until is None:
            gaps.append((None, phase.counting_from - dt.timedelta(days=1)))
        elif phase.counting_from > covered_until + dt.timedelta(days=1):
            gaps.append((covered_until + dt.timedelta(days=1), phase.counting_from - dt.timedelta(days=1)))
        covered_until = phase.end if covered_until is None else max(covered_until, phase.end)
    gaps.append((covered_until + dt.timedelta(days=1) if covered_until else None, None))
    return gaps


async def daily_recognitions(
    session: AsyncSession, phase: Phase, branch_ids: set[int] | None = None
) -> list[tuple[dt.date, int]]:
    """Recognitions counted in the phase, per decision date, oldest first (for the cumulative chart)."""
    query = (
        select(Initiative.recognition_date, func.count())
        .where(recognised_in(phase))
        .group_by(Initiative.status, Initiative.recognition_date)  # the index's order: no sorting
    )
    if branch_ids is not None:
        query = query.where(Initiative.credited_branch_id.in_(branch_ids))
    days: dict[dt.date, int] = {}
    for day, count in (await session.execute(query)).all():
        days[day] = days.get(day, 0) + count
    return sorted(days.items())


async def submitters(session: AsyncSession, branch_id: int) -> Sequence[tuple[str, int]]:
    """Members of the branch who have submitted, with how many initiatives each (most first). An initiative a
    chair entered for members is its first author's, by name (the chair wrote it down; it is not his)."""
    submitted = func.count()
    first_author = (
        select(Author.full_name)
        .where(Author.initiative_id == Initiative.id)
        .order_by(Author.is_lead.desc(), Author.position)
        .limit(1)
        .scalar_subquery()
    )
    entered_for_members = and_(  # (an import's are the importer's, whoever ran it: handlers/progress counts them)
        Initiative.entered_by_member_id == Initiative.member_id, Member.full_name != IMPORTER_NAME
    )
    each = (
        select(
            case((entered_for_members, func.coalesce(first_author, Member.full_name)), else_=Member.full_name).label(
                "name"
            ),
            case((entered_for_members, None), else_=Member.id).label("member"),  # two members of one name stay two
        )
        .join_from(Initiative, Member, Initiative.member_id == Member.id)
        .where(Initiative.branch_id == branch_id, Initiative.submitted_at.is_not(None))
        .subquery()
    )
    query = select(each.c.name, submitted).group_by(each.c.member, each.c.name).order_by(submitted.desc(), each.c.name)
    return [(name, count) for name, count in (await session.execute(query)).all()]
