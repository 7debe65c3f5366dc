"""A decision writes exactly what it says, once (storage/decisions.py): every field and the audit event
of the winner, nothing for a call that finds the initiative decided already. Exact answers
(mutation-tested); test_storage.py races the presses, test_review_e2e.py presses the buttons."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import select

from storage import decisions
from storage.engine import create_engine, session_factory
from storage.models import AuditEvent, Branch, Initiative, Member, Status

pytestmark = pytest.mark.asyncio
EARLIER = dt.datetime(2022, 4, 1, 3, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2022, 4, 2, 3, 0, tzinfo=dt.UTC)


@pytest_asyncio.fixture
async def sessions(database_url: str) -> AsyncIterator:
    engine = create_engine(database_url)  # migrated already (conftest)
    factory = session_factory(engine)
    async with factory() as session, session.begin():
        branch = Branch(code="A", name="CĐCS A")
        session.add(branch)
        await session.flush()
        session.add_all(
            [Member(full_name="Tác giả", branch_id=branch.id), Member(full_name="Chủ tịch", branch_id=branch.id)]
        )
        await session.flush()
        for status in (Status.SUBMITTED, Status.RECOGNISED, Status.VERIFIED, Status.SUBMITTED, Status.RECOGNISED):
            session.add(Initiative(member_id=1, branch_id=branch.id, credited_branch_id=branch.id, status=status,
                                   current_step="title", editing_from_summary=True, updated_at=EARLIER,
                                   portal_reference="OLD" if status == Status.RECOGNISED else None))  # fmt: skip
    yield factory
    await engine.dispose()


async def state(factory, initiative_id: int) -> tuple:
    async with factory() as session:
        found = await session.get(Initiative, initiative_id)
        trail = await session.scalars(select(AuditEvent).where(AuditEvent.initiative_id == initiative_id))
        events = [(e.actor_member_id, e.action, e.from_status, e.to_status, e.reason) for e in trail.all()]
        return found, events


async def test_a_decision_writes_every_field_and_its_audit_event_once(sessions) -> None:
    async with sessions() as session, session.begin():
        chair = await session.get(Member, 2)
        assert await decisions.decide(session, 1, Status.CHANGES_REQUESTED, chair, "Bổ sung số liệu", NOW, "summary")
    found, events = await state(sessions, 1)
    assert (found.status, found.decided_at, found.decided_by_member_id, found.decision_reason) == (
        Status.CHANGES_REQUESTED, NOW, 2, "Bổ sung số liệu")  # fmt: skip
    assert (found.current_step, found.editing_from_summary, found.updated_at) == ("summary", False, NOW)
    assert events == [(2, "decided", Status.SUBMITTED, Status.CHANGES_REQUESTED, "Bổ sung số liệu")]

    async with sessions() as session, session.begin():
        chair = await session.get(Member, 2)
        assert not await decisions.decide(session, 1, Status.VERIFIED, chair, None, NOW + dt.timedelta(hours=1))
        assert not await decisions.decide(session, 3, Status.REJECTED, chair, "x", NOW), "verified: not waiting"
    again, events_after = await state(sessions, 1)
    assert (again.status, again.decided_at, events_after) == (Status.CHANGES_REQUESTED, NOW, events)
    other, nothing = await state(sessions, 4)
    assert (other.status, other.decided_at, nothing) == (Status.SUBMITTED, None, []), "only the one decided"
    untouched, none = await state(sessions, 3)
    assert (untouched.status, untouched.decided_at, untouched.current_step, none) == (
        Status.VERIFIED,
        None,
        "title",
        [],
    )


async def test_a_verdict_without_reason_or_reopening_leaves_them_empty(sessions) -> None:
    async with sessions() as session, session.begin():
        assert await decisions.decide(session, 1, Status.VERIFIED, await session.get(Member, 2), None, NOW)
    found, events = await state(sessions, 1)
    assert (found.status, found.decision_reason, found.current_step) == (Status.VERIFIED, None, None)
    assert events == [(2, "decided", Status.SUBMITTED, Status.VERIFIED, None)]


async def test_an_entry_on_the_portal_is_recorded_once_and_only_after_recognition(sessions) -> None:
    async with sessions() as session, session.begin():
        chair = await session.get(Member, 2)
        assert not await decisions.mark_reported(session, 1, chair, "SK-1", NOW), "submitted: not recognised yet"
        assert await decisions.mark_reported(session, 2, chair, "SK-0456", NOW)
        assert not await decisions.mark_reported(session, 2, chair, "SK-9", NOW), "reported already"
    found, events = await state(sessions, 2)
    assert (found.status, found.reported_at, found.reported_by_member_id, found.portal_reference) == (
        Status.REPORTED, NOW, 2, "SK-0456")  # fmt: skip
    assert events == [(2, "reported", Status.RECOGNISED, Status.REPORTED, "SK-0456")]
    submitted, none = await state(sessions, 1)
    assert (submitted.status, submitted.reported_at, none) == (Status.SUBMITTED, None, [])
    other, nothing = await state(sessions, 5)
    assert (other.status, other.portal_reference, nothing) == (Status.RECOGNISED, "OLD", []), "only the one entered"
