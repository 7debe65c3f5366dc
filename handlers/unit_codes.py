"""A unit named where its code is asked (/chairs, /invite_chair, /progress, a broadcast's units): the units
the words may mean, each with its code, so that an officer never has to look a code up elsewhere."""

from __future__ import annotations

from handlers.context import Context, esc
from storage import queries
from storage.models import Branch
from storage.unit_directory import Unit

SHOWN = 5


async def unknown_unit(ctx: Context, typed: str, matches: list[Unit] | None = None) -> str:
    """ "No unit has the code …", and the units whose names hold the words typed (`matches` when already
    found), with their codes."""
    if matches is None:
        matches = await queries.branches_matching(ctx.session, typed) if typed.strip() else []
    return ctx.t("unit_unknown", code=esc(typed[:40])) + "\n" + hints(ctx, matches)


async def unit_named(ctx: Context, typed: str) -> tuple[Unit | None, list[Unit]]:
    """The one unit the words typed name ("benh vien da khoa": its whole name, or the only name holding every
    word), else None, with the units they may mean."""
    return named_among(await queries.branches_matching(ctx.session, typed) if typed.strip() else [], typed)


async def branch_typed(ctx: Context, typed: str, chaired: set[int] | None) -> tuple[Branch | None, str]:
    """The branch a code or name typed after /linkgroup or /nhapho means; else None and what to say (no unit,
    or several, with their codes). For a chair (`chaired`: the units he chairs) several matches narrow to his
    own: «benh vien da khoa tinh», another unit's whole name, is in his «… cơ sở 2»."""
    branch = await queries.branch_by_code(ctx.session, typed)
    if branch is not None:
        return branch, ""
    matches = await queries.branches_matching(ctx.session, typed)
    if chaired is not None and (own := [match for match in matches if match.id in chaired]):
        matches = own
    unit, matches = named_among(matches, typed)
    if unit is None:
        return None, await unknown_unit(ctx, typed, matches)
    return await ctx.session.get(Branch, unit.id), ""


def named_among(matches: list[Unit], typed: str) -> tuple[Unit | None, list[Unit]]:
    """Of the units the words match, the one they name (its whole name, or the only match), with the matches."""
    whole = [b for b in matches if queries.is_named(b, typed)]
    matches = whole if len(whole) == 1 else matches
    return (matches[0] if len(matches) == 1 else None), matches


def closest(matches: list[Unit], count: int) -> list[Unit]:
    """The `count` matches nearest what was typed: the shortest names, holding least besides the words typed."""
    return sorted(matches, key=lambda unit: len(unit.name))[:count]


def hints(ctx: Context, matches: list[Unit]) -> str:
    if not matches:
        return ctx.t("unit_hint_none")
    lines = [ctx.t("unit_hint_title")]
    lines += [ctx.t("unit_hint_line", name=esc(b.name), code=esc(b.code)) for b in closest(matches, SHOWN)]
    if len(matches) > SHOWN:
        lines.append(ctx.t("unit_hint_more", count=len(matches) - SHOWN))
    return "\n".join(lines)
