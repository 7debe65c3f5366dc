"""Queries the conversations use. Every function takes the caller's session; callers own transactions."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import (
    Attachment,
    AuditEvent,
    Author,
    Branch,
    BranchQuota,
    Identity,
    Initiative,
    Member,
    MemberRole,
    ProcessedUpdate,
    Role,
    Status,
)


async def claim_update(session: AsyncSession, platform: str, update_key: str) -> bool:
    """Record an update as processed; False if it already was (a redelivery must have no effect)."""
    try:
        async with session.begin_nested():
            session.add(ProcessedUpdate(platform=platform, update_key=update_key))
            await session.flush()
    except IntegrityError:
        return False
    return True


# --- branches --------------------------------------------------------------------------------------


async def all_branches(session: AsyncSession) -> Sequence[Branch]:
    return (await session.scalars(select(Branch).order_by(Branch.name, Branch.code))).all()


async def branch_by_code(session: AsyncSession, code: str) -> Branch | None:
    return await session.scalar(select(Branch).where(func.upper(Branch.code) == code.strip().upper()))


async def branch_count(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(Branch)) or 0


async def load_sample_branches(session: AsyncSession, csv_path: Path) -> int:
    """Seed clearly-labelled sample branches (sandbox only). Columns: code, name, quota_<phase>..."""
    with csv_path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        branch = Branch(code=row["code"], name=row["name"], is_sample=True)
        branch.quotas = [
            BranchQuota(phase_code=key.removeprefix("quota_"), quota=int(value))
            for key, value in row.items()
            if key.startswith("quota_") and value
        ]
        session.add(branch)
    await session.flush()
    return len(rows)


# --- identities and members ------------------------------------------------------------------------


async def get_or_create_identity(
    session: AsyncSession, platform: str, user_id: str, chat_id: str, display_name: str, language: str
) -> Identity:
    query = (
        select(Identity)
        .where(Identity.platform == platform, Identity.platform_user_id == user_id)
        .options(selectinload(Identity.member).selectinload(Member.branch))
    )
    identity = await session.scalar(query)
    if identity is None:
        try:
            async with session.begin_nested():
                identity = Identity(
                    platform=platform,
                    platform_user_id=user_id,
                    chat_id=chat_id,
                    display_name=display_name[:255],
                    language=language,
                    flow_data={},
                )
                session.add(identity)
                await session.flush()
        except IntegrityError:
            identity = await session.scalar(query)
            assert identity is not None
    elif identity.chat_id != chat_id or (display_name and identity.display_name != display_name[:255]):
        identity.chat_id = chat_id
        identity.display_name = display_name[:255] or identity.display_name
    return identity


async def register_member(session: AsyncSession, identity: Identity, full_name: str, branch: Branch) -> Member:
    member = Member(full_name=full_name, branch=branch)
    member.roles = [MemberRole(role=Role.MEMBER, branch_id=branch.id)]
    session.add(member)
    await session.flush()
    identity.member = member
    identity.member_id = member.id
    session.add(AuditEvent(actor_member_id=member.id, action="registered", reason=branch.code))
    return member


# --- initiatives -----------------------------------------------------------------------------------

_FULL = (selectinload(Initiative.authors), selectinload(Initiative.attachments))


async def create_draft(session: AsyncSession, member: Member, first_step: str) -> Initiative:
    draft = Initiative(member_id=member.id, branch_id=member.branch_id, status=Status.DRAFT, current_step=first_step)
    draft.authors = []
    draft.attachments = []
    session.add(draft)
    await session.flush()
    session.add(AuditEvent(initiative_id=draft.id, actor_member_id=member.id, action="created", to_status="draft"))
    return draft


async def member_initiative(session: AsyncSession, member_id: int, initiative_id: int) -> Initiative | None:
    """An initiative of this member, or None: nobody reaches another person's initiative by its id."""
    return await session.scalar(
        select(Initiative).where(Initiative.id == initiative_id, Initiative.member_id == member_id).options(*_FULL)
    )


async def member_drafts(session: AsyncSession, member_id: int) -> Sequence[Initiative]:
    return (
        await session.scalars(
            select(Initiative)
            .where(Initiative.member_id == member_id, Initiative.status == Status.DRAFT)
            .order_by(Initiative.updated_at.desc(), Initiative.id.desc())
        )
    ).all()


async def member_submissions(session: AsyncSession, member_id: int) -> Sequence[Initiative]:
    return (
        await session.scalars(
            select(Initiative)
            .where(Initiative.member_id == member_id, Initiative.status != Status.DRAFT)
            .order_by(Initiative.submitted_at.desc(), Initiative.id.desc())
        )
    ).all()


async def delete_draft(session: AsyncSession, draft: Initiative, actor: Member) -> None:
    await session.execute(delete(Initiative).where(Initiative.id == draft.id, Initiative.status == Status.DRAFT))
    session.add(AuditEvent(actor_member_id=actor.id, action="draft_deleted", reason=f"#{draft.id}"))


def replace_authors(initiative: Initiative, authors: list[tuple[str, int, int | None]]) -> None:
    initiative.authors = [
        Author(position=index, full_name=name, share_percent=share, member_id=member_id)
        for index, (name, share, member_id) in enumerate(authors)
    ]


def add_attachment(initiative: Initiative, attachment: Attachment) -> None:
    initiative.attachments.append(attachment)


def submit(session: AsyncSession, initiative: Initiative, actor: Member, now: dt.datetime) -> None:
    previous = initiative.status
    initiative.status = Status.SUBMITTED
    initiative.submitted_at = now
    initiative.current_step = None
    initiative.editing_from_summary = False
    session.add(
        AuditEvent(
            initiative_id=initiative.id,
            actor_member_id=actor.id,
            action="submitted",
            from_status=previous,
            to_status=Status.SUBMITTED,
        )
    )
