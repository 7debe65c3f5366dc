"""Who may do what, decided on the server from stored roles — never from what a button says."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol

from domain.text import fold
from handlers.context import Context
from storage.models import AuditEvent, Initiative, Member, Role, Status

log = logging.getLogger(__name__)


def is_admin(ctx: Context) -> bool:
    """Provincial admins are the accounts listed in SANGKIEN_ADMINS — and, once registered, the person
    behind them on every channel they linked."""
    identity, config = ctx.identity, ctx.config
    if config.is_admin(identity.platform, identity.platform_user_id):
        return True
    member = ctx.member
    return member is not None and any(config.is_admin(i.platform, i.platform_user_id) for i in member.identities)


def chaired_branch_ids(ctx: Context) -> set[int]:
    member = ctx.member
    if member is None:
        return set()
    return {role.branch_id for role in member.roles if role.role == Role.CHAIR and role.branch_id is not None}


def may_enter_for(ctx: Context, branch_id: int | None) -> bool:
    """May enter initiatives for the members of a branch (plan V.4): its chair, or an admin."""
    return is_admin(ctx) or branch_id in chaired_branch_ids(ctx)


def can_review(ctx: Context, initiative: Initiative) -> bool:
    """Chairs of the initiative's branch and admins, once it has been submitted: a draft is its author's
    alone (nobody else reads it, or its Word form with the author's date of birth)."""
    return (
        ctx.member is not None
        and initiative.status != Status.DRAFT
        and (is_admin(ctx) or initiative.branch_id in chaired_branch_ids(ctx))
    )


def is_author(ctx: Context, initiative: Initiative) -> bool:
    return ctx.member is not None and names(initiative, ctx.member)


class AuthorRow(Protocol):
    """What the name rule reads of an author row: an `Author`, or a plain row of those columns."""

    full_name: str
    member_id: int | None
    confirmed: bool | None


def names(initiative: Initiative, member: Member) -> bool:
    """The member is, or may be, one of its authors: its submitter (unless an officer who entered it for
    members: entering is not authorship), named among them as a registered member, or named among them by
    his own name (accents and case aside) on a row not known to be someone else's — an officer who typed his
    own name into an entry for members, a co-author who answered "not me" — so nobody judges work that names
    him. A row linked to another registered member who confirmed it is that person's, whatever the name."""
    return names_among(member, initiative.member_id, initiative.entered_by_member_id, initiative.authors)


def names_among(member: Member, submitter_id: int, entered_by_id: int | None, authors: Iterable[AuthorRow]) -> bool:
    """`names` on an initiative's columns and author rows (the chair's menu counts without loading them)."""
    own_entry = submitter_id == member.id and entered_by_id is None
    name = fold(member.full_name)
    return own_entry or any(_names(author, member, name) for author in authors)


def _names(author: AuthorRow, member: Member, name: str) -> bool:
    if author.member_id == member.id:
        return True
    someone_else = author.member_id is not None and bool(author.confirmed)
    return not someone_else and fold(author.full_name) == name


def can_decide(ctx: Context, initiative: Initiative) -> bool:
    """May verify, send back or reject it: a reviewer who is not one of its authors (nobody judges their
    own work, admins included)."""
    return can_review(ctx, initiative) and not is_author(ctx, initiative)


def can_view(ctx: Context, initiative: Initiative) -> bool:
    return ctx.member is not None and (initiative.member_id == ctx.member.id or can_review(ctx, initiative))


def refuse(ctx: Context, initiative: Initiative | None, what: str, message_key: str = "review_not_allowed") -> None:
    """A polite refusal that reveals nothing, with the attempt logged and audited (on the initiative's own
    trail when it exists; what was asked for — a forged number too — is in the reason)."""
    member_id = ctx.member.id if ctx.member else None
    log.warning(
        "refused %r by %s:%s (member %s)", what, ctx.identity.platform, ctx.identity.platform_user_id, member_id
    )
    ctx.session.add(
        AuditEvent(
            initiative_id=initiative.id if initiative is not None else None,
            actor_member_id=member_id,
            action="refused",
            reason=what[:200],
        )
    )
    ctx.press_not_taken()
    if message_key in ("review_not_allowed", "officer_only") and (is_admin(ctx) or chaired_branch_ids(ctx)):
        message_key = "review_not_allowed_officer"  # not told to ask for the invitation he has used
    ctx.say(ctx.t(message_key))
