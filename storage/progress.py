"""Campaign progress as SQL aggregates, following the plan's counting rule, never rows in memory.

Only recognised initiatives count (plan IV.3: "sáng kiến chưa được cấp có thẩm quyền công nhận" do not):
status recognised or entered on the portal, with a recognition date. Each counts in the phase whose
counting window holds that date (phase 1 counts from 01/09/2021), for the branch of its credited author
(plan IV.2.5). Verified initiatives without a recognition are "chờ công nhận"; a recognition dated outside
every phase is counted apart ("ngoài các giai đoạn"), never dropped. Submitted and in-progress work is the
branch's it was submitted to (that branch's chairs verify it).

These queries serve /progress, the digests, the Excel summary and the chart — the same numbers everywhere
— and the benchmark over 1,000,000 initiatives: each is one GROUP BY over an index holding every column
it reads (migration 0008).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Campaign, Phase
from storage.models import COUNTED, Branch, BranchQuota, Initiative, Member, Status

IN_PROGRESS = (Status.DRAFT, Status.CHANGES_REQUESTED)


@dataclass(frozen=True)
class BranchProgress:
    branch_id: int
    code: str
    name: str
    quota: int
    recognised: int  # in the phase: what counts
    waiting: int  # verified by a chair, not recognised yet
    pending: int  # submitted, waiting for a chair
    in_progress: int  # drafts and initiatives sent back for changes

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
    """Recognised, but on a day no phase counts (a gap between phases, or after the last)."""
    inside = or_(*(Initiative.recognition_date.between(p.counting_from, p.end) for p in campaign.phases))
    return and_(Initiative.status.in_(COUNTED), Initiative.recognition_date.is_not(None), ~inside)


async def branch_progress(
    session: AsyncSession, phase: Phase, branch_ids: set[int] | None = None
) -> list[BranchProgress]:
    """Every branch in scope with its quota for the phase and its initiatives counted by state."""
    credited = select(
        Initiative.credited_branch_id.label("branch_id"),
        func.count().filter(recognised_in(phase)).label("recognised"),
        func.count().filter(Initiative.status == Status.VERIFIED).label("waiting"),
    ).where(Initiative.status.in_((*COUNTED, Status.VERIFIED)))
    submitted = select(
        Initiative.branch_id.label("branch_id"),
        func.count().filter(Initiative.status == Status.SUBMITTED).label("pending"),
        func.count().filter(Initiative.status.in_(IN_PROGRESS)).label("in_progress"),
    ).where(Initiative.status.in_((Status.SUBMITTED, *IN_PROGRESS)))
    if branch_ids is not None:  # a member's or a chair's view reads their branches' rows only
        credited = credited.where(Initiative.credited_branch_id.in_(branch_ids))
        submitted = submitted.where(Initiative.branch_id.in_(branch_ids))
    credit = credited.group_by(Initiative.credited_branch_id).subquery()
    work = submitted.group_by(Initiative.branch_id).subquery()
    query = (
        select(
            Branch.id,
            Branch.code,
            Branch.name,
            func.coalesce(BranchQuota.quota, 0),
            func.coalesce(credit.c.recognised, 0),
            func.coalesce(credit.c.waiting, 0),
            func.coalesce(work.c.pending, 0),
            func.coalesce(work.c.in_progress, 0),
        )
        .outerjoin(BranchQuota, (BranchQuota.branch_id == Branch.id) & (BranchQuota.phase_code == phase.code))
        .outerjoin(credit, credit.c.branch_id == Branch.id)
        .outerjoin(work, work.c.branch_id == Branch.id)
        .order_by(Branch.code)
    )
    if branch_ids is not None:
        query = query.where(Branch.id.in_(branch_ids))
    return [BranchProgress(*row) for row in (await session.execute(query)).all()]


@dataclass(frozen=True)
class CampaignTotals:
    """Recognised per phase, outside every phase, and in all (against the campaign's total target)."""

    by_phase: dict[str, int]
    outside: int

    @property
    def recognised(self) -> int:
        return sum(self.by_phase.values()) + self.outside


async def campaign_totals(session: AsyncSession, campaign: Campaign, branch_ids: set[int] | None) -> CampaignTotals:
    columns = [func.count().filter(recognised_in(phase)) for phase in campaign.phases]
    query = select(*columns, func.count().filter(recognised_outside(campaign))).where(Initiative.status.in_(COUNTED))
    if branch_ids is not None:
        query = query.where(Initiative.credited_branch_id.in_(branch_ids))
    *per_phase, outside = (await session.execute(query)).one()
    return CampaignTotals({p.code: n for p, n in zip(campaign.phases, per_phase, strict=True)}, outside)


async def daily_recognitions(
    session: AsyncSession, phase: Phase, branch_ids: set[int] | None = None
) -> list[tuple[dt.date, int]]:
    """Recognitions counted in the phase, per decision date, oldest first (for the cumulative chart)."""
    query = (
        select(Initiative.recognition_date, func.count())
        .where(recognised_in(phase))
        .group_by(Initiative.recognition_date)
        .order_by(Initiative.recognition_date)
    )
    if branch_ids is not None:
        query = query.where(Initiative.credited_branch_id.in_(branch_ids))
    return [(day, count) for day, count in (await session.execute(query)).all()]


async def submitters(session: AsyncSession, branch_id: int) -> Sequence[tuple[str, int]]:
    """Members of the branch who have submitted, with how many initiatives each (most first)."""
    submitted = func.count(Initiative.id)
    query = (
        select(Member.full_name, submitted)
        .join(Initiative, Initiative.member_id == Member.id)
        .where(Initiative.branch_id == branch_id, Initiative.submitted_at.is_not(None))
        .group_by(Member.id, Member.full_name)
        .order_by(submitted.desc(), Member.full_name)
    )
    return [(name, count) for name, count in (await session.execute(query)).all()]
