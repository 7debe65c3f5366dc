"""Officers enter initiatives for members (plan V.4: "đoàn viên … hoặc BCH CĐCS cập nhật sáng kiến"): a
chair for a branch they chair, an admin for any. The officer writes the draft and names every author
(they need not be one); the initiative belongs to that branch, and its audit says who entered it."""

from __future__ import annotations

from handlers import unit_codes, wizard
from handlers.context import Context
from handlers.events import Option
from handlers.roles import chaired_branch_ids, is_admin, may_enter_for, refuse
from storage.models import Branch


async def start(ctx: Context, code: str = "") -> None:
    """`/nhapho [branch code]`, or its button (ob:<code>)."""
    admin, chaired = is_admin(ctx), chaired_branch_ids(ctx)
    if not admin and not chaired:
        refuse(ctx, None, "/nhapho", "on_behalf_not_allowed")
        return
    typed, unknown = code.strip(), ""
    branch = None
    if typed:  # a code, or a unit's name («/nhapho bảo tàng»)
        branch, unknown = await unit_codes.branch_typed(ctx, typed, None if admin else chaired)
    elif len(chaired) == 1 and not admin:
        branch = await ctx.session.get(Branch, next(iter(chaired)))
    if branch is None:
        await _choose(ctx, chaired, admin, unknown)
        return
    if not may_enter_for(ctx, branch.id):
        refuse(ctx, None, f"/nhapho {branch.code}", "on_behalf_not_allowed")
        return
    await wizard.start_new(ctx, for_branch=branch)


BUTTONS = 8  # units offered as buttons; a chair of more types the code (a keyboard of 160 is refused)


async def _choose(ctx: Context, chaired: set[int], admin: bool, unknown: str) -> None:
    note = unknown + "\n" if unknown else ""
    if admin or len(chaired) > BUTTONS:
        ctx.say(note + ctx.t("on_behalf_usage_admin"))
        return
    branches = [await ctx.session.get(Branch, branch_id) for branch_id in sorted(chaired)]
    options = [[Option(b.name, f"ob:{b.code}", keep_end=True)] for b in branches if b is not None]
    ctx.say(note + ctx.t("on_behalf_choose"), options)


async def handle_option(ctx: Context) -> None:
    await start(ctx, ctx.event.payload.removeprefix("ob:"))
