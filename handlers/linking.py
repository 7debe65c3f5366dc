"""One person, two channels: a member registered on Telegram links Zalo (or the other way round).

On the channel where they are registered, `/link` shows a one-time code (6 digits, 10 minutes); on the
other channel they send `LIENKET 123456`. The code's owner is then asked on their own account whether
that account is theirs («✅ Đúng là tôi» / «❌ Không phải tôi»), and only a "yes" links it: the account then
belongs to the same member (drafts, roles and submissions follow, and a draft in progress continues there
at its step). A second account typing a code already typed cancels it, and the owner is told: a code seen
over a shoulder and typed first, under the owner's own name, cannot collect the "yes" the owner meant for
themselves. A guessed code meets the same question.

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
from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, select, update

from domain.rules import fold, parse_id
from domain.text import shorten
from handlers import menus, personal_data, wizard
from handlers.context import Context, esc
from handlers.events import Option, Reply, two_a_row
from handlers.i18n import Catalog, catalog
from storage import queries
from storage.models import AuditEvent, Identity, LinkAttempt, LinkCode, Member, MemberRole, Role

CODE_LIFETIME = dt.timedelta(minutes=10)
MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(hours=1)
OTHER_PLATFORM = {"telegram": "zalo", "zalo": "telegram"}  # where a code made here is typed
PAYLOAD = "lk:"  # lk:<link code id>:<claimant identity id>:y|n — the owner's answer
NAME_SHOWN = 60  # characters of the claimant's display name shown to the owner
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
    while await _live(ctx, code) is not None:  # two live codes alike would answer to one typing
        code = f"{secrets.randbelow(1_000_000):06d}"
    ctx.session.add(LinkCode(code=code, member_id=ctx.member.id, created_at=now, expires_at=now + CODE_LIFETIME))
    here = ctx.identity.platform
    other = ctx.t(f"platform_{OTHER_PLATFORM.get(here, here)}")
    minutes = int(CODE_LIFETIME.total_seconds() // 60)
    ctx.say(ctx.t("link_code", code=code, minutes=minutes, other=other, answer_by_number=_by_number(ctx, here)))


async def _live(ctx: Context, code: str) -> LinkCode | None:
    return await ctx.session.scalar(
        select(LinkCode).where(LinkCode.code == code, LinkCode.used_at.is_(None), LinkCode.expires_at > ctx.now())
    )


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


def _account_name(t: Catalog, identity: Identity) -> dict[str, str]:
    """The account as the owner is shown it: its platform, and its name on one short line (the claimant
    chose that name: no line breaks or quotes that could dress it up as the bot's own words)."""
    name = " ".join((identity.display_name or identity.platform_user_id).replace("«", " ").replace("»", " ").split())
    return {"platform": t(f"platform_{identity.platform}"), "name": esc(shorten(name, NAME_SHOWN))}


async def accept(ctx: Context, code: str) -> None:
    """`LIENKET <code>` on the other channel: the code's owner is asked to confirm this account. A second
    account typing a code already typed cancels it (one of the two saw it over a shoulder): nobody is linked,
    and the owner is told to make a new one."""
    if await _account_failures(ctx) >= MAX_FAILURES:
        ctx.say(ctx.t("link_too_many"))
        return
    now = ctx.now()
    link = await _live(ctx, code)
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
        await _registered_here_too(ctx, code)
        return
    minutes = int(CODE_LIFETIME.total_seconds() // 60)
    if link.claimed_by_identity_id == ctx.identity.id:  # typed again: the owner is not asked twice
        ctx.say(_waiting(ctx, await queries.reachable_identities(ctx.session, {link.member_id}), minutes))
        return
    # Claimed only if nobody claimed it meanwhile (two processes, two accounts at once).
    claimed = await _update_code(ctx, link.id, LinkCode.used_at.is_(None), LinkCode.claimed_at.is_(None),
                                 claimed_by_identity_id=ctx.identity.id, claimed_at=now)  # fmt: skip
    owners = await queries.reachable_identities(ctx.session, {link.member_id})
    if not claimed:
        await _update_code(ctx, link.id, used_at=now)
        ctx.session.add(AuditEvent(actor_member_id=link.member_id, action="link_code_cancelled",
                                   reason=f"identity {ctx.identity.id} typed it after another account"))  # fmt: skip
        for owner in owners:
            told = catalog(owner.language)
            ctx.notify(owner.platform, owner.chat_id, Reply(text=told("link_code_cancelled")), language=told.language)
        ctx.say(ctx.t("link_code_cancelled_typer"))
        return
    ctx.session.add(AuditEvent(actor_member_id=link.member_id, action="link_requested",
                               reason=f"identity {ctx.identity.id}"))  # fmt: skip
    typed_at = now.astimezone(ctx.campaign.tz).strftime("%H:%M")
    rights = await _rights(ctx, link.member_id)
    for owner in owners:
        t = catalog(owner.language)
        answers = (Option(t("btn_link_yes"), f"{PAYLOAD}{link.id}:{ctx.identity.id}:y"),
                   Option(t("btn_link_no"), f"{PAYLOAD}{link.id}:{ctx.identity.id}:n"))  # fmt: skip
        # On Zalo «1» answers it (the owner waits for it: they just made the code), and «1 482913» too.
        question = Reply(text=t("link_confirm", time=typed_at, rights=t(rights) if rights else "",
                                **_account_name(t, ctx.identity)),
                         options=tuple(map(tuple, two_a_row(list(answers)))), ref=link.code,
                         awaits_answer=True)  # fmt: skip
        ctx.notify(owner.platform, owner.chat_id, question, language=t.language)
    ctx.say(_waiting(ctx, owners, minutes))


async def _registered_here_too(ctx: Context, code: str) -> None:
    """The account registered on its own before linking (the person skipped «LIENKET» at registration): while
    it has sent nothing and holds no office, the way out is erasing it, then the code again; else an admin."""
    assert ctx.member is not None
    name = esc(ctx.member.full_name)
    officer = any(role.role != Role.MEMBER for role in ctx.member.roles)
    if officer or await queries.member_submissions(ctx.session, ctx.member.id):
        ctx.say(ctx.t("link_other_member", name=name), menu=True)
        return
    ctx.say(ctx.t("link_erase_first", name=name, code=code), [[Option(ctx.t("btn_data_erase"), personal_data.ERASE)]])


def _waiting(ctx: Context, owners: Sequence[Identity], minutes: int) -> str:
    """Where the owner answers: named when the owner has one account (Telegram, Zalo)."""
    platforms = {owner.platform for owner in owners}
    if len(platforms) == 1:
        [platform] = platforms
        return ctx.t("link_waiting", minutes=minutes, owner=ctx.t(f"platform_{platform}"),
                     answer_by_number=_by_number(ctx, platform))  # fmt: skip
    return ctx.t("link_waiting", minutes=minutes, owner=ctx.t("link_owner_account"), answer_by_number="")


def _by_number(ctx: Context, platform: str) -> str:
    """Where there are no buttons (Zalo) the owner's «✅» is answered by its number."""
    return ctx.t("link_answer_by_number") if platform == "zalo" else ""


async def _rights(ctx: Context, member_id: int) -> str | None:
    """The catalog key naming what the owner's "yes" also hands over: an admin's or a chair's rights."""
    accounts = (await ctx.session.scalars(select(Identity).where(Identity.member_id == member_id))).all()
    if any(ctx.config.is_admin(account.platform, account.platform_user_id) for account in accounts):
        return "link_rights_admin"
    chair = await ctx.session.scalar(
        select(MemberRole.id).where(MemberRole.member_id == member_id, MemberRole.role == Role.CHAIR).limit(1)
    )
    return "link_rights_chair" if chair is not None else None


async def handle_option(ctx: Context) -> None:
    """The owner's answer (lk:<code id>:<claimant identity id>:y|n), checked here: only the code's owner,
    only for the account that claimed it, once, while it is fresh."""
    assert ctx.member is not None
    _, number, claimant_number, answer = [*ctx.event.payload.split(":"), "", "", ""][:4]
    link = await ctx.session.get(LinkCode, parse_id(number) or -1)
    if link is None or link.member_id != ctx.member.id:
        ctx.session.add(AuditEvent(actor_member_id=ctx.member.id, action="refused", reason=ctx.event.payload[:200]))
        ctx.say(ctx.t("err_old_button"), menu=True)
        return
    now = ctx.now()
    claimant_id = parse_id(claimant_number)
    claimant = await ctx.session.get(Identity, claimant_id) if claimant_id is not None else None
    # Answered once (whichever of the owner's accounts answers first), and only for this claimant. One who
    # registered (or was linked) meanwhile can no longer be linked: the request is gone.
    answerable = claimant is not None and claimant.member_id is None and answer in ("y", "n")
    if not answerable or not await _update_code(
        ctx, link.id, LinkCode.used_at.is_(None), LinkCode.claimed_by_identity_id == claimant_id,
        LinkCode.claimed_at > now - CODE_LIFETIME, used_at=now,
    ):  # fmt: skip
        ctx.say(ctx.t("link_request_gone", minutes=int(CODE_LIFETIME.total_seconds() // 60)), menu=True)
        return
    assert claimant is not None
    if answer == "n":
        ctx.session.add(AuditEvent(actor_member_id=ctx.member.id, action="link_refused",
                                   reason=f"identity {claimant.id}"))  # fmt: skip
        ctx.say(ctx.t("link_refused_owner", **_account_name(ctx.t, claimant)), menu=True)
        told = catalog(claimant.language)
        ctx.notify(claimant.platform, claimant.chat_id, Reply(text=told("link_refused")), language=told.language)
        return
    await _update_code(ctx, link.id, used_by_identity_id=claimant.id)
    ctx.session.add(AuditEvent(actor_member_id=ctx.member.id, action="linked", reason=f"identity {claimant.id}"))
    ctx.say(ctx.t("link_confirmed", **_account_name(ctx.t, claimant)), menu=True)
    await _welcome(ctx, claimant)


async def _update_code(ctx: Context, link_id: int, *still: ColumnElement[bool], **values: object) -> bool:
    """Write the code's row if `still` holds (another process may have answered or claimed it first)."""
    result = await ctx.session.execute(
        update(LinkCode).where(LinkCode.id == link_id, *still).values(**values)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    return result.rowcount == 1  # type: ignore[attr-defined]


async def _welcome(ctx: Context, claimant: Identity) -> None:
    """The newly linked account, told in its own chat: its menu, and the draft in progress at its step."""
    member = ctx.member
    assert member is not None
    claimant.member = member
    there = ctx.elsewhere(claimant)
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
