"""One person, two channels: a member registered on Telegram links Zalo (or the other way round).

On the channel where they are registered, `/link` shows a one-time code (6 digits, 10 minutes); on the
other channel they send `LIENKET 123456`. The account then belongs to the same member: drafts, roles and
submissions follow, and a draft in progress continues at its step. Wrong codes are limited per account.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from handlers import wizard
from handlers.context import Context, esc
from handlers.rules import fold
from storage import queries
from storage.models import AuditEvent, LinkCode, Member

CODE_LIFETIME = dt.timedelta(minutes=10)
MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(hours=1)
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


def _recent_failures(ctx: Context) -> list[str]:
    cutoff = (ctx.now() - FAILURE_WINDOW).isoformat()
    return [at for at in ctx.identity.flow_data.get("link_failures", []) if at >= cutoff]


async def accept(ctx: Context, code: str) -> None:
    """`LIENKET <code>` on the other channel."""
    failures = _recent_failures(ctx)
    if len(failures) >= MAX_FAILURES:
        ctx.say(ctx.t("link_too_many"))
        return
    now = ctx.now()
    link = await ctx.session.scalar(
        select(LinkCode).where(LinkCode.code == code, LinkCode.used_at.is_(None), LinkCode.expires_at > now)
    )
    if link is None:
        ctx.identity.flow_data = {**ctx.identity.flow_data, "link_failures": [*failures, now.isoformat()]}
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
    ctx.identity.member = member
    ctx.session.add(AuditEvent(actor_member_id=member.id, action="linked", reason=ctx.identity.platform))
    ctx.set_flow(None)
    ctx.say(ctx.t("link_done", name=esc(member.full_name), branch=esc(member.branch.name)), menu=True)
    drafts = await queries.member_drafts(ctx.session, member.id)
    if drafts:  # the draft begun on the other channel continues here, at its step
        await wizard.open_draft(ctx, drafts[0])
