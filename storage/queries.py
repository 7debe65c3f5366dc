"""Queries the conversations use. Every function takes the caller's session; callers own transactions."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from bot.config import Campaign
from domain.credit import AuthorShare, credited_author
from domain.text import fold, name_as_printed, vietnamese_order
from storage import branch_import, claims, unit_directory
from storage.models import (
    COUNTED,
    AuditEvent,
    Author,
    Branch,
    Broadcast,
    ChairInvite,
    ChatGroup,
    Identity,
    Initiative,
    Member,
    MemberRole,
    OutboxMessage,
    OutboxStatus,
    ReminderRun,
    Role,
    Status,
)
from storage.unit_directory import Unit

# --- branches --------------------------------------------------------------------------------------


async def all_branches(session: AsyncSession) -> list[Branch]:
    """Every unit, in the Vietnamese order of its name (the database's collation knows only codepoints)."""
    branches = (await session.scalars(select(Branch))).all()
    return sorted(branches, key=lambda branch: (vietnamese_order(branch.name), branch.code))


async def branch_by_code(session: AsyncSession, code: str) -> Branch | None:
    return await session.scalar(select(Branch).where(func.upper(Branch.code) == code.strip().upper()))


# What people type for the long words of units' names ("bv da khoa" for "bệnh viện đa khoa").
UNIT_ABBREVIATIONS = {"bv": "benh vien", "bvdk": "benh vien da khoa", "dk": "da khoa", "ttyt": "trung tam y te",
                      "tt": "trung tam", "dh": "dai hoc", "cd": "cao dang", "ubnd": "uy ban nhan dan", "cty": "cong ty",
                      "sgd": "so giao duc"}  # fmt: skip


async def branches_matching(session: AsyncSession, typed: str) -> list[Unit]:
    """Units whose name or code holds every word typed (accents and case ignored; a usual abbreviation read
    as its words: "bv" as "bệnh viện"; a number as a whole word: "2" finds «cơ sở 2», not the code MAU121), in
    list order; every unit for no words."""
    words = fold(typed).split()
    numbers = {word: re.compile(rf"(?<!\w){word}(?!\w)") for word in words if word.isdigit()}

    def holds(searched: str, word: str) -> bool:
        if word in numbers:
            return numbers[word].search(searched) is not None
        spelled = UNIT_ABBREVIATIONS.get(word)
        return word in searched or (spelled is not None and spelled in searched)

    return [unit for unit in await unit_directory.units(session) if all(holds(unit.searched, w) for w in words)]


def is_named(unit: Unit, typed: str) -> bool:
    """The unit's whole name is the words typed (accents, case and a bracketed mark such as «[MẪU]» aside)."""
    return fold(" ".join(re.sub(r"\[[^\]]*\]|[^\w\s]", " ", unit.name).split())) == fold(" ".join(typed.split()))


async def branch_count(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(Branch)) or 0


async def load_sample_branches(session: AsyncSession, path: Path, campaign: Campaign) -> int:
    """Seed the clearly-labelled sample branches (sandbox, tests) from a spreadsheet in the import format."""
    rows = branch_import.parse(branch_import.read_rows(path.name, await asyncio.to_thread(path.read_bytes)), campaign)
    await branch_import.apply(session, rows, sample=True)
    return len(rows)


# --- identities and members ------------------------------------------------------------------------


# Every update reads the person's identity with their member record, branch, roles and linked accounts:
# one statement, built once (its cache key is memoised), joined rather than one query per relation.
_IDENTITY_BY_ACCOUNT = (
    select(Identity)
    .where(Identity.platform == bindparam("platform"), Identity.platform_user_id == bindparam("user_id"))
    .options(
        joinedload(Identity.member).joinedload(Member.branch),
        joinedload(Identity.member).joinedload(Member.roles),
        joinedload(Identity.member).joinedload(Member.identities),
    )
)


async def _identity(session: AsyncSession, platform: str, user_id: str) -> Identity | None:
    result = await session.execute(_IDENTITY_BY_ACCOUNT, {"platform": platform, "user_id": user_id})
    return result.unique().scalar_one_or_none()


async def identity_of_account(session: AsyncSession, platform: str, user_id: str) -> Identity | None:
    """A platform account with its member, the member's roles and linked accounts."""
    return await _identity(session, platform, user_id)


async def get_or_create_identity(
    session: AsyncSession, platform: str, user_id: str, chat_id: str | None, display_name: str, language: str
) -> Identity:
    """The account's identity, created on first contact. `chat_id` is the private chat (None when the
    person writes in a group: their private chat is then unknown or unchanged, and defaults to the user id).
    Writing privately again also clears a `blocked_at` mark: they have unblocked the bot."""
    identity = await _identity(session, platform, user_id)
    if identity is None:
        try:
            async with session.begin_nested():
                identity = Identity(
                    platform=platform,
                    platform_user_id=user_id,
                    chat_id=chat_id or user_id,
                    display_name=display_name[:255],
                    language=language,
                    flow_data={},
                )
                session.add(identity)
                await session.flush()
        except IntegrityError:
            identity = await _identity(session, platform, user_id)
            assert identity is not None
    else:
        if chat_id is not None and (identity.chat_id != chat_id or identity.blocked_at is not None):
            identity.chat_id, identity.blocked_at = chat_id, None
        if display_name and identity.display_name != display_name[:255]:
            identity.display_name = display_name[:255]
    return identity


async def register_admin(session: AsyncSession, identity: Identity, full_name: str) -> Member:
    """An admin known to the bot without a branch (they need none to oversee every branch)."""
    member = Member(full_name=full_name, branch_id=None)
    member.roles = []
    session.add(member)
    await session.flush()
    identity.member = member
    identity.member_id = member.id
    session.add(AuditEvent(actor_member_id=member.id, action="registered", reason="admin"))
    await session.flush()
    await session.refresh(member, ["identities", "roles", "branch"])
    return member


async def register_member(session: AsyncSession, identity: Identity, full_name: str, branch: Branch) -> Member:
    member = Member(full_name=full_name, branch=branch)
    member.roles = [MemberRole(role=Role.MEMBER, branch_id=branch.id)]
    session.add(member)
    await session.flush()
    identity.member = member
    identity.member_id = member.id
    session.add(AuditEvent(actor_member_id=member.id, action="registered", reason=branch.code))
    await session.flush()
    await session.refresh(member, ["identities", "roles", "branch"])
    return member


async def move_member(session: AsyncSession, member: Member, branch: Branch) -> None:
    """A member who has sent nothing, into another branch: their membership, and their drafts with their own
    author rows (what a draft is credited to follows its authors, as when it was begun)."""
    old_branch_id = member.branch_id
    member.branch = branch
    member.branch_id = branch.id
    await session.execute(
        update(MemberRole)
        .where(MemberRole.member_id == member.id, MemberRole.role == Role.MEMBER, MemberRole.branch_id == old_branch_id)
        .values(branch_id=branch.id)
    )
    drafts = select(Initiative.id).where(Initiative.member_id == member.id, Initiative.status == Status.DRAFT,
                                         Initiative.entered_by_member_id.is_(None))  # fmt: skip
    own_rows = (Author.member_id == member.id) & Author.initiative_id.in_(drafts)
    await session.execute(update(Author).where(own_rows).values(branch_id=branch.id))
    await session.execute(update(Initiative).where(Initiative.id.in_(drafts)).values(branch_id=branch.id))
    await session.execute(  # credited to him, so to his branch (the submission works it out again anyway)
        update(Initiative).where(Initiative.id.in_(drafts), Initiative.credited_branch_id == old_branch_id)
        .values(credited_branch_id=branch.id)
    )  # fmt: skip


# --- initiatives -----------------------------------------------------------------------------------

_FULL = (selectinload(Initiative.authors).selectinload(Author.branch), selectinload(Initiative.attachments))
# A member's own initiative, read on every wizard step: one joined statement, built once (a draft has a
# handful of authors and at most ten files, so the joined rows stay few).
_MEMBER_INITIATIVE = (
    select(Initiative)
    .where(Initiative.id == bindparam("initiative_id"), Initiative.member_id == bindparam("member_id"))
    .options(
        joinedload(Initiative.authors).joinedload(Author.branch),
        joinedload(Initiative.attachments),
    )
)
# A member edits a draft, and an initiative sent back to them for changes.
EDITABLE = (Status.DRAFT, Status.CHANGES_REQUESTED)


async def create_draft(
    session: AsyncSession, member: Member, first_step: str, *, for_branch: Branch | None = None
) -> Initiative:
    """A new draft written by `member`: their own, or (`for_branch`) one an officer enters for members of
    that branch (then the officer is not an author, and the audit says who entered it)."""
    branch_id = for_branch.id if for_branch else member.branch_id
    draft = Initiative(member_id=member.id, branch_id=branch_id, credited_branch_id=branch_id, status=Status.DRAFT,
                       current_step=first_step, entered_by_member_id=member.id if for_branch else None)  # fmt: skip
    draft.authors = []
    draft.attachments = []
    session.add(draft)
    await session.flush()
    session.add(AuditEvent(initiative_id=draft.id, actor_member_id=member.id, action="created", to_status="draft"))
    return draft


async def member_initiative(session: AsyncSession, member_id: int, initiative_id: int) -> Initiative | None:
    """An initiative of this member, or None: nobody reaches another person's initiative by its id."""
    result = await session.execute(_MEMBER_INITIATIVE, {"initiative_id": initiative_id, "member_id": member_id})
    return result.unique().scalar_one_or_none()


async def member_drafts(session: AsyncSession, member_id: int) -> Sequence[Initiative]:
    return (
        await session.scalars(
            select(Initiative)
            .where(Initiative.member_id == member_id, Initiative.status.in_(EDITABLE))
            .order_by(Initiative.updated_at.desc(), Initiative.id.desc())
        )
    ).all()


async def member_submissions(session: AsyncSession, member_id: int) -> Sequence[Initiative]:
    """Everything the member sent, those sent back for changes included (they are drafts again, and sent)."""
    return (
        await session.scalars(
            select(Initiative)
            .where(Initiative.member_id == member_id, Initiative.status != Status.DRAFT)
            .order_by(Initiative.submitted_at.desc(), Initiative.id.desc())
        )
    ).all()


async def member_coauthored(session: AsyncSession, member_id: int) -> list[tuple[Initiative, Author]]:
    """Initiatives someone else submitted that name this member as a co-author (and that author row)."""
    rows = await session.execute(
        select(Initiative, Author)
        .join(Author, Author.initiative_id == Initiative.id)
        .where(Author.member_id == member_id, Initiative.member_id != member_id, Initiative.status != Status.DRAFT)
        .order_by(Initiative.submitted_at.desc(), Initiative.id.desc())
    )
    return [(initiative, author) for initiative, author in rows.all()]


async def delete_draft(session: AsyncSession, draft: Initiative, actor: Member) -> None:
    await session.execute(delete(Initiative).where(Initiative.id == draft.id, Initiative.status == Status.DRAFT))
    session.add(AuditEvent(actor_member_id=actor.id, action="draft_deleted", reason=f"#{draft.id}"))


def replace_authors(initiative: Initiative, authors: list[Author], *, research: bool) -> None:
    """Set the authors (in this order) and the branch the initiative is credited to."""
    for position, author in enumerate(authors):
        author.position = position
    initiative.authors = authors
    apply_credit(initiative, research=research)


def credited(initiative: Initiative, *, research: bool) -> Author | None:
    """The credited author (plan IV.2.5, domain/credit.py); None before any author is given."""
    if not initiative.authors:
        return None
    submitter = initiative.member_id if initiative.entered_by_member_id is None else None
    shares = [AuthorShare(a.full_name, a.share_percent, is_lead=a.is_lead, is_submitter=a.member_id == submitter)
              for a in initiative.authors]  # fmt: skip
    return initiative.authors[credited_author(shares, research=research)]


def copy_profile(author: Author, member: Member) -> None:
    """The member's profile onto their author row (what the council's form prints)."""
    author.full_name = name_as_printed(member.full_name, author.full_name)
    author.workplace, author.birth_date = member.workplace, member.birth_date
    author.job_title, author.qualification = member.job_title, member.qualification


PersonDetails = tuple[str | None, dt.date | None, str | None, str | None]  # workplace, born, job title, qualification


async def typed_coauthor_details(session: AsyncSession, member_id: int, except_id: int) -> dict[str, PersonDetails]:
    """The details last written for each co-author (by folded name) typed on this member's other initiatives:
    who works with someone names them again, and their details need not be typed again."""
    rows = await session.execute(
        select(Author.full_name, Author.workplace, Author.birth_date, Author.job_title, Author.qualification)
        .join(Initiative, Initiative.id == Author.initiative_id)
        .where(Initiative.member_id == member_id, Initiative.id != except_id, Author.member_id.is_(None))
        .where(
            or_(
                *(
                    column.is_not(None)
                    for column in (Author.workplace, Author.birth_date, Author.job_title, Author.qualification)
                )
            )
        )
        .order_by(Initiative.id)
    )
    return {fold(name): (workplace, born, job_title, qualification)
            for name, workplace, born, job_title, qualification in rows}  # fmt: skip


async def open_authorships(session: AsyncSession, member_id: int) -> list[Author]:
    """The member's author rows on initiatives not yet counted (whose forms are still to be filed)."""
    rows = await session.scalars(
        select(Author).join(Initiative).where(Author.member_id == member_id, Initiative.status.not_in(COUNTED))
    )
    return list(rows.all())


def apply_credit(initiative: Initiative, *, research: bool) -> None:
    """The initiative counts for its credited author's branch (the branch it was submitted to until then)."""
    author = credited(initiative, research=research)
    initiative.credited_branch_id = (author.branch_id if author else None) or initiative.branch_id


def submit(
    session: AsyncSession,
    initiative: Initiative,
    actor: Member,
    now: dt.datetime,
    snapshot: dict[str, str],
    changes: list[str] | None = None,
) -> None:
    """`changes`: the steps a resubmission changed (None: the first submission, or the last one's answers
    unknown)."""
    previous = initiative.status
    initiative.status = Status.SUBMITTED
    initiative.submitted_snapshot = snapshot
    initiative.resubmission_changes = changes
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


# --- review ----------------------------------------------------------------------------------------


async def initiative_by_id(session: AsyncSession, initiative_id: int) -> Initiative | None:
    return await session.scalar(
        select(Initiative)
        .where(Initiative.id == initiative_id)
        .options(*_FULL, selectinload(Initiative.member), selectinload(Initiative.branch),
                 selectinload(Initiative.decided_by), selectinload(Initiative.entered_by))
    )  # fmt: skip


async def branch_chair_identities(session: AsyncSession, branch_id: int) -> Sequence[Identity]:
    """Every platform account of every chair of the branch (they are notified on each of them)."""
    return (
        await session.scalars(
            select(Identity)
            .join(MemberRole, MemberRole.member_id == Identity.member_id)
            .where(MemberRole.role == Role.CHAIR, MemberRole.branch_id == branch_id)
            .order_by(Identity.id)
        )
    ).all()


async def member_identities(session: AsyncSession, member_id: int) -> Sequence[Identity]:
    return (await session.scalars(select(Identity).where(Identity.member_id == member_id))).all()


async def admin_member_ids(session: AsyncSession, accounts: frozenset[str]) -> set[int]:
    """The members behind the admin accounts ("platform:user id", SANGKIEN_ADMINS) that have registered."""
    if not accounts:
        return set()
    pairs = [tuple(account.split(":", 1)) for account in accounts]
    rows = await session.scalars(
        select(Identity.member_id).where(
            tuple_(Identity.platform, Identity.platform_user_id).in_(pairs), Identity.member_id.is_not(None)
        )
    )
    return {member_id for member_id in rows if member_id is not None}


async def preferred_identities(session: AsyncSession, member_ids: set[int]) -> dict[int, Identity]:
    """One account per member to tell something (one person, one notice, whatever channels they linked):
    the one they used last and that has not blocked the bot."""
    if not member_ids:
        return {}
    rows = (
        await session.scalars(
            select(Identity)
            .where(Identity.member_id.in_(member_ids), Identity.blocked_at.is_(None))
            .order_by(Identity.updated_at, Identity.id)
        )
    ).all()
    return {identity.member_id: identity for identity in rows if identity.member_id is not None}


async def branch_chair_ids(session: AsyncSession, branch_id: int) -> set[int]:
    rows = await session.scalars(
        select(MemberRole.member_id).where(MemberRole.role == Role.CHAIR, MemberRole.branch_id == branch_id)
    )
    return set(rows.all())


async def possible_duplicates(session: AsyncSession, initiative: Initiative) -> list[int]:
    """Other submitted initiatives with the same title and the same set of author names (accents and case
    ignored): the same initiative sent by two of its authors. Read as (id, author name) rows, not initiatives
    with their authors: a common title («Cải tiến quy trình …») can be shared by many."""
    names = sorted(fold(a.full_name) for a in initiative.authors)
    rows = await session.execute(
        select(Initiative.id, Author.full_name)
        .outerjoin(Author, Author.initiative_id == Initiative.id)
        .where(Initiative.id != initiative.id, Initiative.status.not_in((Status.DRAFT, Status.REJECTED)))
        .where(Initiative.title_key == fold(initiative.title or ""))
        .order_by(Initiative.id)
    )
    authors_of: dict[int, list[str]] = {}
    for initiative_id, full_name in rows:
        authors_of.setdefault(initiative_id, []).extend([fold(full_name)] if full_name is not None else [])
    return [other for other, found in authors_of.items() if sorted(found) == names]


class AuthorColumns(NamedTuple):
    full_name: str
    member_id: int | None
    confirmed: bool | None


@dataclass(frozen=True)
class PendingAuthorship:
    """Who a waiting initiative names: its submitter, who entered it, and its author rows (name, member,
    confirmation); enough for the name rule (handlers/roles.names_among) without loading initiatives."""

    initiative_id: int
    branch_id: int
    submitter_id: int
    entered_by_id: int | None
    authors: list[AuthorColumns]


async def pending_authorship(
    session: AsyncSession, branch_ids: set[int] | None, submitted_before: dt.datetime | None = None
) -> list[PendingAuthorship]:
    """The submitted initiatives waiting for verification, oldest first (of these branches; all when None;
    submitted before `submitted_before` if given), with who they name."""
    query = (
        select(Initiative.id, Initiative.branch_id, Initiative.member_id, Initiative.entered_by_member_id,
               Author.full_name, Author.member_id, Author.confirmed)
        .outerjoin(Author, Author.initiative_id == Initiative.id)
        .where(Initiative.status == Status.SUBMITTED)
        .order_by(Initiative.submitted_at, Initiative.id, Author.position)
    )  # fmt: skip
    if branch_ids is not None:
        query = query.where(Initiative.branch_id.in_(branch_ids))
    if submitted_before is not None:
        query = query.where(Initiative.submitted_at < submitted_before)
    waiting: dict[int, PendingAuthorship] = {}
    for initiative_id, branch_id, submitter_id, entered_by_id, *author in await session.execute(query):
        entry = waiting.setdefault(
            initiative_id, PendingAuthorship(initiative_id, branch_id, submitter_id, entered_by_id, [])
        )
        if author[0] is not None:
            entry.authors.append(AuthorColumns(*author))
    return list(waiting.values())


async def initiatives_for_review(session: AsyncSession, initiative_ids: list[int]) -> list[Initiative]:
    """These initiatives, in this order, with what a review card shows."""
    query = select(Initiative).where(Initiative.id.in_(initiative_ids))
    query = query.options(*_FULL, selectinload(Initiative.member), selectinload(Initiative.branch),
                          selectinload(Initiative.entered_by))  # fmt: skip
    found = {initiative.id: initiative for initiative in await session.scalars(query)}
    return [found[number] for number in initiative_ids if number in found]


async def awaiting_recognition(session: AsyncSession, branch_ids: set[int] | None, limit: int) -> list[Initiative]:
    """Verified initiatives of these units (None: all) still without their recognition decision, oldest
    first: what a chair or an admin records with /congnhan (a unit's own or credited to it)."""
    query = select(Initiative).where(Initiative.status == Status.VERIFIED, Initiative.recognition_date.is_(None))
    if branch_ids is not None:
        query = query.where(or_(Initiative.branch_id.in_(branch_ids), Initiative.credited_branch_id.in_(branch_ids)))
    return list(await session.scalars(query.order_by(Initiative.decided_at, Initiative.id).limit(limit)))


async def units_submissions(
    session: AsyncSession, branch_ids: set[int] | None, limit: int
) -> list[tuple[Initiative, str]]:
    """What was sent to these units (None: all) or is credited to them, with the code of the unit it was sent to,
    newest first (drafts aside): an officer's list, where what was decided is found again."""
    query = (
        select(Initiative, Branch.code)
        .join(Branch, Branch.id == Initiative.branch_id)
        .where(Initiative.status != Status.DRAFT, Initiative.submitted_at.is_not(None))
    )
    if branch_ids is not None:
        query = query.where(or_(Initiative.branch_id.in_(branch_ids), Initiative.credited_branch_id.in_(branch_ids)))
    newest = query.order_by(Initiative.submitted_at.desc(), Initiative.id.desc()).limit(limit)
    return [(initiative, code) for initiative, code in (await session.execute(newest)).all()]


async def review_messages(session: AsyncSession, initiative_id: int) -> Sequence[OutboxMessage]:
    """The review requests sent (or queued) for an initiative's current round."""
    return (
        await session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.initiative_id == initiative_id,
                OutboxMessage.purpose == "review_request",
                OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENT]),
                OutboxMessage.edit_of_id.is_(None),
            )
        )
    ).all()


async def retire_review_messages(session: AsyncSession, initiative_id: int) -> None:
    """Review requests of a finished round are no longer edited when a later round is decided."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.initiative_id == initiative_id, OutboxMessage.purpose == "review_request")
        .values(purpose="review_request_done")
    )


async def audit_trail(session: AsyncSession, initiative_id: int) -> Sequence[tuple[AuditEvent, str | None]]:
    return (
        await session.execute(
            select(AuditEvent, Member.full_name)
            .outerjoin(Member, Member.id == AuditEvent.actor_member_id)
            .where(AuditEvent.initiative_id == initiative_id)
            .order_by(AuditEvent.created_at, AuditEvent.id)
        )
    ).all()


async def add_role(session: AsyncSession, member: Member, role: Role, branch_id: int | None) -> bool:
    """Give a role (idempotent). Returns False if the member already had it."""
    existing = await session.scalar(
        select(MemberRole).where(MemberRole.member_id == member.id, MemberRole.role == role,
                                 MemberRole.branch_id == branch_id)
    )  # fmt: skip
    if existing is not None:
        return False
    session.add(MemberRole(member_id=member.id, role=role, branch_id=branch_id))
    return True


async def branch_chairs(session: AsyncSession, branch_id: int | None) -> Sequence[tuple[MemberRole, Member, Branch]]:
    query = (
        select(MemberRole, Member, Branch)
        .join(Member, Member.id == MemberRole.member_id)
        .join(Branch, Branch.id == MemberRole.branch_id)
        .where(MemberRole.role == Role.CHAIR)
    )
    if branch_id is not None:
        query = query.where(MemberRole.branch_id == branch_id)
    rows = (await session.execute(query)).all()
    return sorted(rows, key=lambda row: (vietnamese_order(row.Branch.name), row.Branch.code,
                                         vietnamese_order(row.Member.full_name)))  # fmt: skip


async def create_chair_invite(
    session: AsyncSession, branch: Branch, created_by: str, token: str, expires_at: dt.datetime
) -> ChairInvite:
    invite = ChairInvite(token=token, branch_id=branch.id, created_by=created_by, expires_at=expires_at)
    session.add(invite)
    await session.flush()
    return invite


async def use_chair_invite(session: AsyncSession, token: str, member: Member, now: dt.datetime) -> ChairInvite | None:
    """Consume a valid, unused, unexpired invite (atomically: one person only)."""
    result = await session.execute(
        update(ChairInvite)
        .where(ChairInvite.token == token, ChairInvite.used_at.is_(None), ChairInvite.expires_at > now)
        .values(used_at=now, used_by_member_id=member.id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    return await session.scalar(
        select(ChairInvite).where(ChairInvite.token == token).options(selectinload(ChairInvite.branch))
    )


async def valid_chair_invite(session: AsyncSession, token: str, now: dt.datetime) -> ChairInvite | None:
    return await session.scalar(
        select(ChairInvite)
        .where(ChairInvite.token == token, ChairInvite.used_at.is_(None), ChairInvite.expires_at > now)
        .options(selectinload(ChairInvite.branch))
    )


# --- paperwork -------------------------------------------------------------------------------------


async def members_by_id(session: AsyncSession, member_ids: set[int]) -> Sequence[Member]:
    if not member_ids:
        return []
    return (await session.scalars(select(Member).where(Member.id.in_(member_ids)))).all()


async def has_child_units(session: AsyncSession, branch_id: int) -> bool:
    return await session.scalar(select(Branch.id).where(Branch.parent_id == branch_id).limit(1)) is not None


async def branches_by_id(session: AsyncSession, branch_ids: set[int] | None) -> Sequence[Branch]:
    """The branches of a scope (every branch when None), by code."""
    query = select(Branch).order_by(Branch.code)
    if branch_ids is not None:
        query = query.where(Branch.id.in_(branch_ids))
    return (await session.scalars(query)).all()


# --- groups ----------------------------------------------------------------------------------------


async def group_by_chat(session: AsyncSession, platform: str, chat_id: str) -> ChatGroup | None:
    return await session.scalar(
        select(ChatGroup)
        .where(ChatGroup.platform == platform, ChatGroup.chat_id == chat_id)
        .options(selectinload(ChatGroup.branch))
    )


async def record_group(session: AsyncSession, platform: str, chat_id: str, title: str, active: bool) -> ChatGroup:
    """Remember a group the bot was added to (or removed from); its link to a branch is kept. Two events of
    one group may arrive at once (the bot added, a command): the row is inserted by whichever is first."""
    group = await group_by_chat(session, platform, chat_id)
    if group is None:
        await claims.insert_if_absent(
            session, ChatGroup, platform=platform, chat_id=chat_id, title=title[:255], active=active, is_province=False
        )
        group = await group_by_chat(session, platform, chat_id)
        assert group is not None
        return group
    group.title = title[:255] or group.title
    group.active = active
    return group


async def move_chat(session: AsyncSession, platform: str, old_chat_id: str, new_chat_id: str) -> None:
    """A group became a supergroup with a new id: follow it, and its undelivered messages with it."""
    await session.execute(
        update(ChatGroup)
        .where(ChatGroup.platform == platform, ChatGroup.chat_id == old_chat_id)
        .values(chat_id=new_chat_id)
    )
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.platform == platform, OutboxMessage.chat_id == old_chat_id,
               OutboxMessage.status == OutboxStatus.PENDING)
        .values(chat_id=new_chat_id)
    )  # fmt: skip


async def linked_groups(session: AsyncSession, branch_ids: set[int] | None = None) -> Sequence[ChatGroup]:
    """Active groups linked to a branch or to the province (only those of `branch_ids`, if given)."""
    query = select(ChatGroup).where(ChatGroup.active.is_(True)).options(selectinload(ChatGroup.branch))
    if branch_ids is None:
        query = query.where(ChatGroup.branch_id.is_not(None) | ChatGroup.is_province.is_(True))
    else:
        query = query.where(ChatGroup.branch_id.in_(branch_ids))
    return (await session.scalars(query.order_by(ChatGroup.id))).all()


async def mark_unreachable(session: AsyncSession, platform: str, chat_id: str, now: dt.datetime) -> None:
    """Sends to this chat are refused for good: a person who blocked the bot, a group that removed it."""
    await session.execute(
        update(Identity)
        .where(Identity.platform == platform, Identity.chat_id == chat_id, Identity.blocked_at.is_(None))
        .values(blocked_at=now)
    )
    await session.execute(
        update(ChatGroup).where(ChatGroup.platform == platform, ChatGroup.chat_id == chat_id).values(active=False)
    )


# --- outbox, reminders, broadcasts -----------------------------------------------------------------


def queue_message(
    session: AsyncSession,
    platform: str,
    chat_id: str,
    payload: dict[str, Any],
    *,
    purpose: str,
    at: dt.datetime,
    initiative_id: int | None = None,
    edit_of_id: int | None = None,
    broadcast_id: int | None = None,
) -> OutboxMessage:
    """Write one message to the outbox (delivered after the caller's transaction commits, from `at`)."""
    row = OutboxMessage(platform=platform, chat_id=chat_id, payload=payload, purpose=purpose, next_attempt_at=at,
                        initiative_id=initiative_id, edit_of_id=edit_of_id, broadcast_id=broadcast_id)  # fmt: skip
    session.add(row)
    return row


async def queue_many(
    session: AsyncSession,
    chats: Sequence[tuple[str, str]],
    payload: dict[str, Any],
    *,
    purpose: str,
    at: dt.datetime,
    now: dt.datetime,
    broadcast_id: int | None = None,
) -> int:
    """The same message to many (platform, chat) pairs in bulk INSERTs (broadcasts), deliverable from `at`."""
    rows = [
        {"platform": platform, "chat_id": chat_id, "payload": payload, "purpose": purpose, "next_attempt_at": at,
         "broadcast_id": broadcast_id, "status": OutboxStatus.PENDING, "attempts": 0, "created_at": now}
        for platform, chat_id in chats
    ]  # fmt: skip
    for start in range(0, len(rows), 2000):
        await session.execute(insert(OutboxMessage), rows[start : start + 2000])
    return len(rows)


async def last_reminder_period(session: AsyncSession, reminder: str) -> dt.datetime | None:
    """The latest period of a reminder that was claimed (sent or skipped), or None before its first run."""
    return await session.scalar(select(func.max(ReminderRun.due_at)).where(ReminderRun.reminder == reminder))


async def record_reminder_recipients(session: AsyncSession, reminder: str, due_at: dt.datetime, count: int) -> None:
    await session.execute(
        update(ReminderRun)
        .where(ReminderRun.reminder == reminder, ReminderRun.due_at == due_at)
        .values(recipients=count)
    )


async def reachable_identities(session: AsyncSession, member_ids: set[int]) -> Sequence[Identity]:
    """Every account of these members that has not blocked the bot."""
    if not member_ids:
        return []
    return (
        await session.scalars(select(Identity).where(Identity.member_id.in_(member_ids), Identity.blocked_at.is_(None)))
    ).all()


async def idle_drafts(session: AsyncSession, idle_since: dt.datetime) -> Sequence[Initiative]:
    """Drafts (and initiatives returned for changes) untouched since `idle_since` and not nudged since
    their last change."""
    nudged = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.initiative_id == Initiative.id,
            OutboxMessage.purpose == "draft_nudge",
            OutboxMessage.created_at >= Initiative.updated_at,
        )
        .exists()
    )
    return (
        await session.scalars(
            select(Initiative)
            .where(Initiative.status.in_(EDITABLE), Initiative.updated_at < idle_since, ~nudged)
            .order_by(Initiative.id)
        )
    ).all()


async def chairs_of(session: AsyncSession, branch_ids: set[int]) -> dict[int, set[int]]:
    """Member id of each chair → the branches (among `branch_ids`) they chair."""
    rows = await session.execute(
        select(MemberRole.member_id, MemberRole.branch_id).where(
            MemberRole.role == Role.CHAIR, MemberRole.branch_id.in_(branch_ids)
        )
    )
    chairs: dict[int, set[int]] = {}
    for member_id, branch_id in rows.all():
        chairs.setdefault(member_id, set()).add(branch_id)
    return chairs


async def broadcast_recipients(
    session: AsyncSession, audience: str, branch_ids: set[int] | None = None
) -> list[tuple[str, str]]:
    """(platform, chat) pairs of an audience: "groups" (every linked group), "chairs" (of `branch_ids` when
    given), "members": one private chat per person, on the account they used last, as notices (a chair on
    Telegram and Zalo got it twice); accounts that blocked the bot are left out. (Some branches' groups:
    `linked_groups`.)"""
    if audience == "groups":
        return [(group.platform, group.chat_id) for group in await linked_groups(session)]
    query = select(Identity.member_id, Identity.platform, Identity.chat_id).where(
        Identity.member_id.is_not(None), Identity.blocked_at.is_(None)
    )
    if audience == "chairs":
        chairs = select(MemberRole.member_id).where(MemberRole.role == Role.CHAIR)
        if branch_ids is not None:
            chairs = chairs.where(MemberRole.branch_id.in_(branch_ids))
        query = query.where(Identity.member_id.in_(chairs))
    elif audience != "members":
        raise ValueError(f"unknown audience {audience!r}")
    rows = await session.execute(query.order_by(Identity.updated_at, Identity.id))  # as preferred_identities
    used_last = {member_id: (platform, chat_id) for member_id, platform, chat_id in rows.all()}
    return sorted(set(used_last.values()))


async def finished_broadcasts(session: AsyncSession) -> list[tuple[Broadcast, dict[OutboxStatus, int]]]:
    """Broadcasts not reported yet with nothing left to deliver, and how their messages ended."""
    still_pending = (
        select(OutboxMessage.id)
        .where(OutboxMessage.broadcast_id == Broadcast.id, OutboxMessage.status == OutboxStatus.PENDING)
        .exists()
    )
    broadcasts = (await session.scalars(select(Broadcast).where(Broadcast.reported_at.is_(None), ~still_pending))).all()
    finished = []
    for broadcast in broadcasts:
        rows = await session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.broadcast_id == broadcast.id)
            .group_by(OutboxMessage.status)
        )
        finished.append((broadcast, {OutboxStatus(status): count for status, count in rows.all()}))
    return finished


async def claim_broadcast_report(session: AsyncSession, broadcast_id: int, now: dt.datetime) -> bool:
    """Mark a broadcast reported; False if another process did first (each report is sent once)."""
    result = await session.execute(
        update(Broadcast).where(Broadcast.id == broadcast_id, Broadcast.reported_at.is_(None)).values(reported_at=now)
    )
    return result.rowcount == 1
