"""Progress charts as PNG (matplotlib, object API with the Agg canvas: no display, safe in a worker thread).

One image, two panels, sized for a phone: approved vs quota per branch (horizontal bars), and approved so
far vs the phase's target over time (the target drawn as a straight line from the phase's start).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import matplotlib
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure

# Branch names are data: "$…$" in one must print as typed, not be parsed as mathtext (which can fail).
# Set once for the process (the charts are drawn in worker threads, where rc_context is not safe).
matplotlib.rcParams["text.parse_math"] = False

MAX_BARS = 20
GREEN, GREY, RED, BLUE = "#2e7d32", "#cfd8dc", "#c62828", "#1565c0"


@dataclass(frozen=True)
class ChartData:
    title: str
    bars_title: str
    # (label, approved, quota) — at most MAX_BARS are drawn, in the given order.
    bars: list[tuple[str, int, int]]
    phase_start: dt.date
    phase_end: dt.date
    today: dt.date
    target: int
    # Approvals per day inside the phase, oldest first.
    daily: list[tuple[dt.date, int]]
    labels: dict[str, str]


def _short(label: str, width: int = 30) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def render_progress(data: ChartData) -> bytes:
    bars = data.bars[:MAX_BARS]
    bar_height = max(2.2, 0.32 * len(bars) + 1.0)
    figure = Figure(figsize=(6.4, bar_height + 3.4), dpi=110, layout="constrained")
    top, bottom = figure.subplots(2, 1, height_ratios=[bar_height, 3.0])
    figure.suptitle(data.title, fontsize=11, fontweight="bold")

    names = [_short(label) for label, _, _ in bars][::-1]
    approved = [value for _, value, _ in bars][::-1]
    quotas = [quota for _, _, quota in bars][::-1]
    positions = range(len(bars))
    top.barh(positions, quotas, color=GREY, label=data.labels["quota"])
    top.barh(positions, approved, height=0.5, color=GREEN, label=data.labels["approved"])
    top.set_yticks(list(positions), names, fontsize=8)
    top.set_title(data.bars_title, fontsize=9)
    top.legend(fontsize=8, loc="lower right")
    top.tick_params(axis="x", labelsize=8)

    days, cumulative, total = [data.phase_start], [0], 0
    for day, count in data.daily:
        total += count
        days.append(day)
        cumulative.append(total)
    last_day = min(max(data.today, data.phase_start), data.phase_end)
    if days[-1] < last_day:
        days.append(last_day)
        cumulative.append(total)
    bottom.step(days, cumulative, where="post", color=BLUE, linewidth=2, label=data.labels["approved"])
    bottom.plot([data.phase_start, data.phase_end], [0, data.target], color=RED, linestyle="--",
                label=data.labels["target"])  # fmt: skip
    bottom.set_xlim(data.phase_start, data.phase_end)
    bottom.set_ylim(bottom=0)
    bottom.xaxis.set_major_formatter(DateFormatter("%d/%m/%y"))
    bottom.tick_params(labelsize=8)
    bottom.set_title(data.labels["cumulative"], fontsize=9)
    bottom.legend(fontsize=8, loc="upper left")
    bottom.grid(alpha=0.3)

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
