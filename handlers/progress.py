"""Campaign progress: `/progress` for members, chairs and admins, and the texts the digests reuse.

Approved initiatives count in the phase that contains their approval date (plan, section II); the phase
shown is the one running today (before the campaign, the first; after it, the last).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Campaign, Phase
from handlers.context import Context, esc
from handlers.events import Option, OutgoingFile, Reply
from handlers.i18n import Catalog
from handlers.reports import charts
from handlers.roles import chaired_branch_ids, is_admin
from handlers.rules import format_date
from storage import progress as progress_queries
from storage.progress import BranchProgress

BAR_WIDTH = 10
TOP = 10
FULL_RANKING_PAYLOAD = "pg:all"


@dataclass(frozen=True)
class View:
    """Everything one progress message shows, for one scope (a branch, some branches, the province)."""

    phase: Phase
    today: dt.date
    branches: list[BranchProgress]
    daily: list[tuple[dt.date, int]]

    @property
    def approved(self) -> int:
        return sum(b.approved for b in self.branches)

    @property
    def pending(self) -> int:
        return sum(b.pending for b in self.branches)

    @property
    def in_progress(self) -> int:
        return sum(b.in_progress for b in self.branches)

    @property
    def quota(self) -> int:
        return sum(b.quota for b in self.branches)


async def load(session: AsyncSession, campaign: Campaign, today: dt.date, branch_ids: set[int] | None) -> View:
    phase = campaign.current_phase(today)
    bounds = campaign.phase_bounds(phase)
    branches = await progress_queries.branch_progress(session, phase.code, bounds, branch_ids)
    daily = await progress_queries.daily_approvals(session, bounds, campaign.timezone, branch_ids)
    return View(phase, today, branches, daily)


def bar(approved: int, goal: int) -> str:
    """`▓▓▓▓▓░░░░░ 52%` — the bar fills at 100 % and the percentage keeps counting past it."""
    percent = round(100 * approved / goal) if goal > 0 else (100 if approved else 0)
    filled = min(BAR_WIDTH, round(BAR_WIDTH * percent / 100))
    return "▓" * filled + "░" * (BAR_WIDTH - filled) + f" {percent}%"


def ranked(branches: list[BranchProgress]) -> list[BranchProgress]:
    return sorted(branches, key=lambda b: (-b.percent, -b.approved, b.code))


def furthest_behind(branches: list[BranchProgress]) -> list[BranchProgress]:
    """Branches with a quota still to reach, the lowest share first, then the most missing."""
    behind = [b for b in branches if b.quota > 0 and b.approved < b.quota]
    return sorted(behind, key=lambda b: (b.percent, -(b.quota - b.approved), b.code))


def header(t: Catalog, view: View) -> str:
    phase, today = view.phase, view.today
    if today < phase.start:
        when = t("progress_not_started", days=(phase.start - today).days)
    elif today > phase.end:
        when = t("progress_ended", end=format_date(phase.end))
    else:
        when = t("progress_days_left", days=(phase.end - today).days)
    return t("progress_header", phase=esc(phase.name), start=format_date(phase.start), end=format_date(phase.end),
             when=when)  # fmt: skip


def branch_block(t: Catalog, branch: BranchProgress) -> str:
    if branch.quota <= 0:
        return t("progress_branch_no_quota", branch=esc(branch.name), approved=branch.approved)
    return t("progress_branch", branch=esc(branch.name), approved=branch.approved, quota=branch.quota,
             bar=bar(branch.approved, branch.quota))  # fmt: skip


def counts_line(t: Catalog, pending: int, in_progress: int) -> str:
    return t("progress_counts", pending=pending, in_progress=in_progress)


def rank_lines(t: Catalog, branches: list[BranchProgress], start: int = 1) -> list[str]:
    return [
        t("progress_rank_line", rank=rank, bar=bar(b.approved, b.quota), approved=b.approved, quota=b.quota,
          branch=esc(b.name))
        for rank, b in enumerate(branches, start)
    ]  # fmt: skip


def province_text(t: Catalog, view: View, top: int = TOP) -> str:
    """Totals against the phase's target, the leaders and the branches furthest behind."""
    lines = [
        header(t, view),
        t("progress_province", approved=view.approved, target=view.phase.target,
          bar=bar(view.approved, view.phase.target), quota=view.quota),
        counts_line(t, view.pending, view.in_progress),
    ]  # fmt: skip
    ordered = ranked(view.branches)
    lines += ["", t("progress_top_title", count=min(top, len(ordered)), total=len(ordered))]
    lines += rank_lines(t, ordered[:top])
    behind = furthest_behind(view.branches)[:top]
    if behind:
        lines += ["", t("progress_behind_title")]
        lines += [
            t("progress_behind_line", branch=esc(b.name), approved=b.approved, quota=b.quota,
              missing=b.quota - b.approved)
            for b in behind
        ]  # fmt: skip
    return "\n".join(lines)


def branch_text(t: Catalog, view: View, branch: BranchProgress, *, with_counts: bool) -> str:
    lines = [header(t, view), branch_block(t, branch)]
    if with_counts:
        lines.append(counts_line(t, branch.pending, branch.in_progress))
    return "\n".join(lines)


async def chart_reply(t: Catalog, view: View, *, province: bool) -> Reply:
    """The PNG chart: bars per branch (at most charts.MAX_BARS, furthest behind first when there are more).

    Drawn off the event loop (about a tenth of a second of CPU) so other people are not kept waiting."""
    if len(view.branches) > charts.MAX_BARS:
        shown = furthest_behind(view.branches)[: charts.MAX_BARS] or ranked(view.branches)[: charts.MAX_BARS]
        bars_title = t("chart_bars_behind", count=len(shown))
    else:
        shown = ranked(view.branches)
        bars_title = t("chart_bars_all")
    target = view.phase.target if province else view.quota
    data = charts.ChartData(
        title=t("chart_title", phase=view.phase.name),
        bars_title=bars_title,
        bars=[(b.name, b.approved, b.quota) for b in shown],
        phase_start=view.phase.start,
        phase_end=view.phase.end,
        today=view.today,
        target=target,
        daily=view.daily,
        labels={
            "quota": t("chart_quota"),
            "approved": t("chart_approved"),
            "target": t("chart_target", target=target),
            "cumulative": t("chart_cumulative"),
        },
    )
    content = await asyncio.to_thread(charts.render_progress, data)
    return Reply(
        text=t("chart_caption", phase=esc(view.phase.name)),
        file=OutgoingFile.generated("tien-do.png", content, kind="photo"),
    )


async def show(ctx: Context) -> None:
    """`/progress` (and the menu button): what the person's role may see, as text and as a chart."""
    assert ctx.member is not None
    admin = is_admin(ctx)
    chaired = chaired_branch_ids(ctx)
    scope = None if admin else (chaired or {ctx.member.branch_id})
    view = await load(ctx.session, ctx.campaign, ctx.today(), scope)
    if admin or len(view.branches) > 1:
        text = province_text(ctx.t, view)
        options = [[Option(ctx.t("btn_full_ranking"), FULL_RANKING_PAYLOAD)]] if len(view.branches) > TOP else []
        ctx.say(text, options)
    elif view.branches:
        branch = view.branches[0]
        text = branch_text(ctx.t, view, branch, with_counts=bool(chaired))
        if chaired:
            names = await progress_queries.submitters(ctx.session, branch.branch_id)
            text += "\n" + (
                ctx.t("progress_submitters", names=", ".join(f"{esc(name)} ({count})" for name, count in names))
                if names
                else ctx.t("progress_no_submitters")
            )
        ctx.say(text)
    else:
        ctx.say(ctx.t("progress_no_branches"))
        return
    ctx.replies.append(await chart_reply(ctx.t, view, province=admin))


async def full_ranking(ctx: Context) -> None:
    """The whole ranking, on request (it is long: the province has many branches)."""
    scope = None if is_admin(ctx) else chaired_branch_ids(ctx)
    if scope is not None and not scope:
        ctx.say(ctx.t("review_not_allowed"))
        return
    view = await load(ctx.session, ctx.campaign, ctx.today(), scope)
    lines = [header(ctx.t, view), ctx.t("progress_ranking_title", total=len(view.branches))]
    lines += rank_lines(ctx.t, ranked(view.branches))
    ctx.say("\n".join(lines))
