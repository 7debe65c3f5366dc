"""Tiêu biểu (plan V.3): the officers of a unit mark a recognised initiative of their subtree "tiêu biểu"
and propose it to the unit above ("đề xuất cấp có thẩm quyền xem xét công nhận những đề tài, sáng kiến
xuất sắc"); the officers above are told, find it in `/tieubieu` and may propose it on, level by level.

`/tieubieu` lists what was proposed to the person's units (or, for an admin, what reached the top) with a
button to pass each one up; `/tieubieu <id>` marks one. Every mark is re-authorised on the server (the
initiative is recognised, in the officer's subtree, not the officer's own work) and audited.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from domain.rules import parse_id
from handlers import notices
from handlers.context import Context, esc
from handlers.events import Option, Reply
from handlers.roles import chaired_branch_ids, is_admin, is_author, refuse
from storage import org_tree, queries
from storage.models import COUNTED, AuditEvent, Branch, FeaturedInitiative, Initiative

PAYLOAD = "tb:"
LISTED = 20


async def command(ctx: Context) -> None:
    """`/tieubieu [id]` for officers and admins."""
    if not is_admin(ctx) and not chaired_branch_ids(ctx):
        refuse(ctx, None, "/tieubieu", "officer_only")
        return
    raw = ctx.event.args.strip()
    if raw:
        await mark(ctx, raw)
    else:
        await show_list(ctx)


async def handle_option(ctx: Context) -> None:
    """tb:<id> — "propose it up" from the list or from the notice of a proposal."""
    await mark(ctx, ctx.event.payload.removeprefix(PAYLOAD))


async def _marking_unit(ctx: Context, initiative: Initiative) -> tuple[bool, Branch | None]:
    """Whether the person may mark it, and at which unit: the lowest unit they chair whose subtree holds
    the initiative's credited unit (None for an admin who chairs none of them: the whole organisation)."""
    credited = initiative.credited_branch_id or initiative.branch_id
    candidates = []
    for unit_id in chaired_branch_ids(ctx):
        below = await org_tree.subtree_ids(ctx.session, {unit_id})
        if credited in below:
            candidates.append((len(below), unit_id))
    if candidates:
        return True, await ctx.session.get(Branch, min(candidates)[1])
    return is_admin(ctx), None


async def mark(ctx: Context, raw: str) -> None:
    number = parse_id(raw)
    initiative = await queries.initiative_by_id(ctx.session, number) if number is not None else None
    if initiative is None:
        refuse(ctx, None, f"/tieubieu {raw[:20]}")
        return
    allowed, unit = await _marking_unit(ctx, initiative)
    if not allowed:
        refuse(ctx, initiative, f"/tieubieu {initiative.id}")
        return
    if is_author(ctx, initiative):
        refuse(ctx, initiative, f"/tieubieu {initiative.id} (own work)", "featured_own_work")
        return
    if initiative.status not in COUNTED:
        ctx.say(ctx.t("featured_not_recognised", id=initiative.id))
        return
    unit_id = unit.id if unit is not None else None
    already = await ctx.session.scalar(
        select(FeaturedInitiative.id).where(
            FeaturedInitiative.initiative_id == initiative.id,
            FeaturedInitiative.unit_id.is_(None) if unit_id is None else FeaturedInitiative.unit_id == unit_id,
        )
    )
    parent = await ctx.session.get(Branch, unit.parent_id) if unit is not None and unit.parent_id else None
    if already is not None:
        ctx.say(ctx.t("featured_already", id=initiative.id))
        return
    assert ctx.member is not None
    proposed_to = parent.id if parent else None
    try:
        async with ctx.session.begin_nested():  # two officers pressing at once: one mark, one "already"
            ctx.session.add(FeaturedInitiative(initiative_id=initiative.id, unit_id=unit_id, member_id=ctx.member.id,
                                               proposed_to_unit_id=proposed_to, created_at=ctx.now()))  # fmt: skip
    except IntegrityError:
        ctx.say(ctx.t("featured_already", id=initiative.id))
        return
    route = f"{unit.code if unit else '*'} -> {parent.code if parent else '-'}"
    ctx.session.add(AuditEvent(initiative_id=initiative.id, actor_member_id=ctx.member.id, action="featured",
                               reason=route, created_at=ctx.now()))  # fmt: skip
    title = esc(initiative.title or "")
    if parent is None:  # an admin's mark (the whole organisation), or one at a unit with none above it
        top = ctx.t("featured_top_unit", unit=esc(unit.name)) if unit is not None else ctx.t("featured_top")
        ctx.say(ctx.t("featured_marked", id=initiative.id, title=title, top=top))
        return
    ctx.say(ctx.t("featured_proposed", id=initiative.id, title=title, unit=esc(parent.name)))

    def notice(there: Context) -> Reply:
        return Reply(
            text=there.t("featured_notice", id=initiative.id, title=title, unit=esc(unit.name if unit else ""),
                         branch=esc(initiative.branch.name)),
            options=[[Option(there.t("btn_propose_up"), f"{PAYLOAD}{initiative.id}")]],
        )  # fmt: skip

    chair_ids = await queries.branch_chair_ids(ctx.session, parent.id)
    await notices.notify_members(ctx, chair_ids, notice, purpose="featured", initiative_id=initiative.id)


async def show_list(ctx: Context) -> None:
    """What was proposed to the person's units (an admin: what reached the top), newest first."""
    chaired = chaired_branch_ids(ctx)
    proposer = aliased(Branch)
    query = (
        select(Initiative.id, Initiative.title, proposer.name, FeaturedInitiative.created_at)
        .join(FeaturedInitiative, FeaturedInitiative.initiative_id == Initiative.id)
        .outerjoin(proposer, proposer.id == FeaturedInitiative.unit_id)
        .order_by(FeaturedInitiative.created_at.desc(), Initiative.id.desc())
        .limit(LISTED)
    )
    proposed_to = FeaturedInitiative.proposed_to_unit_id
    addressed = [proposed_to.in_(chaired)] if chaired else []
    if is_admin(ctx):  # and what reached the top: marked at a root, or proposed to one
        addressed += [proposed_to.is_(None), proposed_to.in_(select(Branch.id).where(Branch.parent_id.is_(None)))]
    query = query.where(or_(*addressed))
    rows = (await ctx.session.execute(query)).all()
    if not rows:
        ctx.say(ctx.t("featured_none"))
        return
    lines = [ctx.t("featured_title")]
    options = []
    for initiative_id, title, unit_name, _ in rows:
        lines.append(ctx.t("featured_line", id=initiative_id, title=esc(title or ""), unit=esc(unit_name or "")))
        if chaired or is_admin(ctx):  # an admin chairing none marks at the top: nothing is above him
            label = "btn_propose_up_id" if chaired else "btn_feature_top_id"
            options.append([Option(ctx.t(label, id=initiative_id), f"{PAYLOAD}{initiative_id}")])
    ctx.say("\n".join(lines) + "\n\n" + ctx.t("featured_hint" if chaired else "featured_hint_top"), options)
