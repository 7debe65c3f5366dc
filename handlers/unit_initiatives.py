"""`/sangkien`: the initiatives sent to the units an officer chairs (every unit for an admin), newest first.

A card leaves «📥 Chờ xác nhận» once decided; here it is found again, with its number for /history, /docx and
/congnhan (an officer's walk found no way back to what he had verified)."""

from __future__ import annotations

from domain.text import shorten
from handlers.context import Context, esc
from handlers.roles import chaired_branch_ids, is_admin, refuse
from storage import org_tree, queries

SHOWN = 20


async def show(ctx: Context) -> None:
    chaired = None if is_admin(ctx) else chaired_branch_ids(ctx)
    if chaired is not None and not chaired:
        refuse(ctx, None, "/sangkien", "officer_only")
        return
    branch_ids = None if chaired is None else await org_tree.subtree_ids(ctx.session, chaired)  # a khối's units too
    found = await queries.units_submissions(ctx.session, branch_ids, SHOWN + 1)
    if not found:
        ctx.say(ctx.t("unit_list_empty"), menu=True)
        return
    lines = [ctx.t("unit_list_title", count=min(len(found), SHOWN))]
    for initiative, code in found[:SHOWN]:
        submitted = initiative.submitted_at.strftime("%d/%m/%Y") if initiative.submitted_at else ""
        lines.append(ctx.t("unit_list_line", id=initiative.id, title=esc(shorten(initiative.title or "", 80)),
                           status=ctx.t(f"status_{initiative.status.value}"), submitted=submitted,
                           code=esc(code)))  # fmt: skip
    if len(found) > SHOWN:
        lines.append(ctx.t("unit_list_more", shown=SHOWN))
    lines += ["", ctx.t("unit_list_hint")]
    ctx.say("\n".join(lines), menu=True)
