"""Campaign progress as SQL aggregates: counts per branch and approvals per day, never rows in memory.

These queries serve /progress, the digests and the benchmark over 1,000,000 initiatives, so each is one
GROUP BY the database does on SQLite and PostgreSQL alike, over the index (branch_id, status, decided_at)
that holds every column they read (migration 0006).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Branch, BranchQuota, Initiative, Member, Status

COUNTED = (Status.APPROVED, Status.REPORTED)
IN_PROGRESS = (Status.DRAFT, Status.CHANGES_REQUESTED)


@dataclass(frozen=True)
class BranchProgress:
    branch_id: int
    code: str
    name: str
    quota: int
    approved: int
    pending: int
    in_progress: int

    @property
    def percent(self) -> int:
        """Approved as a whole percentage of the quota (a branch without a quota counts as done if it has any)."""
        if self.quota <= 0:
            return 100 if self.approved else 0
        return round(100 * self.approved / self.quota)


def _approved_between(start: dt.datetime, end: dt.datetime) -> ColumnElement[bool]:
    return Initiative.status.in_(COUNTED) & (Initiative.decided_at >= start) & (Initiative.decided_at < end)


async def branch_progress(
    session: AsyncSession,
    phase_code: str,
    bounds: tuple[dt.datetime, dt.datetime],
    branch_ids: set[int] | None = None,
) -> list[BranchProgress]:
    """Every branch in scope with its quota for the phase and its initiatives counted by state.

    Approved means approved (or already entered on the portal) with the approval inside the phase.
    """
    start, end = (value.astimezone(dt.UTC) for value in bounds)
    counted = select(
        Initiative.branch_id.label("branch_id"),
        func.count().filter(_approved_between(start, end)).label("approved"),
        func.count().filter(Initiative.status == Status.SUBMITTED).label("pending"),
        func.count().filter(Initiative.status.in_(IN_PROGRESS)).label("in_progress"),
    )
    if branch_ids is not None:  # a member's or a chair's view reads their branches' rows only
        counted = counted.where(Initiative.branch_id.in_(branch_ids))
    counts = counted.group_by(Initiative.branch_id).subquery()
    query = (
        select(
            Branch.id,
            Branch.code,
            Branch.name,
            func.coalesce(BranchQuota.quota, 0),
            func.coalesce(counts.c.approved, 0),
            func.coalesce(counts.c.pending, 0),
            func.coalesce(counts.c.in_progress, 0),
        )
        .outerjoin(BranchQuota, (BranchQuota.branch_id == Branch.id) & (BranchQuota.phase_code == phase_code))
        .outerjoin(counts, counts.c.branch_id == Branch.id)
        .order_by(Branch.code)
    )
    if branch_ids is not None:
        query = query.where(Branch.id.in_(branch_ids))
    return [BranchProgress(*row) for row in (await session.execute(query)).all()]


async def daily_approvals(
    session: AsyncSession,
    bounds: tuple[dt.datetime, dt.datetime],
    timezone: str,
    branch_ids: set[int] | None = None,
) -> list[tuple[dt.date, int]]:
    """Approvals inside the phase per local calendar day, oldest first (for the cumulative chart)."""
    start, end = (value.astimezone(dt.UTC) for value in bounds)
    if session.bind.dialect.name == "postgresql":
        day = func.date(func.timezone(timezone, Initiative.decided_at))
    else:  # SQLite stores UTC wall time; shift it by the zone's offset at the phase's start
        offset = bounds[0].utcoffset() or dt.timedelta()
        day = func.date(Initiative.decided_at, f"{int(offset.total_seconds())} seconds")
    query = select(day.label("day"), func.count()).where(_approved_between(start, end)).group_by(day).order_by(day)
    if branch_ids is not None:
        query = query.where(Initiative.branch_id.in_(branch_ids))
    rows = (await session.execute(query)).all()
    return [(value if isinstance(value, dt.date) else dt.date.fromisoformat(value), count) for value, count in rows]


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
