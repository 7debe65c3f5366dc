"""Campaign progress: `/progress` for members, chairs and admins, and the texts the digests reuse.

The numbers follow the plan (storage/progress.py): recognised initiatives, in the phase of their
recognition date, for the credited author's branch. The phase shown is the one running today (before the
campaign, the first); after the campaign, the final results of every phase and the total.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Campaign, Phase
from domain.rules import format_date
from handlers import paging, unit_codes
from handlers.context import Context, esc
from handlers.events import Option, OutgoingFile, Reply
from handlers.i18n import Catalog
from handlers.reports import charts
from handlers.roles import chaired_branch_ids, is_admin, refuse
from storage import org_tree, queries
from storage import progress as progress_queries
from storage.initiative_import import IMPORTER_NAME
from storage.progress import BranchProgress, CampaignTotals
from storage.unit_directory import Unit

BAR_WIDTH = 10
TOP = 10
FULL_RANKING_PAYLOAD = "pg:all"
RANKING_PAGE = 20  # the full ranking's lines a page: a phone's screen or two
UNIT_PAYLOAD = "pg:u:"
REMIND_BEHIND_PAYLOAD = "bc:behind"  # a broadcast to the chairs of the units behind their quota


@dataclass(frozen=True)
class View:
    """Everything one progress message shows, for one scope: a unit (its children listed, or itself alone),
    or several units side by side (a flat list of branches, the whole organisation)."""

    campaign: Campaign
    phase: Phase
    today: dt.date
    branches: list[BranchProgress]  # listed and ranked against each other
    daily: list[tuple[dt.date, int]]
    totals: CampaignTotals
    whole: list[BranchProgress]  # what sums to the scope's figures (rolled up: each initiative once)
    unit: BranchProgress | None = None  # the unit the view is about, when it is about one
    subunits: frozenset[int] = frozenset()  # the listed units that have units under them (to drill into)
    organisation: bool = False  # the whole organisation: measured against the phase's target, not quotas

    @property
    def recognised(self) -> int:
        return sum(b.recognised for b in self.whole)

    @property
    def waiting(self) -> int:
        return sum(b.waiting for b in self.whole)

    @property
    def pending(self) -> int:
        return sum(b.pending for b in self.whole)

    @property
    def in_progress(self) -> int:
        return sum(b.in_progress for b in self.whole)

    @property
    def quota(self) -> int:
        return sum(b.quota for b in self.whole)

    @property
    def single(self) -> BranchProgress | None:
        """The unit, when the view shows it alone (a CĐCS, a member's own unit)."""
        return self.unit if self.unit is not None and self.branches == [self.unit] else None

    @property
    def against_phase_target(self) -> bool:
        """Measured against the phase's target, not the quotas: the whole organisation, or the tree's root
        listing the units under it — the text and the chart alike (each had its own rule, and a chair of several
        units read the organisation's target in one and the quotas' sum in the other)."""
        return self.single is None and (self.organisation or (self.unit is not None and self.unit.parent_id is None))


async def load(
    session: AsyncSession, campaign: Campaign, today: dt.date, branch_ids: set[int] | None,
    focus: int | None = None, *, alone: bool = False,
) -> View:  # fmt: skip
    """The figures of the units in `branch_ids` (None: all), rolled up the tree; about `focus` (a unit in
    scope) when given, listing its children — or the unit itself when `alone` or childless."""
    phase = campaign.current_phase(today)
    units = {unit.branch_id: unit for unit in await progress_queries.branch_progress(session, phase, branch_ids)}
    parents = {unit_id: unit.parent_id for unit_id, unit in units.items()}
    layout = org_tree.layout(units, parents, focus if focus in units else None)
    shown = [layout.focus] if alone and layout.focus is not None else layout.shown
    counted = branch_ids
    if layout.focus is not None:
        counted = org_tree.below(layout.focus, parents)
        if branch_ids is None and len(counted) == len(units):
            counted = None  # everything: no list of every unit's id
    daily = await progress_queries.daily_recognitions(session, phase, counted)
    totals = await progress_queries.campaign_totals(session, campaign, counted)
    has_children = {parent for parent in parents.values() if parent is not None}
    # The whole organisation: everything in scope, seen from the top (no unit, or the tree's root listing
    # the units under it — not a unit of a flat list shown alone, whose parent is None too).
    top = layout.focus is None or (parents[layout.focus] is None and shown != [layout.focus])
    return View(
        campaign,
        phase,
        today,
        [units[u] for u in shown],  # in code order, as the units came
        daily,
        totals,
        [units[u] for u in layout.whole],
        units[layout.focus] if layout.focus is not None else None,
        frozenset(u for u in shown if u in has_children),
        organisation=branch_ids is None and top,
    )


def bar(done: int, goal: int) -> str:
    """`▓▓▓▓▓░░░░░ 52%` — the bar fills at 100 % and the percentage keeps counting past it."""
    percent = round(100 * done / goal) if goal > 0 else (100 if done else 0)
    filled = min(BAR_WIDTH, round(BAR_WIDTH * percent / 100))
    return "▓" * filled + "░" * (BAR_WIDTH - filled) + f" {percent}%"


def _rank(b: BranchProgress) -> tuple[int, int, str]:
    return -b.percent, -b.recognised, b.code


def ranked(branches: list[BranchProgress], first: int | None = None) -> list[BranchProgress]:
    """The ranking rule, the same in the chat, the digests and the Excel summary: share of the quota, then
    the number recognised, then the code. `first`: only that many (a partial sort of ten thousand)."""
    return sorted(branches, key=_rank) if first is None else heapq.nsmallest(first, branches, key=_rank)


def furthest_behind(branches: list[BranchProgress], first: int | None = None) -> list[BranchProgress]:
    """Branches with a quota still to reach, the lowest share first, then the most missing."""
    behind = [b for b in branches if b.quota > 0 and b.recognised < b.quota]
    return sorted(behind, key=_behind) if first is None else heapq.nsmallest(first, behind, key=_behind)


def _behind(b: BranchProgress) -> tuple[int, int, str]:
    return b.percent, -(b.quota - b.recognised), b.code


def header(t: Catalog, view: View) -> str:
    phase, today = view.phase, view.today
    if view.campaign.is_over(today):
        when = t("progress_campaign_over", end=format_date(view.campaign.phases[-1].end))
    elif today < phase.start:
        when = t("progress_not_started", days=(phase.start - today).days)
    else:
        when = t("progress_days_left", days=(phase.end - today).days)
    counting = t("progress_counts_from", start=format_date(phase.counting_from)) if phase.counts_from else ""
    return t("progress_header", phase=esc(phase.name), start=format_date(phase.start), end=format_date(phase.end),
             when=when, counting=counting)  # fmt: skip


def branch_block(t: Catalog, branch: BranchProgress) -> str:
    if branch.quota <= 0:
        return t("progress_branch_no_quota", branch=esc(branch.name), recognised=branch.recognised)
    return t("progress_branch", branch=esc(branch.name), recognised=branch.recognised, quota=branch.quota,
             bar=bar(branch.recognised, branch.quota))  # fmt: skip


def counts_line(t: Catalog, waiting: int, pending: int, in_progress: int) -> str:
    return t("progress_counts", waiting=waiting, pending=pending, in_progress=in_progress)


def campaign_line(t: Catalog, view: View) -> str:
    """The whole campaign: recognised in each phase, outside them, and the total against its target."""
    phases = " · ".join(f"{esc(p.name)} {view.totals.by_phase[p.code]}" for p in view.campaign.phases)
    outside = t("progress_outside", count=view.totals.outside) if view.totals.outside else ""
    return t("progress_campaign", recognised=view.totals.recognised, target=view.campaign.total_target,
             phases=phases, outside=outside)  # fmt: skip


def rank_lines(t: Catalog, branches: list[BranchProgress], start: int = 1) -> list[str]:
    return [
        t("progress_rank_line", rank=rank, bar=bar(b.recognised, b.quota), recognised=b.recognised, quota=b.quota,
          branch=esc(b.name))
        for rank, b in enumerate(branches, start)
    ]  # fmt: skip


def province_text(t: Catalog, view: View, top: int = TOP) -> str:
    """Totals against the phase's target and the campaign's, the leaders and the branches furthest behind."""
    if view.against_phase_target:
        name = view.unit.name if view.unit is not None else view.campaign.organisation
        summary = t(
            "progress_province",
            organisation=esc(name),
            recognised=view.recognised,
            target=view.phase.target,
            bar=bar(view.recognised, view.phase.target),
            quota=view.quota,
        )
    elif view.unit is not None:  # an upper unit inside the tree: against its own quota
        summary = t(
            "progress_unit",
            unit=esc(view.unit.name),
            recognised=view.recognised,
            quota=view.quota,
            bar=bar(view.recognised, view.quota),
            count=len(view.branches),
        )
    else:  # the units an officer chairs, side by side: against their quotas
        summary = t(
            "progress_units",
            recognised=view.recognised,
            quota=view.quota,
            bar=bar(view.recognised, view.quota),
            count=len(view.branches),
        )
    lines = [
        header(t, view),
        summary,
        campaign_line(t, view),
        counts_line(t, view.waiting, view.pending, view.in_progress),
    ]  # fmt: skip
    ordered = ranked([b for b in view.branches if b.recognised > 0], top)
    if ordered:
        lines += ["", t("progress_top_title", count=min(top, len(ordered)), total=len(view.branches))]
        lines += rank_lines(t, ordered[:top])
    else:
        lines += ["", t("progress_nobody_yet")]
    behind = furthest_behind(view.branches, top)
    if behind:
        lines += ["", t("progress_behind_title")]
        lines += [
            t("progress_behind_line", branch=esc(b.name), recognised=b.recognised, quota=b.quota,
              missing=b.quota - b.recognised)
            for b in behind
        ]  # fmt: skip
    return "\n".join(lines)


def branch_text(t: Catalog, view: View, branch: BranchProgress, *, with_counts: bool) -> str:
    lines = [header(t, view), branch_block(t, branch)]
    if view.campaign.is_over(view.today) or view.totals.outside:
        lines.append(campaign_line(t, view))
    if with_counts:
        lines.append(counts_line(t, branch.waiting, branch.pending, branch.in_progress))
    elif branch.waiting:
        lines.append(t("progress_waiting", waiting=branch.waiting))
    return "\n".join(lines)


def chart_bars(view: View) -> tuple[list[BranchProgress], str, dict[str, int]]:
    """The branches a phone-size chart shows: all when few; otherwise those the text lists — the leaders
    (with something recognised), then the furthest behind, the last at the bottom."""
    if len(view.branches) <= charts.MAX_BARS:
        return ranked(view.branches), "chart_bars_all", {}
    half = charts.MAX_BARS // 2
    leaders = ranked([b for b in view.branches if b.recognised > 0], half)
    behind = [b for b in furthest_behind(view.branches, half) if b not in leaders]
    return leaders + behind[::-1], "chart_bars_top_bottom", {"top": len(leaders), "bottom": len(behind)}


def chart_data(t: Catalog, view: View) -> charts.ChartData:
    """What the chart draws: the listed units' bars, and the cumulative count against the phase's target
    for the whole organisation, else against the units' quotas (as the text beside it)."""
    shown, bars_key, counts = chart_bars(view)
    target = view.phase.target if view.against_phase_target else view.quota
    return charts.ChartData(
        title=t("chart_title", phase=view.phase.name),
        bars_title=t(bars_key, total=len(view.branches), **counts),
        bars=[(b.name, b.recognised, b.quota) for b in shown],
        phase_start=view.phase.counting_from,
        phase_end=view.phase.end,
        today=view.today,
        target=target,
        daily=view.daily,
        labels={
            "quota": t("chart_quota"),
            "approved": t("chart_recognised"),
            "target": t("chart_target", target=target),
            "cumulative": t("chart_cumulative"),
        },
    )


async def chart_reply(t: Catalog, view: View) -> Reply:
    """The PNG chart, drawn off the event loop (about a tenth of a second of CPU)."""
    content = await asyncio.to_thread(charts.render_progress, chart_data(t, view))
    return Reply(
        text=t("chart_caption", phase=esc(view.phase.name)),
        file=OutgoingFile.generated("tien-do.png", content, kind="photo"),
    )


async def scope(ctx: Context) -> set[int] | None:
    """What a person's progress covers: everything for an admin, the subtree of each unit an officer
    chairs, else their own unit (with the units under it)."""
    if is_admin(ctx):
        return None
    assert ctx.member is not None
    roots = chaired_branch_ids(ctx) or ({ctx.member.branch_id} if ctx.member.branch_id else set())
    return await org_tree.subtree_ids(ctx.session, roots)


async def show(ctx: Context, focus_id: int | None = None, campaign: Campaign | None = None) -> None:
    """`/progress [unit code] [campaign code]` (and the menu button, and a unit's button): what the person's
    role may see, as text and as a chart, in the open campaign or the one named. An officer of an upper unit
    sees the units under it ranked, and can open one."""
    branch_ids = await scope(ctx)
    if focus_id is None and ctx.event.command == "progress":
        for word in ctx.event.args.split()[:2]:
            named = await ctx.services.campaigns.find(ctx.session, word)
            if named is not None:
                campaign = named
                continue
            unit = await queries.branch_by_code(ctx.session, word)
            if unit is None:  # a unit's name, perhaps: "/progress benh vien da khoa"
                unit, matches = await unit_codes.unit_named(ctx, ctx.event.args)
                if unit is None:
                    _offer_units(ctx, word, matches, branch_ids, campaign or ctx.campaign)
                    return
                focus_id = unit.id
                break
            focus_id = unit.id
    officer = branch_ids is None or bool(chaired_branch_ids(ctx))
    if focus_id is not None and branch_ids is not None and focus_id not in branch_ids:
        refuse(ctx, None, f"/progress of unit {focus_id}", "review_not_allowed" if officer else "progress_own_unit")
        return
    campaign = campaign or ctx.campaign
    if not officer and focus_id is not None and ctx.member is not None and focus_id != ctx.member.branch_id:
        refuse(ctx, None, f"/progress of unit {focus_id} by a member", "progress_own_unit")  # their unit's total
        return
    view = await load(ctx.session, campaign, ctx.today(), branch_ids, focus_id, alone=not officer)
    if not view.branches:
        ctx.say(ctx.t("progress_no_branches"))
        return
    unit = view.single
    if unit is None:
        options = [[Option(ctx.t("btn_open_unit", unit=b.name), f"{UNIT_PAYLOAD}{b.branch_id}:{campaign.code}",
                           keep_end=True)]
                   for b in ranked(view.branches) if b.branch_id in view.subunits][:TOP]  # fmt: skip
        if len(view.branches) > TOP:
            options.append([Option(ctx.t("btn_full_ranking"), full_ranking_payload(view))])
        if is_admin(ctx) and view.organisation and campaign == ctx.campaign and furthest_behind(view.branches, 1):
            options.append([Option(ctx.t("btn_remind_behind"), REMIND_BEHIND_PAYLOAD)])
        ctx.say(province_text(ctx.t, view), options)
    else:
        text = branch_text(ctx.t, view, unit, with_counts=officer)
        if officer:
            text += "\n" + _submitters_line(ctx, await progress_queries.submitters(ctx.session, unit.branch_id))
        ctx.say(text)
    ctx.replies.append(await chart_reply(ctx.t, view))


def _campaign_codes(ctx: Context) -> str:
    return ", ".join(esc(c.code) for c in ctx.services.campaigns.campaigns)


def _submitters_line(ctx: Context, submitters: Sequence[tuple[str, int]]) -> str:
    """Who sent the unit's initiatives; those imported from a file are counted apart (the importer is no person)."""
    people = [f"{esc(name)} ({count})" for name, count in submitters if name != IMPORTER_NAME]
    imported = sum(count for name, count in submitters if name == IMPORTER_NAME)
    if not people and not imported:
        return ctx.t("progress_no_submitters")
    lines = [ctx.t("progress_submitters", names=", ".join(people))] if people else []
    return "\n".join([*lines, *([ctx.t("progress_imported", count=imported)] if imported else [])])


def _offer_units(ctx: Context, word: str, matches: list[Unit], branch_ids: set[int] | None, campaign: Campaign) -> None:
    """The units the words typed may name, each a button to its progress (those the person may open: an officer's
    units, a member's own); none: the words were a code, perhaps, and the codes there are are said."""
    officer = branch_ids is None or bool(chaired_branch_ids(ctx))
    own = ctx.member.branch_id if ctx.member is not None else None
    visible = [
        unit for unit in matches if (branch_ids is None or unit.id in branch_ids) and (officer or unit.id == own)
    ]
    if not visible:
        ctx.say(ctx.t("progress_unknown_code", code=esc(word[:32]), campaigns=_campaign_codes(ctx))
                + "\n" + unit_codes.hints(ctx, []))  # fmt: skip
        return
    rows = [[Option(ctx.t("btn_open_unit", unit=unit.name), f"{UNIT_PAYLOAD}{unit.id}:{campaign.code}", keep_end=True)]
            for unit in unit_codes.closest(visible, TOP)]  # fmt: skip
    text = ctx.t("progress_units_found", count=len(visible), typed=esc(ctx.event.args[:60]))
    if len(visible) > TOP:
        text += "\n" + ctx.t("unit_hint_more", count=len(visible) - TOP)
    ctx.say(text, rows)


def full_ranking_payload(view: View, page: int | None = None) -> str:
    """The overview's button (the first page, a new message) or a page's (`page`: in the ranking's place)."""
    unit = view.unit.branch_id if view.unit is not None else "-"
    return f"{FULL_RANKING_PAYLOAD}:{unit}:{view.campaign.code}" + (f":{page}" if page is not None else "")


async def handle_option(ctx: Context) -> None:
    """A unit's button (open it) or the full ranking's — `pg:u:<unit>:<campaign>`,
    `pg:all:<unit|->:<campaign>[:<page>]` — checked against the person's scope on the server."""
    payload = ctx.event.payload or ""
    ctx.keep_origin()  # a view's buttons are ways in, not answers: the view keeps the others (the reminder's)
    unit_part, _, rest = (
        payload.removeprefix(UNIT_PAYLOAD).removeprefix(FULL_RANKING_PAYLOAD).lstrip(":").partition(":")
    )
    code, _, page = rest.partition(":")
    campaign = await ctx.services.campaigns.find(ctx.session, code) if code else None
    if payload.startswith(UNIT_PAYLOAD):
        unit_id = _number(unit_part)
        await show(ctx, unit_id if unit_id is not None else -1, campaign)
    else:
        focus_id = _number(unit_part) if unit_part not in ("", "-") else None
        await full_ranking(ctx, focus_id, campaign, _number(page))


def _number(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else None


async def full_ranking(
    ctx: Context, focus_id: int | None = None, campaign: Campaign | None = None, page_number: int | None = None
) -> None:
    """The whole ranking, on request, a page at a time (it is long: the unit has many branches); the first
    page is a new message under the overview, the others take its place."""
    branch_ids = await scope(ctx)
    officer = branch_ids is None or bool(chaired_branch_ids(ctx))
    if not officer or (focus_id is not None and branch_ids is not None and focus_id not in branch_ids):
        refuse(ctx, None, f"full ranking of {focus_id}")
        return
    view = await load(ctx.session, campaign or ctx.campaign, ctx.today(), branch_ids, focus_id)
    page = paging.page_of(ranked(view.branches), page_number or 0, RANKING_PAGE)
    title = ctx.t("progress_ranking_title", total=len(view.branches))
    if page.count > 1:
        title += " " + ctx.t("progress_ranking_page", page=page.number + 1, pages=page.count)
    lines = [header(ctx.t, view), title, *rank_lines(ctx.t, list(page.items), page.number * RANKING_PAGE + 1)]
    nav = paging.nav_row(ctx.t, page, lambda number: full_ranking_payload(view, number))
    ctx.say("\n".join(lines), [nav], replace_origin=page_number is not None)
