"""Telling people: one notice per person (on the account they used last, whatever channels they linked),
never to whoever caused it, always through the outbox, in the reader's language."""

from __future__ import annotations

from collections.abc import Callable

from handlers.context import Context
from handlers.events import Reply
from storage import queries
from storage.models import Initiative

Notice = Callable[[Context], Reply]  # the notice as its reader's context words it (their language)


async def notify_members(
    ctx: Context, member_ids: set[int], notice: Notice, *, purpose: str, initiative_id: int | None = None
) -> int:
    """Queue the notice for each member (but the one acting), worded for each; returns how many were queued."""
    member_ids = member_ids - {ctx.member.id if ctx.member else 0}
    identities = await queries.preferred_identities(ctx.session, member_ids)
    for identity in identities.values():
        there = ctx.elsewhere(identity)
        ctx.notify(identity.platform, identity.chat_id, notice(there), purpose=purpose, initiative_id=initiative_id,
                   language=there.t.language)  # fmt: skip
    return len(identities)


def author_ids(initiative: Initiative) -> set[int]:
    """Whoever submitted it and the registered co-authors who confirmed it is theirs."""
    return {initiative.member_id, *(a.member_id for a in initiative.authors if a.member_id and a.confirmed)}


async def notify_authors(ctx: Context, initiative: Initiative, notice: Notice, *, purpose: str) -> None:
    await notify_members(ctx, author_ids(initiative), notice, purpose=purpose, initiative_id=initiative.id)


async def notify_chairs_of(ctx: Context, branch_id: int, notice: Notice, *, purpose: str, initiative_id: int) -> None:
    chair_ids = await queries.branch_chair_ids(ctx.session, branch_id)
    await notify_members(ctx, chair_ids, notice, purpose=purpose, initiative_id=initiative_id)
