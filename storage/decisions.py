"""Decisions on an initiative, each one conditional UPDATE: a chair's verdict on a submission, and its
entry on the national portal once recognised. Exactly one of concurrent calls wins, on SQLite and on
PostgreSQL, so two chairs pressing at once, a double tap or a stale button make one decision; the winner
writes the audit event in the same transaction."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent, Initiative, Member, Status


async def decide(
    session: AsyncSession,
    initiative_id: int,
    new_status: Status,
    actor: Member,
    reason: str | None,
    now: dt.datetime,
    reopen_at: str | None = None,
) -> bool:
    """Record a decision if the initiative is still awaiting one. Exactly one of concurrent calls wins:
    the conditional UPDATE is atomic on SQLite and on PostgreSQL."""
    result = await session.execute(
        update(Initiative)
        .where(Initiative.id == initiative_id, Initiative.status == Status.SUBMITTED)
        .values(
            status=new_status,
            decided_at=now,
            decided_by_member_id=actor.id,
            decision_reason=reason,
            current_step=reopen_at,
            editing_from_summary=False,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    session.add(
        AuditEvent(
            initiative_id=initiative_id,
            actor_member_id=actor.id,
            action="decided",
            from_status=Status.SUBMITTED,
            to_status=new_status,
            reason=reason,
        )
    )
    return True


async def mark_reported(
    session: AsyncSession, initiative_id: int, actor: Member, reference: str | None, now: dt.datetime
) -> bool:
    """Recognised → reported (entered on the national portal, plan V.4: after recognition); False if it is
    not recognised (yet, or any more)."""
    result = await session.execute(
        update(Initiative)
        .where(Initiative.id == initiative_id, Initiative.status == Status.RECOGNISED)
        .values(status=Status.REPORTED, reported_at=now, reported_by_member_id=actor.id, portal_reference=reference)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    session.add(
        AuditEvent(initiative_id=initiative_id, actor_member_id=actor.id, action="reported",
                   from_status=Status.RECOGNISED, to_status=Status.REPORTED, reason=reference)
    )  # fmt: skip
    return True
