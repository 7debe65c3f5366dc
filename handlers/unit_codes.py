"""A unit named where its code is asked (/chairs, /invite_chair, /progress, a broadcast's units): the units
the words may mean, each with its code, so that an officer never has to look a code up elsewhere."""

from __future__ import annotations

from handlers.context import Context, esc
from storage import queries
from storage.models import Branch

SHOWN = 5


async def unknown_unit(ctx: Context, typed: str) -> str:
    """ "No unit has the code …", and the units whose names hold the words typed, with their codes."""
    matches = await queries.branches_matching(ctx.session, typed) if typed.strip() else []
    return ctx.t("unit_unknown", code=esc(typed[:40])) + "\n" + hints(ctx, matches)


def hints(ctx: Context, matches: list[Branch]) -> str:
    if not matches:
        return ctx.t("unit_hint_none")
    closest = sorted(matches, key=lambda b: len(b.name))  # the fewest words besides those typed first
    lines = [ctx.t("unit_hint_title")]
    lines += [ctx.t("unit_hint_line", name=esc(b.name), code=esc(b.code)) for b in closest[:SHOWN]]
    if len(matches) > SHOWN:
        lines.append(ctx.t("unit_hint_more", count=len(matches) - SHOWN))
    return "\n".join(lines)
