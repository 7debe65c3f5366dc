"""Importing initiatives already recognised on paper: every bad row reported by number, all or nothing, each
counted in the phase of its decision for its credited author's branch, refused the second time; from the
command line and by a file sent to the bot."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from alembic import command
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import selectinload

from bot.config import Config
from handlers import progress
from handlers.branch_admin import TEMPLATES, describe_problems
from handlers.i18n import catalog
from storage import branch_import, initiative_import
from storage.branch_import import ImportRejected
from storage.engine import alembic_config, create_engine, session_factory, upgrade_database
from storage.models import AuditEvent, Branch, BranchQuota, Initiative, Member, Status
from tests import launcher
from tests.harness import ROOT
from tests.test_branch_import import xlsx

pytestmark = pytest.mark.asyncio
TODAY = dt.date(2022, 10, 20)
NOW = dt.datetime(2022, 10, 20, 3, 0, tzinfo=dt.UTC)
HEADER = ["Mã CĐCS", "Tên sáng kiến", "Loại", "Tác giả", "Số quyết định", "Ngày quyết định", "Chủ nhiệm", "Mã cổng"]


@pytest_asyncio.fixture
async def sessions(database_url: str) -> AsyncIterator:
    engine = create_engine(database_url)
    await upgrade_database(engine)
    factory = session_factory(engine)
    async with factory() as session, session.begin():
        for code, quota in (("BV", 2), ("TH", 1)):
            branch = Branch(code=code, name=f"CĐCS {code}")
            branch.quotas = [BranchQuota(phase_code="p1", quota=quota)]
            session.add(branch)
    yield factory
    await engine.dispose()


def parse(rows: list[list[object]], config: Config) -> list[initiative_import.InitiativeRow]:
    return initiative_import.parse(branch_import.read_rows("sk.xlsx", xlsx(rows)), config.campaign, TODAY)


def problems(rejected: pytest.ExceptionInfo[ImportRejected]) -> list[str]:
    return describe_problems(catalog("vi"), rejected.value.problems).splitlines()


async def apply(sessions, rows: list[initiative_import.InitiativeRow], config: Config) -> int:
    async with sessions() as session, session.begin():
        actor = await initiative_import.importer_member(session)
        return await initiative_import.apply(session, rows, config.campaign, actor, NOW)


async def test_recognised_initiatives_count_in_their_decisions_phase_for_the_credited_branch(
    sessions, config: Config
) -> None:
    rows = parse([
        HEADER,
        ["bv", "Số hoá hồ sơ một cửa tại khoa", "1.2 Giải pháp quản lý", "Nguyễn Văn An", "12/QĐ-BV",
         dt.datetime(2022, 3, 15), None, None],
        ["BV", "Sổ tay điện tử cho điều dưỡng", "1.1", "Lê Thị Hoa 40%, Trần Văn Bình 60% TH", "13/QĐ-BV",
         "1/10/2021", None, "CONG-0042"],
        ["TH", "Đề tài sàng lọc bệnh nhân mạn tính", "1.7", "Phạm Văn Chủ 20%, Đỗ Thị Mai 80% BV", "5/QĐ-SYT",
         "20/06/2022", "Phạm Văn Chủ", None],
    ], config)  # fmt: skip
    assert await apply(sessions, rows, config) == 3

    async with sessions() as session:
        stored = (await session.scalars(select(Initiative).options(selectinload(Initiative.authors),
                  selectinload(Initiative.credited_branch)).order_by(Initiative.id))).all()  # fmt: skip
        view = await progress.load(session, config.campaign, dt.date(2022, 4, 20), None)
        imported = (await session.scalars(select(AuditEvent.action).where(AuditEvent.action == "imported"))).all()
    assert [(i.status, i.recognition_date, i.credited_branch.code) for i in stored] == [
        (Status.RECOGNISED, dt.date(2022, 3, 15), "BV"),
        (Status.REPORTED, dt.date(2021, 10, 1), "TH"),  # Trần Văn Bình of TH has the higher share
        (Status.RECOGNISED, dt.date(2022, 6, 20), "TH"),  # a research topic: credited to its leader
    ]
    assert stored[1].portal_reference == "CONG-0042"
    assert [(a.full_name, a.share_percent, a.is_lead) for a in stored[2].authors] == [
        ("Phạm Văn Chủ", 20, True), ("Đỗ Thị Mai", 80, False)]  # fmt: skip
    assert stored[2].recognition_kind == "acceptance" and stored[0].recognition_kind == "council"
    assert imported == ["imported"] * 3
    counts = {b.code: b.recognised for b in view.branches}
    assert counts == {"BV": 1, "TH": 1}, "phase 1 counts from 01/09/2021; the June 2022 decision is phase 2's"
    assert view.totals.by_phase == {"p1": 2, "p2": 1}

    with pytest.raises(ImportRejected) as again:
        await apply(sessions, rows[:1], config)
    assert problems(again) == [f"• Dòng 2: sáng kiến này đã có trong bot (#{stored[0].id})."]


async def test_every_bad_row_is_reported_and_nothing_is_written(sessions, config: Config) -> None:
    with pytest.raises(ImportRejected) as rejected:
        parse([
            HEADER,
            ["BV", "Ngắn", "1.9", "Nguyễn Văn An 70%, Lê Bình 20%", "", "31/2/2022", None, None],
            ["BV", "Một sáng kiến hợp lệ ở đây", "1.2", "Nguyễn Văn An", "1/QĐ", "1/8/2021", None, None],
            ["TH", "Đề tài có chủ nhiệm lạ", "1.7", "Phạm Văn Chủ 100%", "2/QĐ", "1/3/2022", "Người Khác", None],
            ["BV", "Một sáng kiến hợp lệ ở đây", "1.2", "Nguyễn Văn An", "3/QĐ", "1/3/2022", None, None],
            ["BV", "Sáng kiến có ngày tương lai", "1.2", "Nguyễn Văn An", "4/QĐ", "1/3/2030", None, None],
        ], config)  # fmt: skip
    assert problems(rejected) == [
        "• Dòng 2: ô «Số quyết định» để trống.",
        "• Dòng 2: tên sáng kiến cần 10–250 ký tự.",
        "• Dòng 2: loại «1.9» không có trong chương trình (dùng mã 1.1 … 1.7).",
        "• Dòng 2: Tổng tỷ lệ các tác giả là 90%, cần đúng 100%. Đồng chí gõ lại.",
        "• Dòng 2: Tháng 2/2022 không có ngày 31. Đồng chí kiểm tra lại ngày.",
        "• Dòng 3: Quyết định ngày 01/08/2021 trước 01/09/2021: chương trình chỉ tính sáng kiến được công nhận "
        "từ 01/09/2021. Đồng chí kiểm tra lại, hoặc bỏ qua nếu chưa có quyết định mới.",
        "• Dòng 4: chủ nhiệm «Người Khác» không có trong cột tác giả.",
        "• Dòng 6: Ngày 01/03/2030 ở tương lai. Đồng chí nhập ngày đã diễn ra.",
    ]
    rows = parse([HEADER, ["XX", "Sáng kiến của CĐCS lạ", "1.2", "An Bình 50%, Cúc Đào 50% YY", "1/QĐ", "1/3/2022",
                           None, None]], config)  # fmt: skip
    with pytest.raises(ImportRejected) as unknown:
        await apply(sessions, rows, config)
    assert problems(unknown) == ["• Dòng 2: không có CĐCS mã XX.", "• Dòng 2: không có CĐCS mã YY."]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Initiative)) == 0


async def test_a_missing_column_and_an_unknown_one_are_named(config: Config) -> None:
    with pytest.raises(ImportRejected) as rejected:
        parse([["Mã CĐCS", "Tên sáng kiến", "Tác giả", "Ngày quyết định", "Ghi chú"]], config)
    assert problems(rejected) == [
        "• Dòng 1: cột «Ghi chú» không rõ là gì (dùng: mã CĐCS, tên sáng kiến, loại, tác giả, số quyết định, ngày "
        "quyết định, công nhận bởi, chủ nhiệm, lĩnh vực, ngày áp dụng, mã cổng).",
        "• Dòng 1: thiếu cột loại sáng kiến.",
        "• Dòng 1: thiếu cột số quyết định công nhận.",
    ]


async def test_the_sheet_sent_to_fill_in_has_every_column_the_importer_reads(config: Config) -> None:
    """/import sends it with its explanation: each of its headers is a column the import reads."""
    _, titles = TEMPLATES["mau-sang-kien-da-cong-nhan.xlsx"]
    headers = list(titles)
    row = ["MAU005", "Sổ theo dõi thiết bị thí nghiệm điện tử", "1.5", "Đỗ Thị Mẫu", "7/QĐ-ĐH", "15/03/2022",
           "Hội đồng sáng kiến", "Giáo dục", None, "CONG-1"]  # fmt: skip
    [parsed] = parse([headers, row], config)
    assert (parsed.branch_code, parsed.recognised_by, parsed.field, parsed.portal_reference) == (
        "MAU005", "council", "Giáo dục", "CONG-1")  # fmt: skip


async def test_a_branch_list_and_an_initiative_list_are_told_apart() -> None:
    assert initiative_import.is_initiative_list([[], HEADER])
    assert not initiative_import.is_initiative_list([["Mã", "Tên", "Chỉ tiêu giai đoạn 1"]])


async def test_command_line_import(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    env = {**os.environ, "DATABASE_URL": database_url, "SANGKIEN_CONFIG": str(ROOT / "config.toml")}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    branches = tmp_path / "cdcs.csv"
    branches.write_text("mã,tên,chỉ tiêu giai đoạn 1\nBV,Bệnh viện,2\n", encoding="utf-8")
    good = tmp_path / "sang-kien.csv"
    good.write_text(
        "mã cđcs,tên sáng kiến,loại,tác giả,số quyết định,ngày quyết định\n"
        "BV,Số hoá hồ sơ một cửa tại khoa,1.2,Nguyễn Văn An,12/QĐ-BV,15/03/2022\n",
        encoding="utf-8",
    )

    def run(command: str, path: Path) -> subprocess.CompletedProcess[str]:
        return launcher.sangkien([command, str(path)], env)

    refused = run("import-initiatives", good)
    assert refused.returncode == 1 and "Dòng 2: không có CĐCS mã BV." in refused.stderr
    assert run("import-branches", branches).returncode == 0
    accepted = run("import-initiatives", good)
    assert accepted.returncode == 0, accepted.stderr
    assert "1 recognised initiatives imported" in accepted.stdout
    assert run("import-initiatives", good).returncode == 1, "the same file twice does not count twice"

    engine = create_engine(database_url)
    async with session_factory(engine)() as session:
        [stored] = (await session.scalars(select(Initiative))).all()
        importer = await session.get(Member, stored.member_id)
    await engine.dispose()
    assert (stored.status, stored.recognition_decision_no) == (Status.RECOGNISED, "12/QĐ-BV")
    assert importer is not None and importer.full_name == "Nhập từ tệp"


def downgrade_to(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def test_initiatives_an_admin_imported_in_the_chat_become_the_importers_after_the_upgrade(tmp_path: Path) -> None:
    """Before migration 0019 a chat import made the admin their sender (his /mine listed them all); after it
    they are the importer's, the admin still who entered them, and an initiative he entered for members (no
    import) stays his. The downgrade gives them back."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/old.db")
    await upgrade_database(engine, "0018")
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        admin, branch = Member(full_name="Quản Trị Tỉnh"), Branch(code="BV", name="CĐCS BV")
        importer = Member(full_name="Nhập từ tệp")
        session.add_all([admin, branch, importer])
        await session.flush()
        for title, by in (("Nhập trong chat", admin), ("Nhập hộ đoàn viên", admin), ("Nhập bằng lệnh", importer)):
            session.add(Initiative(member_id=by.id, entered_by_member_id=by.id, branch_id=branch.id,
                                   status=Status.RECOGNISED, title=title))  # fmt: skip
        await session.flush()
        for title, by in (("Nhập trong chat", admin), ("Nhập bằng lệnh", importer)):
            imported = await session.scalar(select(Initiative.id).where(Initiative.title == title))
            session.add(AuditEvent(initiative_id=imported, actor_member_id=by.id, action="imported"))

    async def senders() -> dict[str, tuple[str, str]]:
        async with sessions() as session:
            rows = await session.execute(
                select(Initiative.title, Initiative.member_id, Initiative.entered_by_member_id)
            )
            names = dict((await session.execute(select(Member.id, Member.full_name))).all())
        return {title: (names[sender], names[entered_by]) for title, sender, entered_by in rows}

    await upgrade_database(engine)
    after = await senders()
    async with engine.begin() as connection:
        await connection.run_sync(downgrade_to, "0018")
    before = await senders()
    await engine.dispose()
    admin_s, importer_s = ("Quản Trị Tỉnh", "Quản Trị Tỉnh"), ("Nhập từ tệp", "Nhập từ tệp")
    assert after == {"Nhập trong chat": ("Nhập từ tệp", "Quản Trị Tỉnh"), "Nhập hộ đoàn viên": admin_s,
                     "Nhập bằng lệnh": importer_s}  # fmt: skip
    assert before == {"Nhập trong chat": admin_s, "Nhập hộ đoàn viên": admin_s,
                      "Nhập bằng lệnh": importer_s}  # fmt: skip
