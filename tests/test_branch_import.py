"""Importing branches and quotas: formats, every bad row reported by number, all or nothing, re-import."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from bot.config import Config
from handlers.branch_admin import describe_problems
from handlers.i18n import catalog
from storage import branch_import
from storage.branch_import import ImportRejected
from storage.engine import create_engine, session_factory, upgrade_database
from storage.models import Branch
from tests import launcher
from tests.harness import ROOT


def xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def problems_of(file_name: str, content: bytes, config: Config) -> list[str]:
    with pytest.raises(ImportRejected) as rejected:
        branch_import.parse(branch_import.read_rows(file_name, content), config.campaign)
    return describe_problems(catalog("vi"), rejected.value.problems).splitlines()


def test_vietnamese_headers_in_excel_with_numbers_as_excel_stores_them(config: Config) -> None:
    content = xlsx([["Mã CĐCS", "Tên CĐCS", "Chỉ tiêu giai đoạn 1", "Chỉ tiêu GĐ 2"],
                    ["bv01", "Bệnh viện Đa khoa tỉnh", 3.0, 5], [None, None, None, None]])  # fmt: skip
    rows = branch_import.parse(branch_import.read_rows("ds.xlsx", content), config.campaign)
    assert [(r.code, r.name, r.quotas) for r in rows] == [("BV01", "Bệnh viện Đa khoa tỉnh", {"p1": 3, "p2": 5})]


def test_csv_from_excel_with_bom_and_semicolons(config: Config) -> None:
    content = "\ufeffcode;name;quota_p1;quota_p2\nTH01;Trường Tiểu học Gia Cẩm;1;2\n".encode()
    rows = branch_import.parse(branch_import.read_rows("ds.csv", content), config.campaign)
    assert [(r.code, r.quotas) for r in rows] == [("TH01", {"p1": 1, "p2": 2})]


def test_every_bad_row_is_reported_with_its_number(config: Config) -> None:
    content = (
        "code,name,quota_p1,quota_p2\n"
        "A1,Đơn vị A,1,2\n"
        ",Đơn vị không mã,1,1\n"
        "A3,Đơn vị C,-2,1\n"
        "A1,Đơn vị trùng,1,1\n"
        "A5,Đơn vị E,ba,1\n"
    ).encode()
    assert problems_of("ds.csv", content, config) == [
        "• Dòng 3: thiếu mã CĐCS.",
        "• Dòng 4: chỉ tiêu p1 không được âm (-2).",
        "• Dòng 5: mã A1 trùng với dòng 2.",
        "• Dòng 6: chỉ tiêu p1 «ba» không phải số nguyên.",
    ]


def test_unknown_and_missing_columns_are_named(config: Config) -> None:
    lines = problems_of("ds.csv", "mã,ghi chú,quota_p1\nA1,x,1\n".encode(), config)
    assert lines == [
        "• Dòng 1: cột «ghi chú» không rõ là gì (dùng: mã, tên, chỉ tiêu giai đoạn 1, chỉ tiêu giai đoạn 2, "
        "kính gửi, mã cấp trên).",
        "• Dòng 1: thiếu cột tên CĐCS (tên / name).",
    ]
    assert problems_of("ds.pdf", b"%PDF", config) == ["Chỉ nhận tệp .xlsx hoặc .csv."]
    assert problems_of("ds.xlsx", b"not a zip", config) == [
        "Không đọc được tệp. Hãy lưu lại bằng Excel (.xlsx) hoặc CSV (UTF-8) rồi gửi lại."
    ]


def test_a_quota_is_a_whole_number_and_grouped_thousands_are_read_as_such(config: Config) -> None:
    """Found: "2.5" and "1,5" lost their separator and imported as 25 and 15."""
    content = 'code,name,quota_p1,quota_p2\nA1,Đơn vị A,2.5,"1,5"\nA2,Đơn vị B,1.200,"2,000"\n'.encode()
    assert problems_of("ds.csv", content, config) == [
        "• Dòng 2: chỉ tiêu p1 «2.5» không phải số nguyên.",
        "• Dòng 2: chỉ tiêu p2 «1,5» không phải số nguyên.",
    ]
    assert problems_of("ds.xlsx", xlsx([["code", "name", "quota_p1"], ["A1", "Đơn vị A", 2.5]]), config) == [
        "• Dòng 2: chỉ tiêu p1 «2.5» không phải số nguyên."
    ]
    good = 'code,name,quota_p1,quota_p2\nA2,Đơn vị B,1.200,"2,000"\n'.encode()
    [row] = branch_import.parse(branch_import.read_rows("ds.csv", good), config.campaign)
    assert row.quotas == {"p1": 1200, "p2": 2000}


async def importer(database_url: str, config: Config):
    """A migrated database, its sessions, and a function importing a CSV text into it (one transaction)."""
    engine = create_engine(database_url)
    await upgrade_database(engine)
    sessions = session_factory(engine)

    async def run(csv_text: str) -> branch_import.ImportResult:
        rows = branch_import.parse(branch_import.read_rows("ds.csv", csv_text.encode()), config.campaign)
        async with sessions() as session, session.begin():
            return await branch_import.apply(session, rows)

    return engine, sessions, run


async def test_reimport_updates_in_place_and_keeps_branches_not_in_the_file(database_url: str, config: Config) -> None:
    engine, sessions, run = await importer(database_url, config)

    first = await run("code,name,quota_p1,quota_p2\nA1,Đơn vị A,1,2\nB2,Đơn vị B,3,4\n")
    second = await run("code,name,quota_p1\nA1,Đơn vị A,1\nB2,Đơn vị Bê,5\nC3,Đơn vị C,2\n")
    async with sessions() as session:
        branches = await session.scalars(select(Branch).options(selectinload(Branch.quotas)).order_by(Branch.code))
        found = {b.code: (b.name, {q.phase_code: q.quota for q in b.quotas}) for b in branches.all()}
    await engine.dispose()
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    assert (second.created, second.updated, second.unchanged) == (1, 1, 1)
    assert found == {
        "A1": ("Đơn vị A", {"p1": 1, "p2": 2}),
        "B2": ("Đơn vị Bê", {"p1": 5, "p2": 4}),  # the file had no p2 column: p2 is kept
        "C3": ("Đơn vị C", {"p1": 2}),
    }


async def test_a_reimport_moves_units_in_the_tree_and_refuses_a_loop_through_stored_units(
    database_url: str, config: Config
) -> None:
    engine, sessions, run = await importer(database_url, config)

    async def parents() -> dict[str, str | None]:
        async with sessions() as session:
            units = (await session.scalars(select(Branch))).all()
            codes = {unit.id: unit.code for unit in units}
            return {unit.code: codes.get(unit.parent_id) if unit.parent_id else None for unit in units}

    first = await run("mã,tên,mã cấp trên\nT,Tỉnh,\nK,Khối,T\nC,Cơ sở,K\n")
    assert (first.created, await parents()) == (3, {"T": None, "K": "T", "C": "K"})
    moved = await run("mã,tên,mã cấp trên\nC,Cơ sở,T\n")
    assert (moved.updated, moved.unchanged) == (1, 0), "moved in the tree: updated"
    unchanged = await run("mã,tên\nC,Cơ sở\n")
    assert (unchanged.unchanged, (await parents())["C"]) == (1, "T"), "no parent column: the parent stays"
    with pytest.raises(ImportRejected) as rejected:
        await run("mã,tên,mã cấp trên\nT,Tỉnh,K\n")  # K is stored under T
    assert [(p.row, p.key) for p in rejected.value.problems] == [(2, "import_err_parent_cycle")]
    rooted = await run("mã,tên,mã cấp trên\nK,Khối,\n")
    assert (rooted.updated, await parents()) == (1, {"T": None, "K": None, "C": "T"}), "blank: a root"
    await engine.dispose()


async def test_command_line_import_is_all_or_nothing(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    env = {**os.environ, "DATABASE_URL": database_url, "SANGKIEN_CONFIG": str(ROOT / "config.toml")}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,quota_p1\nA1,Đơn vị A,1\nA2,Đơn vị B,-1\n", encoding="utf-8")
    good = tmp_path / "good.csv"
    good.write_text("code,name,quota_p1\nA1,Đơn vị A,1\nA2,Đơn vị B,4\n", encoding="utf-8")

    def run(path: Path) -> subprocess.CompletedProcess[str]:
        return launcher.sangkien(["import-branches", str(path)], env)

    refused = run(bad)
    assert refused.returncode == 1
    assert "Dòng 3: chỉ tiêu p1 không được âm (-1)." in refused.stderr
    accepted = run(good)
    assert accepted.returncode == 0, accepted.stderr
    assert "2 created, 0 updated, 0 unchanged" in accepted.stdout

    engine = create_engine(database_url)
    async with session_factory(engine)() as session:
        assert await session.scalar(select(func.count()).select_from(Branch)) == 2
    await engine.dispose()
