"""What the Excel report reads: per-branch figures as SQL aggregates (the same counting rule as
storage/progress.py, so the chat, the chart, the digests and the workbook show the same numbers) and the
initiatives themselves as rows, streamed in batches (a province's 100,000 never sit in memory at once).

A report's filter narrows every sheet alike: a phase (what counts in it), a status, a period — the
recognition date for recognised initiatives, the submission date for the others ("what happened then").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import aliased

from bot.config import Campaign, Phase
from storage import org_tree
from storage.models import COUNTED, IN_PROGRESS, Attachment, Author, Branch, BranchQuota, Initiative, Member, Status
from storage.progress import recognised_in, recognised_outside


@dataclass(frozen=True)
class ReportFilter:
    phase: Phase | None = None
    status: Status | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def _in_period(report_filter: ReportFilter, tz: dt.tzinfo) -> ColumnElement[bool]:
    """Recognised initiatives by their decision's date; the others by when they were submitted, from local
    midnight of the first day (the days people type) to local midnight after the last."""
    start, end = report_filter.date_from, report_filter.date_to
    if start is None and end is None:
        return true()
    recognised: list[ColumnElement[bool]] = [Initiative.status.in_(COUNTED)]
    submitted: list[ColumnElement[bool]] = [Initiative.status.not_in(COUNTED)]
    if start is not None:
        recognised.append(Initiative.recognition_date >= start)
        submitted.append(Initiative.submitted_at >= dt.datetime.combine(start, dt.time(), tz))
    if end is not None:
        recognised.append(Initiative.recognition_date <= end)
        submitted.append(Initiative.submitted_at < dt.datetime.combine(end + ONE_DAY, dt.time(), tz))
    return or_(and_(*recognised), and_(*submitted))


ONE_DAY = dt.timedelta(days=1)


def conditions(
    report_filter: ReportFilter, campaign: Campaign, *, with_drafts: bool = False
) -> list[ColumnElement[bool]]:
    found = [_in_period(report_filter, campaign.tz)]
    if campaign.territory_from is not None or campaign.territory_until is not None:
        # several campaigns: a decision dated in another's span is that campaign's (open work is everyone's)
        span = [Initiative.recognition_date >= campaign.territory_from] if campaign.territory_from else []
        span += [Initiative.recognition_date <= campaign.territory_until] if campaign.territory_until else []
        found.append(or_(Initiative.recognition_date.is_(None), and_(*span)))
    if not with_drafts:
        found.append(Initiative.status != Status.DRAFT)
    if report_filter.status is not None:
        found.append(Initiative.status == report_filter.status)
    if report_filter.phase is not None:
        found.append(recognised_in(report_filter.phase))
    return found


@dataclass
class BranchFigures:
    code: str
    name: str
    quotas: dict[str, int] = field(default_factory=dict)
    recognised: dict[str, int] = field(default_factory=dict)
    outside: int = 0
    waiting: int = 0  # verified, not recognised yet
    reported: int = 0  # entered on the portal
    pending: int = 0  # submitted, waiting for a chair
    in_progress: int = 0  # drafts and initiatives sent back
    branch_id: int = 0
    parent_id: int | None = None

    @property
    def quota_total(self) -> int:
        return sum(self.quotas.values())

    @property
    def recognised_total(self) -> int:
        return sum(self.recognised.values()) + self.outside

    def percent(self, phase: Phase | None) -> float:
        """Recognised as a share of the quota: in `phase`, or over the whole campaign."""
        done = self.recognised.get(phase.code, 0) if phase else self.recognised_total
        goal = self.quotas.get(phase.code, 0) if phase else self.quota_total
        if goal <= 0:
            return 100.0 if done else 0.0
        return round(100 * done / goal, 1)


async def branch_figures(
    session: AsyncSession, campaign: Campaign, branch_ids: set[int] | None, report_filter: ReportFilter
) -> list[BranchFigures]:
    """Every unit in scope with its quotas and its initiatives counted by state (two GROUP BYs), rolled up
    the tree within the scope as /progress does (a unit's figures include its descendants')."""
    where = conditions(report_filter, campaign)
    credited = select(
        Initiative.credited_branch_id,
        *(func.count().filter(recognised_in(phase)) for phase in campaign.phases),
        func.count().filter(recognised_outside(campaign)),
        func.count().filter(Initiative.status == Status.VERIFIED),
        func.count().filter(Initiative.status == Status.REPORTED),
    ).where(*where, Initiative.status.in_((*COUNTED, Status.VERIFIED)))
    submitted = select(
        Initiative.branch_id,
        func.count().filter(Initiative.status == Status.SUBMITTED),
        func.count().filter(Initiative.status.in_(IN_PROGRESS)),
    ).where(*conditions(report_filter, campaign, with_drafts=True),
            Initiative.status.in_((Status.SUBMITTED, *IN_PROGRESS)))  # fmt: skip
    branches = select(Branch.id, Branch.code, Branch.name, Branch.parent_id).order_by(Branch.code)
    quotas = select(BranchQuota.branch_id, BranchQuota.phase_code, BranchQuota.quota).where(
        BranchQuota.phase_code.in_([phase.code for phase in campaign.phases])  # this campaign's quotas only
    )
    if branch_ids is not None:
        credited = credited.where(Initiative.credited_branch_id.in_(branch_ids))
        submitted = submitted.where(Initiative.branch_id.in_(branch_ids))
        branches = branches.where(Branch.id.in_(branch_ids))
        quotas = quotas.where(BranchQuota.branch_id.in_(branch_ids))
    figures = {
        branch_id: BranchFigures(code, name, branch_id=branch_id, parent_id=parent_id)
        for branch_id, code, name, parent_id in await session.execute(branches)
    }
    for branch_id, phase_code, quota in await session.execute(quotas):
        figures[branch_id].quotas[phase_code] = quota
    for branch_id, *counts in await session.execute(credited.group_by(Initiative.credited_branch_id)):
        if branch_id in figures:
            row = figures[branch_id]
            *per_phase, row.outside, row.waiting, row.reported = counts
            row.recognised = {p.code: n for p, n in zip(campaign.phases, per_phase, strict=True)}
    for branch_id, pending, in_progress in await session.execute(submitted.group_by(Initiative.branch_id)):
        if branch_id in figures:
            figures[branch_id].pending, figures[branch_id].in_progress = pending, in_progress
    rolled = org_tree.roll_up(figures, {unit: row.parent_id for unit, row in figures.items()}, _with_children)
    return [rolled[unit] for unit in figures]  # in code order


def _with_children(unit: BranchFigures, children: list[BranchFigures]) -> BranchFigures:
    """A unit's own counts plus its children's; per phase, its own quota if set, else the children's sum."""
    if not children:
        return unit
    phases = set(unit.quotas) | {phase for child in children for phase in child.quotas}
    return replace(
        unit,
        quotas={p: unit.quotas[p] if p in unit.quotas else sum(c.quotas.get(p, 0) for c in children) for p in phases},
        recognised={
            p: unit.recognised.get(p, 0) + sum(c.recognised.get(p, 0) for c in children)
            for p in set(unit.recognised) | {p for c in children for p in c.recognised}
        },
        **{
            name: getattr(unit, name) + sum(getattr(c, name) for c in children)
            for name in ("outside", "waiting", "reported", "pending", "in_progress")
        },
    )


@dataclass(frozen=True)
class InitiativeRow:
    """One initiative as the workbook shows it (plain values: no ORM objects leave the session)."""

    id: int
    values: dict[str, Any]
    authors: list[tuple[str, int, bool, bool]]  # name, share, is lead, is the submitter
    attachments: int


SUBMITTER, CREDITED, DECIDER = aliased(Member), aliased(Branch), aliased(Member)
COLUMNS = {
    "title": Initiative.title, "type_code": Initiative.type_code, "field": Initiative.field,
    "branch": Branch.name, "credited_branch": CREDITED.name, "first_applied_on": Initiative.first_applied_on,
    "application_kind": Initiative.application_kind, "application_place": Initiative.application_place,
    "problem": Initiative.problem, "solution": Initiative.solution,
    "economic_benefit": Initiative.economic_benefit, "economic_amount_vnd": Initiative.economic_amount_vnd,
    "social_benefit": Initiative.social_benefit, "recognition_kind": Initiative.recognition_kind,
    "recognition_decision_no": Initiative.recognition_decision_no, "recognition_date": Initiative.recognition_date,
    "status": Initiative.status, "submitted_at": Initiative.submitted_at, "decided_at": Initiative.decided_at,
    "decided_by": DECIDER.full_name, "decision_reason": Initiative.decision_reason,
    "portal_reference": Initiative.portal_reference, "entered_by": Initiative.entered_by_member_id,
    "submitter_id": Initiative.member_id, "submitter": SUBMITTER.full_name,
}  # fmt: skip


def to_enter(row: InitiativeRow) -> bool:
    """The portal sheet's rows: recognised and not yet entered on the national portal."""
    return row.values["status"] == Status.RECOGNISED


async def initiative_rows(
    session: AsyncSession, campaign: Campaign, branch_ids: set[int] | None, report_filter: ReportFilter, *,
    batch: int = 5000,
) -> AsyncIterator[list[InitiativeRow]]:  # fmt: skip
    """The initiatives in scope matching the filter, by number, in batches. Core statements on the session's
    connection: plain rows, none of the ORM's per-row work (a province's 100,000 are read once for every
    sheet). A batch's authors and files are read by the same conditions and its window of numbers, not by
    a list of 5,000 numbers (rendered anew for every batch)."""
    scope = conditions(report_filter, campaign)
    if branch_ids is not None:
        scope.append(or_(Initiative.branch_id.in_(branch_ids), Initiative.credited_branch_id.in_(branch_ids)))
    query = (
        select(Initiative.id, *COLUMNS.values())
        .join(Branch, Branch.id == Initiative.branch_id)
        .outerjoin(CREDITED, CREDITED.id == Initiative.credited_branch_id)
        .outerjoin(SUBMITTER, SUBMITTER.id == Initiative.member_id)
        .outerjoin(DECIDER, DECIDER.id == Initiative.decided_by_member_id)
        .where(*scope)
        .order_by(Initiative.id)
    )
    connection = await session.connection()
    last = 0
    while True:
        rows = (await connection.execute(query.where(Initiative.id > last).limit(batch))).all()
        if not rows:
            return
        window = [*scope, Initiative.id > last, Initiative.id <= rows[-1][0]]
        last = rows[-1][0]
        authors = await _authors(connection, window)
        files = await _attachment_counts(connection, window)
        yield [
            InitiativeRow(row[0], dict(zip(COLUMNS, row[1:], strict=True)), authors.get(row[0], []),
                          files.get(row[0], 0))
            for row in rows
        ]  # fmt: skip


async def _authors(
    connection: AsyncConnection, window: list[ColumnElement[bool]]
) -> dict[int, list[tuple[str, int, bool, bool]]]:
    rows = await connection.execute(
        select(Author.initiative_id, Author.full_name, Author.share_percent, Author.is_lead,
               Author.member_id == Initiative.member_id)
        .join(Initiative, Initiative.id == Author.initiative_id)
        .where(*window)
        .order_by(Author.initiative_id, Author.position)
    )  # fmt: skip
    found: dict[int, list[tuple[str, int, bool, bool]]] = {}
    for initiative_id, name, share, lead, submitter in rows.all():
        found.setdefault(initiative_id, []).append((name, share, bool(lead), bool(submitter)))
    return found


async def _attachment_counts(connection: AsyncConnection, window: list[ColumnElement[bool]]) -> dict[int, int]:
    rows = await connection.execute(
        select(Attachment.initiative_id, func.count())
        .join(Initiative, Initiative.id == Attachment.initiative_id)
        .where(*window, Attachment.purpose == "evidence")
        .group_by(Attachment.initiative_id)
    )
    return {initiative_id: count for initiative_id, count in rows.all()}
