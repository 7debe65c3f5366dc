"""Group chats: the bot records groups it is added to, a chair or an admin links one to a branch (or to the
province) with `/linkgroup`, and linked groups receive digests and countdowns (bot/scheduler.py).

In a group the bot answers only its commands (on Zalo, also words after its name: `_asked_by_words`);
ordinary chatter is ignored, and the submission wizard never runs there: people are invited to a private
chat (for a branch group, straight into that branch).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Campaign
from domain.text import fold
from handlers import menus, progress, unit_codes
from handlers.context import Context, esc
from handlers.events import Event, EventKind
from handlers.i18n import Catalog
from handlers.roles import chaired_branch_ids, is_admin, refuse
from storage import org_tree, queries
from storage.models import Branch, ChatGroup

PROVINCE_WORDS = {"tinh", "tỉnh", "province"}


async def handle(ctx: Context) -> None:
    event = ctx.event
    if event.kind is EventKind.MEMBERSHIP:
        await _membership(ctx)
        return
    command = event.command if event.kind is EventKind.COMMAND else _asked_by_words(event)
    if command is None:
        return
    group = await queries.group_by_chat(ctx.session, event.platform, event.chat_id)
    if command == "linkgroup":
        await link(ctx, group)
    elif command == "unlinkgroup":
        await unlink(ctx, group)
    elif command == "progress":
        await group_progress(ctx, group)
    else:
        ctx.say(ctx.t("group_use_private", link=private_link(ctx, group)) + how_to_ask(ctx.t, event.platform))


def _asked_by_words(event: Event) -> str | None:
    """«@Sáng kiến Bot tiến độ»: in a Zalo group the bot hears only what mentions it or answers it, so words
    after its name may be meant for it: progress asked in words is shown, a wish to send an initiative is told
    where that is done; other words (a «cảm ơn») get nothing, as chatter."""
    if event.kind is not EventKind.TEXT or event.platform != "zalo":
        return None
    words = f" {fold(event.text)} "
    if " tien do " in words or " progress " in words:
        return "progress"
    return "help" if menus.wants_to_submit(event.text) else None


def how_to_ask(t: Catalog, platform: str) -> str:
    """In a Zalo group the bot hears only what mentions it (and no link opens a private chat): said where it
    matters, in the group's messages; nothing elsewhere."""
    return "\n" + t("group_mention_hint") if platform == "zalo" else ""


def private_link(ctx: Context, group: ChatGroup | None) -> str:
    """Where a group member starts a private chat: in a branch group, registration in that branch."""
    return ctx.deep_link(f"b_{group.branch.code}" if group and group.branch else "nhom")


async def _membership(ctx: Context) -> None:
    event = ctx.event
    if event.payload.startswith("moved:"):
        await queries.move_chat(ctx.session, event.platform, event.chat_id, event.payload.removeprefix("moved:"))
        return
    joined = event.payload == "joined"
    await queries.record_group(ctx.session, event.platform, event.chat_id, event.chat_title, active=joined)
    if joined:
        ctx.say(ctx.t("group_hello", link=private_link(ctx, None), campaign=esc(ctx.campaign.name)))


async def link(ctx: Context, group: ChatGroup | None) -> None:
    """`/linkgroup [CODE|tinh]`: admins link to any branch or the province, chairs to a branch they chair."""
    if ctx.member is None:
        ctx.say(ctx.t("group_register_first", link=private_link(ctx, group)))
        return
    admin, chaired = is_admin(ctx), chaired_branch_ids(ctx)
    if not admin and not chaired:
        refuse(ctx, None, "/linkgroup", "officer_only")
        return
    argument = ctx.event.args.strip()
    if group is None:
        group = await queries.record_group(ctx.session, ctx.event.platform, ctx.event.chat_id, "", active=True)
    if not admin and (group.is_province or (group.branch_id is not None and group.branch_id not in chaired)):
        # A chair may link an unlinked group or relink one of their own; not take over the province's
        # group or another branch's.
        target = "the province" if group.is_province else "another branch"
        refuse(ctx, None, f"/linkgroup over a group linked to {target}", "group_linked_elsewhere")
        return
    before = (group.is_province, group.branch_id)
    if argument.lower() in PROVINCE_WORDS:
        if not admin:
            refuse(ctx, None, "/linkgroup province")
            return
        group.branch_id, group.is_province = None, True
        target = ctx.t("group_target_province")
    else:
        if not argument and len(chaired) != 1:
            ctx.say(ctx.t("group_link_usage") + _mention_note(ctx))
            return
        if argument:
            branch, unknown = await unit_codes.branch_typed(ctx, argument, None if admin else chaired)
        else:
            branch, unknown = await ctx.session.get(Branch, next(iter(chaired))), ""
        if branch is None:
            ctx.say(unknown + _mention_note(ctx))
            return
        if not admin and branch.id not in chaired:
            refuse(ctx, None, f"/linkgroup {branch.code}")
            return
        group.branch_id, group.is_province = branch.id, False
        target = esc(branch.name)
    moved = before != (False, None) and before != (group.is_province, group.branch_id)
    group.active = True
    group.linked_by_member_id = ctx.member.id
    group.linked_at = ctx.now()
    was = await _target_name(ctx, *before) if moved else ""  # a link replaced is said, not done silently
    ctx.say(ctx.t("group_linked", target=target) + (" " + ctx.t("group_relinked_from", was=was) if was else "")
            + how_to_ask(ctx.t, ctx.event.platform))  # fmt: skip


def _mention_note(ctx: Context) -> str:
    """On Zalo the group hears the bot only when it is mentioned: the command typed again needs the mention."""
    return "\n" + ctx.t("help_zalo_groups") if ctx.event.platform == "zalo" else ""


async def _target_name(ctx: Context, is_province: bool, branch_id: int | None) -> str:
    if is_province:
        return ctx.t("group_target_province")
    branch = await ctx.session.get(Branch, branch_id) if branch_id is not None else None
    return esc(branch.name) if branch is not None else ""


async def unlink(ctx: Context, group: ChatGroup | None) -> None:
    if group is None or (group.branch_id is None and not group.is_province):
        ctx.say(ctx.t("group_not_linked"))
        return
    allowed = is_admin(ctx) or (group.branch_id is not None and group.branch_id in chaired_branch_ids(ctx))
    if ctx.member is None or not allowed:
        refuse(ctx, None, "/unlinkgroup", "officer_only")
        return
    group.branch_id, group.is_province = None, False
    ctx.say(ctx.t("group_unlinked"))


async def group_progress(ctx: Context, group: ChatGroup | None) -> None:
    """`/progress` in a group shows what the group follows (so it reveals nothing that is not its own)."""
    if group is None or (group.branch_id is None and not group.is_province):
        ctx.say(ctx.t("group_not_linked"))
        return
    text = await group_digest(ctx.session, ctx.t, ctx.campaign, ctx.today(), group)
    if ctx.event.args.strip():  # «/progress MAU009»: the group shows its own unit; another is seen privately
        text += "\n\n" + ctx.t("group_progress_own_only", link=private_link(ctx, group))
    ctx.say(text)


async def group_digest(session: AsyncSession, t: Catalog, campaign: Campaign, today: dt.date, group: ChatGroup) -> str:
    """The progress text a group receives: its unit's (the units under it ranked, if any), or the province's."""
    if group.is_province:
        return progress.province_text(t, await progress.load(session, campaign, today, None), top=5)
    assert group.branch_id is not None
    units = await org_tree.subtree_ids(session, {group.branch_id})
    view = await progress.load(session, campaign, today, units, group.branch_id)
    unit = view.single
    return progress.branch_text(t, view, unit, with_counts=True) if unit else progress.province_text(t, view, top=5)
