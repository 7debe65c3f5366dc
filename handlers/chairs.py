"""Who becomes a chair: admins create one-time invites (a deep link), list chairs and remove them."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from domain.rules import parse_id
from domain.text import shorten
from handlers import menus, paging, unit_codes
from handlers.context import Context, esc
from handlers.events import Option, Reply
from handlers.roles import chaired_branch_ids, is_admin, refuse
from handlers.unit_codes import unknown_unit
from storage import org_tree, queries
from storage.models import AuditEvent, Branch, ChairInvite, Member, MemberRole, Role

INVITE_DAYS = 7
INVITE_PREFIX = "c_"


async def create_invite(session: AsyncSession, branch: Branch, created_by: str, now: dt.datetime) -> ChairInvite:
    """Shared by `/invite_chair` and `sangkien invite-chair`."""
    token = secrets.token_urlsafe(12)
    return await queries.create_chair_invite(session, branch, created_by, token, now + dt.timedelta(days=INVITE_DAYS))


def _refuse_non_admin(ctx: Context, command: str) -> bool:
    if is_admin(ctx):
        return False
    refuse(ctx, None, command, "admin_only")
    return True


async def invite_chair(ctx: Context) -> None:
    """`/invite_chair <unit code>`: admins, for any unit; an officer of an upper unit, for the units under it
    (the khối invites its CĐCS chairs)."""
    chaired = chaired_branch_ids(ctx)
    if not is_admin(ctx) and not chaired:
        refuse(ctx, None, "/invite_chair", "officer_only")
        return
    if not is_admin(ctx) and not await org_tree.subtree_ids(ctx.session, chaired) - chaired:
        refuse(ctx, None, "/invite_chair", "invite_needs_upper_unit")  # a CĐCS chair: no unit below his
        return
    typed = ctx.event.args.strip()
    branch, unknown = await unit_codes.branch_typed(ctx, typed, None) if typed else (None, "")
    if branch is None:
        ctx.say((unknown + "\n" if unknown else "") + ctx.t("invite_usage"))
        return
    if not is_admin(ctx) and branch.id not in await org_tree.subtree_ids(ctx.session, chaired) - chaired:
        refuse(ctx, None, f"/invite_chair {branch.code}")
        return
    invite = await create_invite(
        ctx.session, branch, f"{ctx.identity.platform}:{ctx.identity.platform_user_id}", ctx.now()
    )
    ctx.session.add(AuditEvent(actor_member_id=ctx.member.id if ctx.member else None, action="chair_invited",
                               reason=branch.code))  # fmt: skip
    payload = INVITE_PREFIX + invite.token
    link = ctx.deep_link(payload)
    upper = await queries.has_child_units(ctx.session, branch.id)
    text = ctx.t("invite_created_upper" if upper else "invite_created", branch=esc(branch.name), link=esc(link),
                 days=INVITE_DAYS)  # fmt: skip
    if link.startswith("/"):  # no links on this platform (Zalo): the invited person types the command
        text += "\n" + ctx.t("invite_typed")
    if present := [esc(member.full_name) for _, member, _ in await queries.branch_chairs(ctx.session, branch.id)]:
        text += "\n" + ctx.t("invite_has_chairs", names=", ".join(present), code=esc(branch.code))
    for platform, way in sorted(ctx.services.deep_links.items()):  # the invited person may use the other one
        if platform != ctx.event.platform:
            text += "\n" + ctx.t(f"invite_on_{platform}", link=esc(way(payload)))
    ctx.say(text)


async def _inviter_may_still_invite(ctx: Context, invite: ChairInvite) -> bool:
    """An invitation is only as good as its maker's role when it is opened: the command line, an admin, or
    an officer who still chairs a unit above the invited one."""
    if invite.created_by == "cli":
        return True
    platform, _, user_id = invite.created_by.partition(":")
    if ctx.config.is_admin(platform, user_id):
        return True
    inviter = await queries.identity_of_account(ctx.session, platform, user_id)
    member = inviter.member if inviter is not None else None
    if member is None:
        return False
    if any(ctx.config.is_admin(i.platform, i.platform_user_id) for i in member.identities):
        return True
    chaired = {role.branch_id for role in member.roles if role.role == Role.CHAIR and role.branch_id is not None}
    return invite.branch_id in await org_tree.subtree_ids(ctx.session, chaired) - chaired


def _made_by(invite: ChairInvite, ctx: Context, member: Member) -> bool:
    """The invite was made from one of this person's accounts."""
    accounts = {ctx.identity, *member.identities}
    return invite.created_by in {f"{account.platform}:{account.platform_user_id}" for account in accounts}


async def accept_invite(ctx: Context, member: Member, token: str) -> None:
    """Make `member` a chair through a still-valid invite (single use), made by someone else: an officer
    who opened his own invite would make himself chair of a unit below his, which no admin gave him (the
    invite stays valid for the person it was meant for)."""
    unused = await queries.valid_chair_invite(ctx.session, token, ctx.now())
    if unused is not None and _made_by(unused, ctx, member):
        refuse(ctx, None, f"own chair invite to {unused.branch.code}", "invite_own")
        return
    invite = await queries.use_chair_invite(ctx.session, token, member, ctx.now())
    if invite is None:
        ctx.say(ctx.t("invite_invalid"), menu=True)
        return
    if not await _inviter_may_still_invite(ctx, invite):
        refuse(ctx, None, f"chair invite to {invite.branch.code} from {invite.created_by}", "invite_invalid")
        return
    await queries.add_role(ctx.session, member, Role.CHAIR, invite.branch_id)
    ctx.session.add(AuditEvent(actor_member_id=member.id, action="chair_added", reason=invite.branch.code))
    await ctx.session.refresh(member, ["roles"])
    has_units_below = await queries.has_child_units(ctx.session, invite.branch_id)
    ctx.say(ctx.t("invite_accepted_upper" if has_units_below else "invite_accepted", branch=esc(invite.branch.name)),
            menu=True)  # fmt: skip
    await _tell_inviter(ctx, invite, member)


async def _tell_inviter(ctx: Context, invite: ChairInvite, member: Member) -> None:
    """Whoever made the invitation learns it was taken, and by whom (the command line has nobody to tell)."""
    platform, _, user_id = invite.created_by.partition(":")
    inviter = await queries.identity_of_account(ctx.session, platform, user_id) if user_id else None
    if inviter is None or inviter.member_id == member.id:
        return
    there = ctx.elsewhere(inviter)
    notice = Reply(text=there.t("invite_taken", name=esc(member.full_name), branch=esc(invite.branch.name)))
    ctx.notify(inviter.platform, inviter.chat_id, notice, language=there.t.language)


PER_PAGE = 8  # chairs a page, each with its remove button: what a phone's screen holds


async def list_chairs(ctx: Context) -> None:
    """`/chairs [unit code or name]` (admins): chairs with their unit's code and a remove button each, which
    asks before it removes; a page at a time."""
    if _refuse_non_admin(ctx, "/chairs"):
        return
    code = ctx.event.args.strip()
    branch = await queries.branch_by_code(ctx.session, code) if code else None
    if code and branch is None:  # a name typed: the one unit it names, else the units it may mean
        branch, matches = await unit_codes.unit_named(ctx, code)
        if branch is None:  # not the whole list instead: he asked for one unit
            ctx.say(await unknown_unit(ctx, code, matches))
            return
    await _show_chairs(ctx, branch.id if branch else None, 0)


async def _show_chairs(ctx: Context, branch_id: int | None, number: int, *, replace: bool = False) -> None:
    rows = await queries.branch_chairs(ctx.session, branch_id)
    if not rows:
        ctx.say(ctx.t("chairs_empty") + "\n" + ctx.t("chairs_how_to_invite"), replace_origin=replace)
        return
    page = paging.page_of(rows, number, PER_PAGE)
    title = ctx.t("chairs_title", count=len(rows))
    if page.count > 1:
        title = ctx.t("chairs_title_paged", count=len(rows), page=page.number + 1, pages=page.count)
    lines = [title]
    options = []
    for role, member, chaired in page.items:
        lines.append(f"• {esc(member.full_name)} — {esc(chaired.name)} ({esc(chaired.code)})")
        label = ctx.t("btn_remove_chair", name=shorten(member.full_name, 30), code=chaired.code[:16])
        options.append([Option(label, f"ch:rm:{role.id}:{page.number}:{branch_id or 0}")])
    if page.count > 1 and branch_id is None:
        lines.append(ctx.t("chairs_one_unit"))
    lines.append(ctx.t("chairs_how_to_invite"))
    options.append(paging.nav_row(ctx.t, page, lambda n: f"ch:pg:{n}:{branch_id or 0}"))
    ctx.say("\n".join(lines), options, replace_origin=replace)


async def handle_option(ctx: Context) -> None:
    """ch:rm:<role id> asks, ch:rmok:<role id> removes, ch:keep keeps — each followed by the list's place
    (:<page>:<unit id or 0>), shown again after —, ch:pg:<page>:<unit id or 0> turns the list's page (admins,
    checked at every press)."""
    parts = ctx.event.payload.split(":")
    if _refuse_non_admin(ctx, ctx.event.payload):
        return
    action = parts[1] if len(parts) > 1 else ""
    if action == "pg" and len(parts) == 4:
        await _show_chairs(ctx, parse_id(parts[3]) or None, parse_id(parts[2]) or 0, replace=True)
        return
    with_place = (action == "keep" and len(parts) == 4) or (action in ("rm", "rmok") and len(parts) == 5)
    place = f"{parts[-2]}:{parts[-1]}" if with_place else ""
    if action == "keep":
        ctx.say(ctx.t("chair_kept"), replace_origin=True)
        await _show_place(ctx, place)
        return
    role_id = (parse_id(parts[2]) if action in ("rm", "rmok") and len(parts) in (3, 5) else None) or 0
    role = await ctx.session.get(MemberRole, role_id)
    if role is None or role.role != Role.CHAIR:
        ctx.say(ctx.t("chair_already_removed"))
        return
    member = await ctx.session.get(Member, role.member_id)
    branch = await ctx.session.get(Branch, role.branch_id)
    name, unit = esc(member.full_name if member else "?"), esc(branch.name if branch else "?")
    if parts[1] == "rm":
        suffix = f":{place}" if place else ""
        choice = [Option(ctx.t("btn_keep_chair"), f"ch:keep{suffix}"),  # the safe choice first (Zalo's «1»)
                  Option(ctx.t("btn_remove_chair_ok"), f"ch:rmok:{role_id}{suffix}")]  # fmt: skip
        ctx.say(ctx.t("chair_remove_ask", name=name, branch=unit), [choice])
        return
    await ctx.session.execute(delete(MemberRole).where(MemberRole.id == role_id))
    ctx.session.add(
        AuditEvent(actor_member_id=ctx.member.id if ctx.member else None, action="chair_removed",
                   reason=f"{member.full_name if member else '?'} @ {branch.code if branch else '?'}")
    )  # fmt: skip
    told = await _tell_removed(ctx, role.member_id, unit)
    lines = [ctx.t("chair_removed", name=name, branch=unit)] + ([ctx.t("chair_removed_told")] if told else [])
    if branch is not None and not await queries.branch_chair_ids(ctx.session, branch.id):
        waiting = len(await queries.pending_authorship(ctx.session, {branch.id}))
        lines.append(ctx.t("chair_none_left", branch=unit, code=esc(branch.code), count=waiting))
    ctx.say("\n".join(lines), replace_origin=True)
    await _show_place(ctx, place)


async def _show_place(ctx: Context, place: str) -> None:
    """The list's page the admin was on ("<page>:<unit id or 0>"), again: the next chair is one tap away."""
    page, _, unit = place.partition(":")
    if place and (number := parse_id(page)) is not None:
        await _show_chairs(ctx, parse_id(unit) or None, number)


async def _tell_removed(ctx: Context, member_id: int, unit: str) -> bool:
    """The former chair told, on the account they used last, in their language and with the menu of the
    roles they still hold (a reply keyboard would otherwise keep offering «📥 Chờ xác nhận»)."""
    if ctx.member is not None and member_id == ctx.member.id:
        return False  # an admin who removed himself knows
    preferred = (await queries.preferred_identities(ctx.session, {member_id})).get(member_id)
    if preferred is None:
        return False
    identity = await queries.identity_of_account(ctx.session, preferred.platform, preferred.platform_user_id)
    assert identity is not None
    there = ctx.elsewhere(identity)
    notice = Reply(text=there.t("chair_removed_notice", branch=unit), menu=await menus.labels(there),
                   commands=menus.role(there))  # fmt: skip
    ctx.notify(identity.platform, identity.chat_id, notice, language=there.t.language)
    return True
