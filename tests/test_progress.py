"""Campaign progress: the numbers against hand-computed expectations, the texts, and the chart image."""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.config import Config
from handlers import progress
from handlers.i18n import catalog
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
    """Four branches (A quota 1, B 2, C 3, D none) with initiatives around the edges of phase 1.

    Phase 1 runs 28/02/2022–31/05/2022 in Asia/Ho_Chi_Minh (UTC+7).
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
        identity = await queries.get_or_create_identity(session, "telegram", "1", "1", "", "vi")
        member = await queries.register_member(session, identity, "Nguyễn Thị Hoa", branches["A"])

        def make(code: str, status: Status, decided: dt.datetime | None = None) -> None:
            submitted = None if status in (Status.DRAFT,) else local(2022, 3, 1)
            session.add(Initiative(member_id=member.id, branch_id=branches[code].id, status=status,
                                   submitted_at=submitted, decided_at=decided))  # fmt: skip

        make("A", Status.APPROVED, local(2022, 3, 10))
        make("A", Status.REPORTED, local(2022, 4, 1))
        make("B", Status.APPROVED, local(2022, 5, 31, 23, 30))  # last evening of the phase: counts
        make("B", Status.APPROVED, local(2022, 6, 1, 0, 30))  # first minutes of phase 2: does not
        make("B", Status.SUBMITTED)
        make("B", Status.DRAFT)
        make("B", Status.CHANGES_REQUESTED)
        make("C", Status.APPROVED, local(2022, 2, 27))  # before the campaign: counts nowhere
        make("C", Status.REJECTED, local(2022, 3, 5))
    yield factory
    await engine.dispose()


async def test_counts_per_branch_follow_the_approval_date(sessions, config: Config) -> None:
    async with sessions() as session:
        view = await progress.load(session, config.campaign, dt.date(2022, 4, 20), None)
    by_code = {b.code: b for b in view.branches}
    assert [(b.approved, b.quota, b.pending, b.in_progress) for b in view.branches] == [
        (2, 1, 0, 0), (1, 2, 1, 2), (0, 3, 0, 0), (0, 0, 0, 0),
    ]  # fmt: skip
    assert (by_code["A"].percent, by_code["B"].percent, by_code["C"].percent) == (200, 50, 0)
    assert view.daily == [(dt.date(2022, 3, 10), 1), (dt.date(2022, 4, 1), 1), (dt.date(2022, 5, 31), 1)]
    assert [b.code for b in progress.ranked(view.branches)] == ["A", "B", "C", "D"]
    assert [b.code for b in progress.furthest_behind(view.branches)] == ["C", "B"]


async def test_phase_two_counts_its_own_approvals(sessions, config: Config) -> None:
    async with sessions() as session:
        view = await progress.load(session, config.campaign, dt.date(2022, 7, 1), None)
    assert view.phase.code == "p2"
    assert {b.code: b.approved for b in view.branches} == {"A": 0, "B": 1, "C": 0, "D": 0}


async def test_province_text_shows_totals_leaders_and_laggards(sessions, config: Config) -> None:
    t = catalog("vi")
    async with sessions() as session:
        view = await progress.load(session, config.campaign, dt.date(2022, 4, 20), None)
    text = progress.province_text(t, view)
    assert "Còn <b>41</b> ngày" in text  # 20/04 → 31/05
    assert "đã duyệt <b>3/200</b>" in text and "tổng chỉ tiêu các CĐCS: 6" in text
    assert "░░░░░░░░░░ 2%" in text
    assert "1. ▓▓▓▓▓▓▓▓▓▓ 200% · 2/1 · CĐCS A" in text
    assert "2. ▓▓▓▓▓░░░░░ 50% · 1/2 · CĐCS B" in text
    behind = text.split("Chậm nhất", 1)[1]
    assert behind.index("CĐCS C: 0/3, còn thiếu <b>3</b>") < behind.index("CĐCS B: 1/2, còn thiếu <b>1</b>")
    assert "CĐCS A" not in behind


async def test_branch_text_and_days_outside_the_phase(sessions, config: Config) -> None:
    t = catalog("vi")
    async with sessions() as session:
        before = await progress.load(session, config.campaign, dt.date(2022, 2, 20), {1})
        after = await progress.load(session, config.campaign, dt.date(2024, 1, 1), {1})
    assert "bắt đầu sau 8 ngày" in progress.header(t, before)
    assert "đã kết thúc ngày 30/09/2023" in progress.header(t, after)
    branch = before.branches[0]
    assert "Đã duyệt: <b>2/1</b>" in progress.branch_text(t, before, branch, with_counts=False)


async def test_chart_is_a_phone_sized_png(sessions, config: Config) -> None:
    async with sessions() as session:
        view = await progress.load(session, config.campaign, dt.date(2022, 4, 20), None)
    reply = await progress.chart_reply(catalog("vi"), view, province=True)
    assert reply.file is not None and reply.file.kind == "photo" and reply.file.content is not None
    width, height = png_size(reply.file.content)
    assert 500 <= width <= 1200 and 400 <= height <= 2000
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
