"""Campaign progress: `/progress` for members, chairs and admins, and the texts the digests reuse.

The numbers follow the plan (storage/progress.py): recognised initiatives, in the phase of their
recognition date, for the credited author's branch. The phase shown is the one running today (before the
campaign, the first); after the campaign, the final results of every phase and the total.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Campaign, Phase
from domain.rules import format_date
from handlers.context import Context, esc
from handlers.events import Option, OutgoingFile, Reply
from handlers.i18n import Catalog
from handlers.reports import charts
from handlers.roles import chaired_branch_ids, is_admin
from storage import progress as progress_queries
from storage.progress import BranchProgress, CampaignTotals

BAR_WIDTH = 10
TOP = 10
FULL_RANKING_PAYLOAD = "pg:all"


@dataclass(frozen=True)
class View:
    """Everything one progress message shows, for one scope (a branch, some branches, the whole unit)."""

    campaign: Campaign
    phase: Phase
    today: dt.date
    branches: list[BranchProgress]
    daily: list[tuple[dt.date, int]]
    totals: CampaignTotals

    @property
    def recognised(self) -> int:
        return sum(b.recognised for b in self.branches)

    @property
    def waiting(self) -> int:
        return sum(b.waiting for b in self.branches)

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
    branches = await progress_queries.branch_progress(session, phase, branch_ids)
    daily = await progress_queries.daily_recognitions(session, phase, branch_ids)
    totals = await progress_queries.campaign_totals(session, campaign, branch_ids)
    return View(campaign, phase, today, branches, daily, totals)


def bar(done: int, goal: int) -> str:
    """`▓▓▓▓▓░░░░░ 52%` — the bar fills at 100 % and the percentage keeps counting past it."""
    percent = round(100 * done / goal) if goal > 0 else (100 if done else 0)
    filled = min(BAR_WIDTH, round(BAR_WIDTH * percent / 100))
    return "▓" * filled + "░" * (BAR_WIDTH - filled) + f" {percent}%"


def ranked(branches: list[BranchProgress]) -> list[BranchProgress]:
    """The ranking rule, the same in the chat, the digests and the Excel summary: share of the quota, then
    the number recognised, then the code."""
    return sorted(branches, key=lambda b: (-b.percent, -b.recognised, b.code))


def furthest_behind(branches: list[BranchProgress]) -> list[BranchProgress]:
    """Branches with a quota still to reach, the lowest share first, then the most missing."""
    behind = [b for b in branches if b.quota > 0 and b.recognised < b.quota]
    return sorted(behind, key=lambda b: (b.percent, -(b.quota - b.recognised), b.code))


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
    lines = [
        header(t, view),
        t("progress_province", organisation=esc(view.campaign.organisation), recognised=view.recognised,
          target=view.phase.target, bar=bar(view.recognised, view.phase.target), quota=view.quota),
        campaign_line(t, view),
        counts_line(t, view.waiting, view.pending, view.in_progress),
    ]  # fmt: skip
    ordered = [b for b in ranked(view.branches) if b.recognised > 0]
    if ordered:
        lines += ["", t("progress_top_title", count=min(top, len(ordered)), total=len(view.branches))]
        lines += rank_lines(t, ordered[:top])
    else:
        lines += ["", t("progress_nobody_yet")]
    behind = furthest_behind(view.branches)[:top]
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


def chart_bars(view: View) -> tuple[list[BranchProgress], str]:
    """The branches a phone-size chart shows: all when few; otherwise the top and the bottom 10."""
    ordered = ranked(view.branches)
    if len(ordered) <= charts.MAX_BARS:
        return ordered, "chart_bars_all"
    half = charts.MAX_BARS // 2
    return ordered[:half] + ordered[-half:], "chart_bars_top_bottom"


async def chart_reply(t: Catalog, view: View, *, province: bool) -> Reply:
    """The PNG chart, drawn off the event loop (about a tenth of a second of CPU)."""
    shown, bars_key = chart_bars(view)
    target = view.phase.target if province else view.quota
    data = charts.ChartData(
        title=t("chart_title", phase=view.phase.name),
        bars_title=t(bars_key, count=len(shown), total=len(view.branches)),
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
    content = await asyncio.to_thread(charts.render_progress, data)
    return Reply(
        text=t("chart_caption", phase=esc(view.phase.name)),
        file=OutgoingFile.generated("tien-do.png", content, kind="photo"),
    )


def scope(ctx: Context) -> set[int] | None:
    """What a person's progress covers: everything for an admin, the branches a chair chairs, else their own."""
    if is_admin(ctx):
        return None
    assert ctx.member is not None
    return chaired_branch_ids(ctx) or ({ctx.member.branch_id} if ctx.member.branch_id else set())


async def show(ctx: Context) -> None:
    """`/progress` (and the menu button): what the person's role may see, as text and as a chart."""
    branch_ids = scope(ctx)
    view = await load(ctx.session, ctx.campaign, ctx.today(), branch_ids)
    chaired = chaired_branch_ids(ctx)
    if branch_ids is None or len(view.branches) > 1:
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
    ctx.replies.append(await chart_reply(ctx.t, view, province=branch_ids is None))


async def full_ranking(ctx: Context) -> None:
    """The whole ranking, on request (it is long: the unit has many branches)."""
    branch_ids = None if is_admin(ctx) else chaired_branch_ids(ctx)
    if branch_ids is not None and not branch_ids:
        ctx.say(ctx.t("review_not_allowed"))
        return
    view = await load(ctx.session, ctx.campaign, ctx.today(), branch_ids)
    lines = [header(ctx.t, view), ctx.t("progress_ranking_title", total=len(view.branches))]
    lines += rank_lines(ctx.t, ranked(view.branches))
    ctx.say("\n".join(lines))
