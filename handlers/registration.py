"""Registration: short intro → choose the branch (paged, filter by typing part of a name) → full name."""

from __future__ import annotations

from domain import rules
from domain.rules import InputError
from domain.text import shorten
from handlers import paging
from handlers.chairs import INVITE_PREFIX, accept_invite
from handlers.context import Context, esc
from handlers.events import EventKind, Option
from storage import queries
from storage.models import AuditEvent, Branch
from storage.unit_directory import Unit

FLOW = "register"


async def start(ctx: Context, args: str) -> None:
    """`/start [b_<branchcode>]` for someone not registered yet."""
    campaign = ctx.campaign
    ctx.say(ctx.t("intro", campaign=esc(campaign.name), organisation=esc(campaign.organisation)))
    if await queries.branch_count(ctx.session) == 0:  # a fresh deployment: nothing to choose from yet
        ctx.set_flow(None)
        ctx.say(ctx.t("reg_no_branches"))
        return
    branch = None
    invite = None
    if args.startswith(INVITE_PREFIX):
        invite = await queries.valid_chair_invite(ctx.session, args.removeprefix(INVITE_PREFIX), ctx.now())
        branch = invite.branch if invite else None
        if invite is None:
            ctx.say(ctx.t("invite_invalid"))
    elif args.lower().startswith("b_"):
        branch = await queries.branch_by_code(ctx.session, args[2:])
        if branch is None:
            ctx.say(ctx.t("reg_unknown_branch", code=esc(args[2:34])))
    if branch is not None:
        await _ask_name(ctx, branch, invite=invite.token if invite else "")
    else:
        ctx.set_flow(FLOW, step="branch", query="", page=0)
        await _show_branches(ctx)


async def _filtered(ctx: Context, query: str) -> list[Unit]:
    return await queries.branches_matching(ctx.session, query)


async def _show_branches(ctx: Context, *, replace: bool = False) -> None:
    data = ctx.identity.flow_data
    query: str = data.get("query", "")
    branches = await _filtered(ctx, query)
    page = paging.page_of(branches, int(data.get("page", 0)), ctx.config.settings.branches_per_page)
    if query and not branches:
        ctx.say(ctx.t("reg_no_match", query=esc(query)), [[Option(ctx.t("btn_show_all"), "reg:all")]])
        return
    text = ctx.t("reg_choose_branch_filtered", query=esc(query), count=len(branches)) if query else ""
    text += ctx.t("reg_choose_found" if query else "reg_choose_branch", page=page.number + 1, pages=page.count)
    rows = [[Option(branch.name, f"reg:b:{branch.code}", keep_end=True)] for branch in page.items]
    rows.append(paging.nav_row(ctx.t, page, lambda number: f"reg:p:{number}"))
    if query:
        rows.append([Option(ctx.t("btn_show_all"), "reg:all")])
    ctx.say(text, rows, replace_origin=replace)


async def _ask_name(ctx: Context, branch: Branch, invite: str = "") -> None:
    ctx.set_flow(FLOW, step="name", branch=branch.code, invite=invite)
    rows = [[Option(ctx.t("btn_change_branch"), "reg:chg")]]
    suggestion = " ".join(ctx.event.display_name.split())
    try:
        rules.parse_person_name(suggestion)
        rows.insert(0, [Option(ctx.t("btn_use_name", name=shorten(suggestion, 40)), "reg:me")])
    except InputError:
        pass
    ctx.say(ctx.t("reg_ask_name", branch=esc(branch.name)), rows)


async def _finish(ctx: Context, full_name: str) -> None:
    branch = await queries.branch_by_code(ctx.session, ctx.identity.flow_data.get("branch", ""))
    invite = ctx.identity.flow_data.get("invite", "")
    if branch is None:
        ctx.set_flow(FLOW, step="branch", query="", page=0, invite=invite)
        await _show_branches(ctx)
        return
    member = await queries.register_member(ctx.session, ctx.identity, full_name, branch)
    ctx.set_flow(None)
    ctx.say(ctx.t("reg_done", name=esc(full_name), branch=esc(branch.name)), menu=True)
    if invite:
        await accept_invite(ctx, member, invite)


def _moving(ctx: Context) -> dict[str, bool]:
    return {"moving": True} if ctx.identity.flow_data.get("moving") else {}


async def start_move(ctx: Context) -> None:
    """`/doicdcs`: a member who chose the wrong branch (or moved to another unit) chooses again. What they sent
    stays where it was sent (its chair decided or decides it; it counts there); drafts move; an office held is
    not a membership and stays."""
    member = ctx.member
    assert member is not None
    if member.branch_id is None:  # an admin without a branch: «/start b_CODE» joins one
        ctx.say(ctx.t("admin_needs_branch"), menu=True)
        return
    ctx.set_flow(FLOW, step="branch", query="", page=0, moving=True)
    ctx.say(ctx.t("move_intro", branch=esc(member.branch.name if member.branch else "")))
    await _show_branches(ctx)


async def _move(ctx: Context, branch: Branch) -> None:
    member = ctx.member
    assert member is not None
    ctx.set_flow(None)
    if branch.id == member.branch_id:
        ctx.say(ctx.t("move_same", branch=esc(branch.name)), menu=True)
        return
    before = member.branch.code if member.branch else "?"
    await queries.move_member(ctx.session, member, branch)
    ctx.session.add(AuditEvent(actor_member_id=member.id, action="branch_changed", reason=f"{before} → {branch.code}"))
    sent = await queries.member_submissions(ctx.session, member.id)
    ctx.say(ctx.t("move_done", branch=esc(branch.name)) + ("\n" + ctx.t("move_sent_stay") if sent else ""),
            menu=True)  # fmt: skip


async def ask_again(ctx: Context) -> None:
    """The current registration question again (after something that was not an answer to it)."""
    data = ctx.identity.flow_data
    branch = await queries.branch_by_code(ctx.session, data.get("branch", "")) if data.get("step") == "name" else None
    if branch is not None:
        await _ask_name(ctx, branch, invite=data.get("invite", ""))
    else:
        await _show_branches(ctx)


async def handle(ctx: Context) -> None:
    """An event while registering."""
    event, data = ctx.event, ctx.identity.flow_data
    step = data.get("step", "branch")
    if event.kind is EventKind.OPTION:
        await _handle_option(ctx, event.payload, step)
    elif event.kind is not EventKind.TEXT:
        ctx.say(ctx.t("err_text_expected"))
        if step == "branch":
            await _show_branches(ctx)
    elif step == "branch" and rules.small_talk(event.text):  # «xin chào»: no unit's name, the list again
        ctx.say(ctx.t("reg_greeted"))
        await _show_branches(ctx)
    elif step == "branch":
        query = " ".join(event.text.split())[:60]
        ctx.set_flow(FLOW, step="branch", query=query, page=0, invite=data.get("invite", ""), **_moving(ctx))
        await _show_branches(ctx)
    else:
        await _named(ctx, event.text)


async def _named(ctx: Context, typed: str) -> None:
    """A name typed or tapped: registered, unless it has no accent at all («le thi binh»), which is asked about
    once: it is printed on the council's forms and every list. The same typed again, or «✔️ Giữ nguyên», keeps it."""
    if rules.small_talk(typed):  # «xin chào» is no one's name
        ctx.say(ctx.t("reg_greeted_name"))
        return
    try:
        name = rules.parse_person_name(typed)
    except InputError as error:
        ctx.say("⚠️ " + ctx.t(error.key, **error.params))
        return
    data = ctx.identity.flow_data
    if rules.asked_about_accents(name, data.get("unaccented")):
        ctx.set_flow(FLOW, **{**data, "unaccented": name})
        ctx.say(ctx.t("reg_name_unaccented", name=esc(name)), [[Option(ctx.t("btn_keep_name"), "reg:keep")]])
        return
    await _finish(ctx, name)


async def _handle_option(ctx: Context, data: str, step: str) -> None:
    parts = data.split(":", 2)
    action, arg = parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else ""
    invite = ctx.identity.flow_data.get("invite", "")  # a chair's invitation holds whichever branch is chosen
    if action == "b":
        branch = await queries.branch_by_code(ctx.session, arg)
        if branch is None:
            await _show_branches(ctx)
        elif ctx.identity.flow_data.get("moving"):
            await _move(ctx, branch)
        else:
            await _ask_name(ctx, branch, invite=invite)
    elif action == "p" and rules.parse_id(arg) is not None and step == "branch":
        ctx.set_flow(FLOW, step="branch", query=ctx.identity.flow_data.get("query", ""), page=rules.parse_id(arg),
                     invite=invite, **_moving(ctx))  # fmt: skip
        await _show_branches(ctx, replace=True)
    elif action in ("all", "chg"):
        ctx.set_flow(FLOW, step="branch", query="", page=0, invite=invite, **_moving(ctx))
        await _show_branches(ctx, replace=action == "all")
    elif action == "me" and step == "name":
        await _named(ctx, ctx.event.display_name)
    elif action == "keep" and step == "name" and ctx.identity.flow_data.get("unaccented"):
        await _named(ctx, ctx.identity.flow_data["unaccented"])
    else:
        ctx.say(ctx.t("err_stale_button"))
        if step == "branch":
            await _show_branches(ctx)
