"""One person, two channels: a member registered on Telegram links Zalo (or the other way round).

On the channel where they are registered, `/link` shows a one-time code (6 digits, 10 minutes); on the
other channel they send `LIENKET 123456`. The account then belongs to the same member: drafts, roles and
submissions follow, and a draft in progress continues at its step; the member's other accounts are told.

Guessing is bounded in the database (`link_attempt`), not in the conversation's scratch data that /start
replaces: an account may get the code wrong 5 times an hour, and once 20 wrong codes have been typed by
anyone since a code was made, that code stops working (its owner makes a new one) — so a guesser spread
over many accounts has at most 20 tries against a million codes. Every attempt is kept; locks are audited.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets

from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from domain.rules import fold
from handlers import wizard
from handlers.context import Context, esc
from handlers.events import Reply
from storage import queries
from storage.models import AuditEvent, LinkAttempt, LinkCode, Member

CODE_LIFETIME = dt.timedelta(minutes=10)
MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(hours=1)
MAX_FAILURES_PER_CODE = 20
_LINK_TEXT = re.compile(r"/?(?:lien ?ket|link)\s+(\d{6})")


def typed_code(text: str) -> str | None:
    """The code of "LIENKET 123456" / "liên kết 123456" / "/link 123456", else None."""
    match = _LINK_TEXT.fullmatch(fold(text))
    return match.group(1) if match else None


async def create_code(ctx: Context) -> None:
    """`/link`: a fresh code for the member (earlier unused codes stop working)."""
    assert ctx.member is not None
    now = ctx.now()
    await ctx.session.execute(
        update(LinkCode).where(LinkCode.member_id == ctx.member.id, LinkCode.used_at.is_(None)).values(used_at=now)
    )
    code = f"{secrets.randbelow(1_000_000):06d}"
    ctx.session.add(LinkCode(code=code, member_id=ctx.member.id, created_at=now, expires_at=now + CODE_LIFETIME))
    ctx.say(ctx.t("link_code", code=code, minutes=int(CODE_LIFETIME.total_seconds() // 60)))


async def _account_failures(ctx: Context) -> int:
    since = ctx.now() - FAILURE_WINDOW
    return (
        await ctx.session.scalar(
            select(func.count()).where(
                LinkAttempt.platform == ctx.identity.platform,
                LinkAttempt.platform_user_id == ctx.identity.platform_user_id,
                LinkAttempt.succeeded.is_(False),
                LinkAttempt.created_at >= since,
            )
        )
        or 0
    )


async def _lock_guessed_codes(ctx: Context) -> None:
    """Codes that have had MAX_FAILURES_PER_CODE wrong guesses (by anyone) typed since they were made stop
    working; their owners are told to make a new one."""
    now = ctx.now()
    live = (await ctx.session.scalars(
        select(LinkCode).where(LinkCode.used_at.is_(None), LinkCode.expires_at > now)
    )).all()  # fmt: skip
    for code in live:
        guesses = await ctx.session.scalar(
            select(func.count()).where(LinkAttempt.succeeded.is_(False), LinkAttempt.created_at >= code.created_at)
        )
        if (guesses or 0) >= MAX_FAILURES_PER_CODE:
            code.used_at = now
            ctx.session.add(AuditEvent(actor_member_id=code.member_id, action="link_code_locked",
                                       reason=f"{guesses} wrong codes typed since it was made"))  # fmt: skip
            for identity in await queries.reachable_identities(ctx.session, {code.member_id}):
                ctx.notify(identity.platform, identity.chat_id, Reply(text=ctx.t("link_code_locked")))


async def accept(ctx: Context, code: str) -> None:
    """`LIENKET <code>` on the other channel."""
    if await _account_failures(ctx) >= MAX_FAILURES:
        ctx.say(ctx.t("link_too_many"))
        return
    now = ctx.now()
    link = await ctx.session.scalar(
        select(LinkCode).where(LinkCode.code == code, LinkCode.used_at.is_(None), LinkCode.expires_at > now)
    )
    ctx.session.add(LinkAttempt(platform=ctx.identity.platform, platform_user_id=ctx.identity.platform_user_id,
                                code=code, succeeded=link is not None, created_at=now))  # fmt: skip
    if link is None:
        await ctx.session.flush()
        await _lock_guessed_codes(ctx)
        ctx.say(ctx.t("link_bad_code"))
        return
    member = await ctx.session.scalar(
        select(Member)
        .where(Member.id == link.member_id)
        .options(selectinload(Member.branch), selectinload(Member.roles), selectinload(Member.identities))
    )
    assert member is not None
    if ctx.identity.member_id == member.id:
        ctx.say(ctx.t("link_already", name=esc(member.full_name)), menu=True)
        return
    if ctx.member is not None:
        ctx.say(ctx.t("link_other_member", name=esc(ctx.member.full_name)), menu=True)
        return
    link.used_at, link.used_by_identity_id = now, ctx.identity.id
    for other in await queries.reachable_identities(ctx.session, {member.id}):  # "was this you?"
        ctx.notify(
            other.platform,
            other.chat_id,
            Reply(
                text=ctx.t(
                    "link_notice",
                    platform=ctx.t(f"platform_{ctx.identity.platform}"),
                    name=esc(ctx.event.display_name or ctx.identity.platform_user_id),
                )
            ),
        )
    ctx.identity.member = member
    ctx.session.add(AuditEvent(actor_member_id=member.id, action="linked",
                               reason=f"{ctx.identity.platform}:{ctx.identity.platform_user_id}"))  # fmt: skip
    ctx.set_flow(None)
    branch = member.branch.name if member.branch else ctx.t("none")
    ctx.say(ctx.t("link_done", name=esc(member.full_name), branch=esc(branch)), menu=True)
    drafts = await queries.member_drafts(ctx.session, member.id)
    if drafts:  # the draft begun on the other channel continues here, at its step
        await wizard.open_draft(ctx, drafts[0])
