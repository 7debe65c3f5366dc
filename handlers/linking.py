"""One person, two channels: a member registered on Telegram links Zalo (or the other way round).

On the channel where they are registered, `/link` shows a one-time code (6 digits, 10 minutes); on the
other channel they send `LIENKET 123456`. The code's owner is then asked on their own account whether
that account is theirs («✅ Đúng là tôi» / «❌ Không phải tôi»), and only a "yes" links it: the account then
belongs to the same member (drafts, roles and submissions follow, and a draft in progress continues there
at its step). A code seen over a shoulder or guessed gives nobody an account, an admin's or a chair's role.

Guessing is bounded in the database (`link_attempt`), not in the conversation's scratch data that /start
replaces: an account may get the code wrong 5 times an hour. Wrong guesses do not lock anyone's code (they
did once: 20 wrong codes typed by anyone locked every live code, so a few accounts could stop everyone
from linking); the owner's confirmation is what a right guess meets. Every attempt is kept and audited.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import secrets

from sqlalchemy import func, select, update

from domain.rules import fold, parse_id
from handlers import menus, wizard
from handlers.context import Context, esc
from handlers.events import Option, Reply
from storage import queries
from storage.models import AuditEvent, Identity, LinkAttempt, LinkCode, Member

CODE_LIFETIME = dt.timedelta(minutes=10)
MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(hours=1)
PAYLOAD = "lk:"  # lk:<link code id>:y|n — the owner's answer
_LINK_TEXT = re.compile(r"/?(?:lien ?ket|link)\s+(\d{6})[.!]?")  # a full stop typed after it too


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


def _account_name(ctx: Context, identity: Identity) -> dict[str, str]:
    return {"platform": ctx.t(f"platform_{identity.platform}"),
            "name": esc(identity.display_name or identity.platform_user_id)}  # fmt: skip


async def accept(ctx: Context, code: str) -> None:
    """`LIENKET <code>` on the other channel: the code's owner is asked to confirm this account."""
    if await _account_failures(ctx) >= MAX_FAILURES:
        ctx.say(ctx.t("link_too_many"))
        return
    now = ctx.now()
    link = await ctx.session.scalar(
        select(LinkCode).where(LinkCode.code == code, LinkCode.used_at.is_(None), LinkCode.expires_at > now)
    )
    if link is not None and link.claimed_by_identity_id not in (None, ctx.identity.id):
        link = None  # another account typed it first: its owner answers that one
    ctx.session.add(LinkAttempt(platform=ctx.identity.platform, platform_user_id=ctx.identity.platform_user_id,
                                code=code, succeeded=link is not None, created_at=now))  # fmt: skip
    if link is None:
        ctx.say(ctx.t("link_bad_code"))
        return
    if ctx.identity.member_id == link.member_id:
        owner = await ctx.session.get(Member, link.member_id)
        ctx.say(ctx.t("link_already", name=esc(owner.full_name if owner else "")), menu=True)
        return
    if ctx.member is not None:
        ctx.say(ctx.t("link_other_member", name=esc(ctx.member.full_name)), menu=True)
        return
    minutes = int(CODE_LIFETIME.total_seconds() // 60)
    if link.claimed_by_identity_id is None:  # typed again, the owner is not asked twice
        link.claimed_by_identity_id, link.claimed_at = ctx.identity.id, now
        ctx.session.add(AuditEvent(actor_member_id=link.member_id, action="link_requested",
                                   reason=f"{ctx.identity.platform}:{ctx.identity.platform_user_id}"))  # fmt: skip
        answers = (Option(ctx.t("btn_link_yes"), f"{PAYLOAD}{link.id}:y"),
                   Option(ctx.t("btn_link_no"), f"{PAYLOAD}{link.id}:n"))  # fmt: skip
        # The owner waits for it (they just made the code): on Zalo a bare "1" answers it.
        question = Reply(text=ctx.t("link_confirm", **_account_name(ctx, ctx.identity)), options=(answers,),
                         awaits_answer=True)  # fmt: skip
        for owner_account in await queries.reachable_identities(ctx.session, {link.member_id}):
            ctx.notify(owner_account.platform, owner_account.chat_id, question)
    ctx.say(ctx.t("link_waiting", minutes=minutes))


async def handle_option(ctx: Context) -> None:
    """The owner's answer (lk:<id>:y|n), checked here: only the code's owner, once, while it is fresh."""
    assert ctx.member is not None
    _, number, answer = [*ctx.event.payload.split(":"), "", ""][:3]
    link = await ctx.session.get(LinkCode, parse_id(number) or -1)
    if link is None or link.member_id != ctx.member.id:
        ctx.session.add(AuditEvent(actor_member_id=ctx.member.id, action="refused", reason=ctx.event.payload[:200]))
        ctx.say(ctx.t("err_old_button"), menu=True)
        return
    now = ctx.now()
    claimant = await ctx.session.get(Identity, link.claimed_by_identity_id) if link.claimed_by_identity_id else None
    fresh = link.claimed_at is not None and link.claimed_at + CODE_LIFETIME > now
    # A claimant who registered (or was linked) meanwhile can no longer be linked: the request is gone.
    open_request = link.used_at is None and claimant is not None and claimant.member_id is None and fresh
    if not open_request or claimant is None or answer not in ("y", "n"):
        ctx.say(ctx.t("link_request_gone", minutes=int(CODE_LIFETIME.total_seconds() // 60)), menu=True)
        return
    link.used_at = now
    account = f"{claimant.platform}:{claimant.platform_user_id}"
    if answer == "n":
        ctx.session.add(AuditEvent(actor_member_id=ctx.member.id, action="link_refused", reason=account))
        ctx.say(ctx.t("link_refused_owner", **_account_name(ctx, claimant)), menu=True)
        ctx.notify(claimant.platform, claimant.chat_id, Reply(text=ctx.t("link_refused")))
        return
    link.used_by_identity_id = claimant.id
    ctx.session.add(AuditEvent(actor_member_id=ctx.member.id, action="linked", reason=account))
    ctx.say(ctx.t("link_confirmed", **_account_name(ctx, claimant)), menu=True)
    await _welcome(ctx, claimant)


async def _welcome(ctx: Context, claimant: Identity) -> None:
    """The newly linked account, told in its own chat: its menu, and the draft in progress at its step."""
    member = ctx.member
    assert member is not None
    claimant.member = member
    event = dataclasses.replace(ctx.event, platform=claimant.platform, user_id=claimant.platform_user_id,
                                chat_id=claimant.chat_id, payload="", text="")  # fmt: skip
    there = Context(services=ctx.services, session=ctx.session, event=event, identity=claimant)
    there.set_flow(None)
    branch = member.branch.name if member.branch else there.t("none")
    there.say(there.t("link_done", name=esc(member.full_name), branch=esc(branch)), menu=True)
    drafts = await queries.member_drafts(ctx.session, member.id)
    if drafts:  # the draft begun on the other channel continues there, at its step
        await wizard.open_draft(there, drafts[0])
    labels, role = await menus.labels(there), menus.role(there)
    for reply in there.replies:
        shown = dataclasses.replace(reply, menu=labels, commands=role) if reply.menu else reply
        ctx.notify(claimant.platform, claimant.chat_id, dataclasses.replace(shown, awaits_answer=True))
