"""Campaign progress: the numbers against hand-computed expectations, the texts, and the chart image."""

from __future__ import annotations

import datetime as dt
import io
import struct
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.config import Config
from handlers import progress
from handlers.i18n import catalog
from handlers.reports import charts
from storage import queries
from storage.engine import create_engine, session_factory, upgrade_database
from storage.models import Branch, BranchQuota, Initiative, Status
from tests.harness import local

pytestmark = pytest.mark.asyncio
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(content: bytes) -> tuple[int, int]:
    assert content.startswith(PNG_SIGNATURE), "not a PNG"
    width, height = struct.unpack(">II", content[16:24])
    return width, height


@pytest_asyncio.fixture
async def sessions(database_url: str) -> AsyncIterator:
    """Four branches (A quota p1 1, B 2, C 3, D none) with initiatives in every state around the phases.

    Phase 1 runs 28/02/2022–31/05/2022 and counts recognitions from 01/09/2021; phase 2 06/2022–30/09/2023.
    """
    engine = create_engine(database_url)
    await upgrade_database(engine)
    factory = session_factory(engine)
    async with factory() as session, session.begin():
        branches = {}
        for code, quota in (("A", 1), ("B", 2), ("C", 3), ("D", None)):
            branch = Branch(code=code, name=f"CĐCS {code}")
            branch.quotas = [BranchQuota(phase_code="p1", quota=quota)] if quota else []
            session.add(branch)
            branches[code] = branch
        await session.flush()
        identity = await queries.get_or_create_identity(session, "telegram", "1", "1", "", "vi")
        member = await queries.register_member(session, identity, "Nguyễn Thị Hoa", branches["A"])

        def make(code: str, status: Status, recognised: dt.date | None = None, credited: str | None = None) -> None:
            submitted = None if status == Status.DRAFT else local(2022, 3, 1)
            session.add(Initiative(member_id=member.id, branch_id=branches[code].id,
                                   credited_branch_id=branches[credited or code].id, status=status,
                                   submitted_at=submitted, recognition_kind="council" if recognised else None,
                                   recognition_date=recognised))  # fmt: skip

        make("A", Status.RECOGNISED, dt.date(2022, 3, 10))
        make("A", Status.REPORTED, dt.date(2022, 4, 1))
        make("A", Status.VERIFIED)  # waiting for its recognition: does not count
        make("A", Status.RECOGNISED, dt.date(2022, 4, 5), credited="D")  # a D co-author had the higher share
        make("B", Status.RECOGNISED, dt.date(2022, 5, 31))  # the last day of phase 1: counts in it
        make("B", Status.RECOGNISED, dt.date(2022, 6, 1))  # the first of phase 2: not in phase 1
        make("B", Status.SUBMITTED)
        make("B", Status.DRAFT)
        make("B", Status.CHANGES_REQUESTED)
        make("C", Status.RECOGNISED, dt.date(2021, 10, 1))  # before phase 1 began: counts in it (from 01/09/2021)
        make("C", Status.RECOGNISED, dt.date(2023, 10, 15))  # after the last phase: apart, never dropped
        make("C", Status.REJECTED)
    yield factory
    await engine.dispose()


async def test_only_recognised_initiatives_count_in_the_phase_of_their_decision_for_the_credited_branch(
    sessions, config: Config
) -> None:
    async with sessions() as session:
        view = await progress.load(session, config.campaign, dt.date(2022, 4, 20), None)
    by_code = {b.code: b for b in view.branches}
    assert [(b.code, b.recognised, b.quota, b.waiting, b.pending, b.in_progress) for b in view.branches] == [
        ("A", 2, 1, 1, 0, 0), ("B", 1, 2, 0, 1, 2), ("C", 1, 3, 0, 0, 0), ("D", 1, 0, 0, 0, 0),
    ]  # fmt: skip
    assert (by_code["A"].percent, by_code["B"].percent, by_code["C"].percent, by_code["D"].percent) == (
        200, 50, 33, 100)  # fmt: skip
    assert view.daily == [(dt.date(2021, 10, 1), 1), (dt.date(2022, 3, 10), 1), (dt.date(2022, 4, 1), 1),
                          (dt.date(2022, 4, 5), 1), (dt.date(2022, 5, 31), 1)]  # fmt: skip
    assert (view.totals.by_phase, view.totals.outside, view.totals.recognised) == ({"p1": 5, "p2": 1}, 1, 7)
    assert [b.code for b in progress.ranked(view.branches)] == ["A", "D", "B", "C"]
    assert [b.code for b in progress.furthest_behind(view.branches)] == ["C", "B"]


async def test_recognitions_in_a_gap_between_phases_and_at_either_end_count_apart(sessions, config: Config) -> None:
    """With phase 2 moved to count from 01/07/2022, June 2022 is a gap: 01/06 (B's) is then outside, as
    are 15/10/2023 (after the last) — and nothing before 01/09/2021 exists here. A branch's own totals
    take only its credited ones."""
    from storage import progress as progress_queries

    p1, p2 = config.campaign.phases
    gapped = config.campaign.model_copy(update={"phases": (p1, p2.model_copy(update={"start": dt.date(2022, 7, 1)}))})
    async with sessions() as session:
        totals = await progress_queries.campaign_totals(session, gapped, None)
        branch_c = {b.code: b.id for b in await queries.all_branches(session)}["C"]
        totals_c = await progress_queries.campaign_totals(session, gapped, {branch_c})
    assert (totals.by_phase, totals.outside) == ({"p1": 5, "p2": 0}, 2)
    assert (totals_c.by_phase, totals_c.outside) == ({"p1": 1, "p2": 0}, 1)


async def test_phase_two_counts_its_own_recognitions(sessions, config: Config) -> None:
    async with sessions() as session:
        view = await progress.load(session, config.campaign, dt.date(2022, 7, 1), None)
    assert view.phase.code == "p2"
    assert {b.code: b.recognised for b in view.branches} == {"A": 0, "B": 1, "C": 0, "D": 0}


async def test_province_text_shows_the_phase_the_campaign_leaders_and_laggards(sessions, config: Config) -> None:
    t = catalog("vi")
    async with sessions() as session:
        view = await progress.load(session, config.campaign, dt.date(2022, 4, 20), None)
    text = progress.province_text(t, view)
    assert "Còn <b>41</b> ngày" in text  # 20/04 → 31/05
    assert "Tính các sáng kiến được công nhận từ 01/09/2021" in text
    assert "<b>5/200</b> sáng kiến được công nhận" in text and "tổng chỉ tiêu các CĐCS: 6" in text
    assert "Cả chương trình: <b>7/500</b> (Giai đoạn 1 5 · Giai đoạn 2 1) · ngoài các giai đoạn: 1" in text
    assert "Chờ công nhận: <b>1</b> · 📥 Chờ xác nhận: <b>1</b> · ✍️ Đang soạn/sửa: <b>2</b>" in text
    assert "░░░░░░░░░░ 2%" in text
    assert "1. ▓▓▓▓▓▓▓▓▓▓ 200% · 2/1 · CĐCS A" in text
    assert "3. ▓▓▓▓▓░░░░░ 50% · 1/2 · CĐCS B" in text
    behind = text.split("Chậm nhất", 1)[1]
    assert behind.index("CĐCS C: 1/3, còn thiếu <b>2</b>") < behind.index("CĐCS B: 1/2, còn thiếu <b>1</b>")
    assert "CĐCS A" not in behind


async def test_nobody_leads_when_nothing_is_recognised_and_after_the_campaign_the_results_stay(
    sessions, config: Config
) -> None:
    t = catalog("vi")
    async with sessions() as session:
        before = await progress.load(session, config.campaign, dt.date(2022, 2, 20), {1})
        after = await progress.load(session, config.campaign, dt.date(2026, 12, 1), None)
        empty = await progress.load(session, config.campaign, dt.date(2022, 7, 1), {3})
    assert "bắt đầu sau 8 ngày" in progress.header(t, before)
    text = progress.province_text(t, after)
    assert "Chương trình đã kết thúc ngày 30/09/2023" in text, "after the campaign: its final results"
    assert "<b>1/300</b>" in text and "Cả chương trình: <b>7/500</b>" in text
    branch = before.branches[0]
    assert "Được công nhận: <b>2/1</b>" in progress.branch_text(t, before, branch, with_counts=False)
    assert "Chưa CĐCS nào có sáng kiến được công nhận" in progress.province_text(t, empty)
    assert "Dẫn đầu" not in progress.province_text(t, empty)


async def test_the_chart_draws_what_the_text_says(sessions, config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found on a phone walk: an admin's `/progress B` (a unit of a flat list, whose parent is None like
    the organisation's) drew the phase's target of 200 for a unit whose quota is 2; and the chart's top and
    bottom were other units than the text's leaders and "Chậm nhất"."""
    t = catalog("vi")
    async with sessions() as session:
        whole = await progress.load(session, config.campaign, dt.date(2022, 4, 20), None)
        codes = {b.code: b.id for b in await queries.all_branches(session)}
        unit = await progress.load(session, config.campaign, dt.date(2022, 4, 20), None, codes["B"])
        officer = await progress.load(session, config.campaign, dt.date(2022, 4, 20), set(codes.values()))
    assert progress.chart_data(t, whole).labels["target"] == "Mục tiêu (200)"
    # An officer of several units, side by side: their quotas' sum in the text and the chart alike (a phone walk:
    # the text gave the organisation's 200, the chart the quotas' 6).
    assert "4 CĐCS đồng chí phụ trách</b>: <b>5/6</b>" in progress.province_text(t, officer)
    assert progress.chart_data(t, officer).labels["target"] == "Mục tiêu (6)"
    assert unit.single is not None and progress.chart_data(t, unit).labels["target"] == "Mục tiêu (2)"
    monkeypatch.setattr(charts, "MAX_BARS", 2)  # one leader and one laggard of the four
    data = progress.chart_data(t, whole)
    assert [name for name, _, _ in data.bars] == ["CĐCS A", "CĐCS C"]
    assert data.bars_title == "1 dẫn đầu, 1 chậm nhất / 4 CĐCS"


async def test_chart_is_a_phone_sized_png(sessions, config: Config) -> None:
    async with sessions() as session:
        view = await progress.load(session, config.campaign, dt.date(2022, 4, 20), None)
    reply = await progress.chart_reply(catalog("vi"), view)
    assert reply.file is not None and reply.file.kind == "photo" and reply.file.content is not None
    width, height = png_size(reply.file.content)
    assert 700 <= width <= 1200 and 400 <= height <= 3000
    assert 10_000 < len(reply.file.content) < 500_000


async def test_a_branch_name_with_dollar_signs_is_drawn_as_typed() -> None:
    """Found: a branch named with "$…$" crashed the chart (matplotlib parsed it as mathtext)."""
    from handlers.reports import charts

    data = charts.ChartData(
        title="Tiến độ $\\frac{1}{$", bars_title="$x^{", bars=[("CĐCS $\\frac{1}{0}$ 100$", 1, 3)],
        phase_start=dt.date(2022, 2, 28), phase_end=dt.date(2022, 5, 31), today=dt.date(2022, 4, 20), target=10,
        daily=[(dt.date(2022, 3, 1), 1)], labels={"quota": "q", "approved": "$a$", "target": "t", "cumulative": "c"},
    )  # fmt: skip
    assert png_size(charts.render_progress(data))[0] > 500


async def test_the_chart_is_readable_on_a_phone_and_cuts_no_name_mid_word() -> None:
    """Shown 390 px wide (a phone), every label is at least 11 px high; a long branch name is wrapped
    between words, at most two lines, and never ends inside a word."""
    from handlers.reports import charts

    long_name = "[MẪU] Trung tâm Kiểm soát bệnh tật và Chăm sóc sức khoẻ sinh sản tỉnh Phú Thọ"
    bars = [(f"CĐCS số {n}", n % 4, 3) for n in range(19)] + [(long_name, 1, 2)]
    data = charts.ChartData(
        title="Tiến độ Giai đoạn 1", bars_title="10 đầu, 10 cuối", bars=bars, phase_start=dt.date(2021, 9, 1),
        phase_end=dt.date(2022, 5, 31), today=dt.date(2022, 4, 20), target=200,
        daily=[(dt.date(2021, 10, 1), 3), (dt.date(2022, 3, 1), 5)],
        labels={"quota": "Chỉ tiêu", "approved": "Được công nhận", "target": "Mục tiêu 200", "cumulative": "Luỹ kế"},
    )  # fmt: skip
    figure = charts.progress_figure(data)
    figure.canvas.draw()
    width_px = figure.get_figwidth() * figure.dpi
    on_phone = 390 / width_px
    top, bottom = figure.axes
    texts = [*top.get_yticklabels(), *top.get_xticklabels(), *bottom.get_xticklabels(), *bottom.get_yticklabels()]
    one_line = [t for t in texts if t.get_text() and "\n" not in t.get_text()]
    assert one_line and min(t.get_window_extent().height * on_phone for t in one_line) >= 11
    quota_bars, recognised_bars = top.containers
    assert [bar.get_width() for bar in recognised_bars] == [value for _, value, _ in bars][::-1]
    assert [bar.get_width() for bar in quota_bars] == [quota for _, _, quota in bars][::-1]
    cumulative, target = bottom.lines
    assert list(cumulative.get_ydata()) == [0, 3, 8, 8], "recognitions added up day by day, to today"
    assert list(target.get_ydata()) == [0, 200]
    [drawn] = [t.get_text() for t in top.get_yticklabels() if t.get_text().startswith("[MẪU]")]
    assert drawn.count("\n") == 1 and drawn.endswith("…")
    words = long_name.split()
    assert drawn.rstrip("…").split() == words[: len(drawn.rstrip("…").split())], "whole words only"
    assert png_size(charts.render_progress(data))[0] == round(width_px)
    figure.savefig(io.BytesIO(), format="png")  # laid out as it is sent
    assert bottom.get_position().x0 < 0.2 < top.get_position().x0, "the cumulative chart takes the whole width"
