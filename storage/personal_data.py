"""Personal data (Nghị định 13/2023/NĐ-CP): everything stored about one member, and its erasure.

Erasure keeps what the campaign's records must keep — recognised initiatives, and those entered on the
portal (they count toward the campaign and name their authors) — with the author's personal details
(workplace, date of birth, job title, qualification) removed, and the initiatives an officer entered for
members and handed to the branch (the members' work, not his). It deletes everything else: the other
initiatives with their files, the accounts on every platform (ids, chats, names), roles, link codes and
attempts, messages queued or sent to those chats, and the member's name (replaced by a number), also where
another person's initiative not yet counted names him as co-author. The audit trail keeps its rows (they
point at the anonymised member) and records the erasure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    COUNTED,
    AuditEvent,
    Author,
    Identity,
    Initiative,
    LinkAttempt,
    LinkCode,
    Member,
    MemberRole,
    OptionMenu,
    OutboxMessage,
    Status,
)

# Counted toward the campaign: kept on erasure (anonymised).
KEPT = COUNTED
# An erased co-author's name in another person's initiative not yet counted (the forms leave it blank to fill).
ERASED_AUTHOR = "(đã xoá)"


def is_erased(name: str) -> bool:
    """An erased person's name: «(đã xoá)», or «(đã xoá #9)» as a member's and as author rows were before."""
    return name.startswith("(đã xoá")


PERSONAL_FIELDS = ("workplace", "birth_date", "job_title", "qualification")


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


async def collect(session: AsyncSession, member: Member) -> dict[str, Any]:
    """Everything stored about the member, as plain data (shown to them and given as a file)."""
    identities = (await session.scalars(select(Identity).where(Identity.member_id == member.id))).all()
    initiatives = (
        await session.scalars(select(Initiative).where(Initiative.member_id == member.id).order_by(Initiative.id))
    ).all()
    authorships = (
        (await session.execute(select(Author).where(Author.member_id == member.id).order_by(Author.initiative_id)))
        .scalars()
        .all()
    )
    actions = (
        await session.execute(
            select(AuditEvent.action, func.count())
            .where(AuditEvent.actor_member_id == member.id)
            .group_by(AuditEvent.action)
        )
    ).all()
    roles = (await session.scalars(select(MemberRole).where(MemberRole.member_id == member.id))).all()
    return {
        "member": {
            "id": member.id,
            "full_name": member.full_name,
            "branch": member.branch.name if member.branch else None,
            "registered_at": _iso(member.created_at),
            **{name: _iso(getattr(member, name)) for name in PERSONAL_FIELDS},
        },
        "roles": [{"role": role.role.value, "branch_id": role.branch_id} for role in roles],
        "accounts": [
            {
                "platform": i.platform,
                "user_id": i.platform_user_id,
                "chat_id": i.chat_id,
                "name": i.display_name,
                "language": i.language,
                "first_seen": _iso(i.created_at),
            }
            for i in identities
        ],
        "initiatives": [
            {
                "id": i.id,
                "title": i.title,
                "status": i.status.value,
                "created_at": _iso(i.created_at),
            }
            for i in initiatives
        ],
        "author_of": [
            {
                "initiative": author.initiative_id,
                "name": author.full_name,
                "share_percent": author.share_percent,
                **{name: _iso(getattr(author, name)) for name in PERSONAL_FIELDS},
            }
            for author in authorships
        ],
        "actions_recorded": {action: count for action, count in actions},
    }


@dataclass(frozen=True)
class Erased:
    kept: int
    deleted: int
    # (initiative id, title, who sent it) of others' initiatives not yet counted that named him: its sender is told.
    unnamed_in: tuple[tuple[int, str, int], ...] = ()


async def erase(session: AsyncSession, member: Member, now: dt.datetime) -> Erased:
    """Erase the member's personal data (see the module's docstring), inside the caller's transaction. The
    caller's ORM objects of the member's accounts are stale afterwards: expunge them."""
    await session.flush()
    chats = (
        await session.execute(select(Identity.platform, Identity.chat_id).where(Identity.member_id == member.id))
    ).all()
    accounts = (
        await session.execute(
            select(Identity.platform, Identity.platform_user_id).where(Identity.member_id == member.id)
        )
    ).all()
    own = Initiative.member_id == member.id
    # An officer's entries for members are the members' work: kept once handed to the branch (its draft is
    # his alone, and goes); his own work goes unless counted.
    entered_and_handed = Initiative.entered_by_member_id.is_not(None) & (Initiative.status != Status.DRAFT)
    goes = own & Initiative.status.not_in(KEPT) & ~entered_and_handed
    deleted = await session.scalar(select(func.count()).where(goes)) or 0
    kept = (await session.scalar(select(func.count()).where(own)) or 0) - deleted
    await session.execute(delete(Initiative).where(goes))
    anonymous = f"(đã xoá #{member.id})"
    counted = select(Initiative.id).where(Initiative.status.in_(COUNTED)).scalar_subquery()
    naming = Author.member_id == member.id, Author.initiative_id.not_in(counted)
    unnamed_in = (
        await session.execute(
            select(Initiative.id, Initiative.title, Initiative.member_id)
            .join(Author, Author.initiative_id == Initiative.id)
            .where(*naming, Initiative.member_id != member.id)
            .distinct()
        )
    ).all()
    await session.execute(update(Author).where(*naming).values(full_name=ERASED_AUTHOR))  # another's names him no more
    await session.execute(
        update(Author).where(Author.member_id == member.id).values(member_id=None, **dict.fromkeys(PERSONAL_FIELDS))
    )
    if chats:
        pairs = [tuple(chat) for chat in chats]
        await session.execute(
            delete(OutboxMessage).where(tuple_(OutboxMessage.platform, OutboxMessage.chat_id).in_(pairs))
        )
        await session.execute(delete(OptionMenu).where(tuple_(OptionMenu.platform, OptionMenu.chat_id).in_(pairs)))
    if accounts:
        await session.execute(
            delete(LinkAttempt).where(
                or_(*((LinkAttempt.platform == p) & (LinkAttempt.platform_user_id == u) for p, u in accounts))
            )
        )
    await session.execute(delete(LinkCode).where(LinkCode.member_id == member.id))
    await session.execute(delete(MemberRole).where(MemberRole.member_id == member.id))
    await session.execute(delete(Identity).where(Identity.member_id == member.id))
    await session.execute(
        update(Member).where(Member.id == member.id).values(full_name=anonymous, **dict.fromkeys(PERSONAL_FIELDS))
    )
    session.add(AuditEvent(actor_member_id=member.id, action="data_erased", created_at=now,
                           reason=f"kept {kept} counted or entered initiative(s), deleted {deleted}"))  # fmt: skip
    await session.flush()
    return Erased(kept=kept, deleted=deleted, unnamed_in=tuple((i, t or "", m) for i, t, m in unnamed_in))
