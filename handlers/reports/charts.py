"""Progress charts as PNG (matplotlib, object API with the Agg canvas: no display, safe in a worker thread).

One image, two panels, sized for a phone: recognised vs quota per branch (horizontal bars), and recognised
so far vs the phase's target over time (the target drawn as a straight line from the start of counting).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import textwrap
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_BARS = 20
GREEN, GREY, RED, BLUE = "#2e7d32", "#cfd8dc", "#c62828", "#1565c0"
# Sized for a phone: the image is WIDTH_INCHES wide and shown about 390 px wide, so 1 inch ≈ 100 px on
# screen and a 9-point label is ≈ 12.5 px (at least 11 px, issue 12). DPI 200 keeps it sharp on 2× screens.
WIDTH_INCHES, DPI = 3.9, 200
LABEL_POINTS, TITLE_POINTS = 9, 10
# A branch name is wrapped at word boundaries into at most two lines of this many characters.
LABEL_CHARS = 24


@dataclass(frozen=True)
class ChartData:
    title: str
    bars_title: str
    # (label, recognised, quota) — at most MAX_BARS are drawn, in the given order.
    bars: list[tuple[str, int, int]]
    phase_start: dt.date
    phase_end: dt.date
    today: dt.date
    target: int
    # Recognitions per day inside the phase's counting window, oldest first.
    daily: list[tuple[dt.date, int]]
    labels: dict[str, str]


def branch_label(name: str) -> str:
    """The name on at most two lines, broken between words; a longer name ends with "…" after a word."""
    lines = textwrap.wrap(name, LABEL_CHARS, break_long_words=False) or [""]
    if len(lines) <= 2:
        return "\n".join(lines)
    second = lines[1]
    while len(second) > LABEL_CHARS - 1 and " " in second:
        second = second.rsplit(" ", 1)[0]
    return lines[0] + "\n" + second + "…"


def render_progress(data: ChartData) -> bytes:
    buffer = io.BytesIO()
    progress_figure(data).savefig(buffer, format="png")
    return buffer.getvalue()


@functools.cache
def _matplotlib() -> ModuleType:
    """matplotlib, imported at the first chart (36 MB, with numpy and Pillow, that a bot process holds only once
    someone asks for one), set up once for the process."""
    import matplotlib
    import matplotlib.dates
    import matplotlib.figure
    import matplotlib.ticker

    # Branch names are data: "$…$" in one must print as typed, not be parsed as mathtext (which can fail).
    # Set once for the process (the charts are drawn in worker threads, where rc_context is not safe).
    matplotlib.rcParams["text.parse_math"] = False
    return matplotlib


def progress_figure(data: ChartData) -> Figure:
    mpl = _matplotlib()
    bars = data.bars[:MAX_BARS]
    bar_height = max(1.6, 0.42 * len(bars) + 0.8)
    figure = mpl.figure.Figure(figsize=(WIDTH_INCHES, bar_height + 2.8), dpi=DPI, layout="constrained")
    # Two subfigures, each laid out on its own: the cumulative chart takes the whole width, not only the part
    # right of the bars' names.
    upper, lower = figure.subfigures(2, 1, height_ratios=[bar_height, 2.4])
    top, bottom = upper.subplots(), lower.subplots()
    figure.suptitle(data.title, fontsize=TITLE_POINTS, fontweight="bold")

    names = [branch_label(label) for label, _, _ in bars][::-1]
    recognised = [value for _, value, _ in bars][::-1]
    quotas = [quota for _, _, quota in bars][::-1]
    positions = range(len(bars))
    top.barh(positions, quotas, color=GREY, label=data.labels["quota"])
    top.barh(positions, recognised, height=0.5, color=GREEN, label=data.labels["approved"])
    top.set_yticks(list(positions), names, fontsize=LABEL_POINTS, linespacing=1.25)  # tone marks kept apart
    # The panel's title is wider than the panel (the names take the left half): aligned to its right edge,
    # it runs over the names' column instead of off the image. The legend goes under the axis.
    top.set_title(data.bars_title, loc="right", fontsize=LABEL_POINTS)
    top.legend(fontsize=LABEL_POINTS, loc="upper right", bbox_to_anchor=(1.0, -0.04 * 20 / max(len(bars), 4)),
               ncols=2, frameon=False)  # fmt: skip
    top.tick_params(axis="x", labelsize=LABEL_POINTS)
    top.margins(y=0.02)
    top.xaxis.set_major_locator(mpl.ticker.MaxNLocator(nbins=5, integer=True))  # initiatives are counted, not measured

    days, cumulative, total = [data.phase_start], [0], 0
    for day, count in data.daily:
        total += count
        days.append(day)
        cumulative.append(total)
    last_day = min(max(data.today, data.phase_start), data.phase_end)
    if days[-1] < last_day:
        days.append(last_day)
        cumulative.append(total)
    bottom.step(days, cumulative, where="post", color=BLUE, linewidth=1.6, label=data.labels["approved"])
    bottom.plot([data.phase_start, data.phase_end], [0, data.target], color=RED, linestyle="--",
                label=data.labels["target"])  # fmt: skip
    bottom.set_xlim(data.phase_start, data.phase_end)
    bottom.set_ylim(bottom=0)
    bottom.yaxis.set_major_locator(mpl.ticker.MaxNLocator(nbins=5, integer=True))
    bottom.xaxis.set_major_formatter(mpl.dates.DateFormatter("%d/%m/%y"))
    bottom.xaxis.set_major_locator(mpl.dates.AutoDateLocator(minticks=2, maxticks=4))
    bottom.tick_params(labelsize=LABEL_POINTS)
    bottom.set_title(data.labels["cumulative"], fontsize=LABEL_POINTS)
    bottom.legend(fontsize=LABEL_POINTS, loc="upper left")
    bottom.grid(alpha=0.3)
    return figure
