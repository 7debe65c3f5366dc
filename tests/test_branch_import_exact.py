"""Branch import at its edges (storage/branch_import.py): every refusal as the exact problem reported, the
limits on what a file may hold, row numbers under blank rows, and what a re-import changes. Exact answers
(mutation-tested); test_branch_import.py covers the formats and the messages people read."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.config import Config
from storage import branch_import
from storage.branch_import import BranchRow, ImportRejected, Problem
from storage.engine import create_engine, session_factory
from storage.models import Branch
from tests.test_branch_import import xlsx


def refused(file_name: str, content: bytes, config: Config) -> list[Problem]:
    with pytest.raises(ImportRejected) as rejected:
        branch_import.parse(branch_import.read_rows(file_name, content), config.campaign)
    assert str(rejected.value) == f"{len(rejected.value.problems)} problem(s)"
    return rejected.value.problems


def zip_of(size: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/big.xml", b"\0" * size)
    return buffer.getvalue()


def test_what_cannot_be_read_is_refused_as_a_whole(config: Config) -> None:
    assert refused("ds.xlsx", b"not a zip", config) == [Problem(0, "import_err_unreadable")]
    assert refused("ds.xlsx", zip_of(1000), config) == [Problem(0, "import_err_unreadable")], "a zip, not a workbook"
    limit = branch_import.MAX_UNPACKED_BYTES
    assert refused("ds.xlsx", zip_of(limit + 1), config) == [
        Problem(0, "import_err_unpacked_too_big", {"limit_mb": 40})
    ]
    assert refused("ds.xlsx", zip_of(limit), config) == [Problem(0, "import_err_unreadable")], "at the limit: read"
    assert refused("ds.csv", b"", config) == [Problem(0, "import_err_empty")]
    assert refused("ds.csv", b"\n,,\n , \n", config) == [Problem(0, "import_err_empty")]
    assert refused("ds.csv", "mã,tên\n".encode(), config) == [Problem(0, "import_err_empty")], "a header alone"


def test_what_is_not_a_readable_spreadsheet_is_named(config: Config) -> None:
    limit = branch_import.MAX_FILE_BYTES
    [too_big] = refused("ds.csv", b"x" * (limit + 1), config)
    assert too_big == Problem(0, "import_err_too_big", {"limit_mb": 2}) and type(too_big.params["limit_mb"]) is int
    assert refused("ds.pdf", b"x" * limit, config) == [Problem(0, "import_err_format")], "at the limit: read"
    assert refused("ds.csv", "mã;tên\nA1;Đơn vị\n".encode("utf-16"), config) == [Problem(0, "import_err_encoding")]
    huge_field = b'code,name\nA1,"' + b"x" * 200_000 + b'"\n'
    assert refused("ds.csv", huge_field, config) == [Problem(0, "import_err_unreadable")]
    commas_later = "code;name\nA1;Đơn vị, khối, phòng, tổ\n".encode()
    assert branch_import.read_rows("ds.csv", commas_later) == [["code", "name"], ["A1", "Đơn vị, khối, phòng, tổ"]]


def test_a_workbook_gives_values_not_formulas_within_its_limits(config: Config, monkeypatch) -> None:
    content = xlsx([["code", "name", "quota_p1", "x4", "x5"], ["A1", "Đơn vị A", "=1+1", 9, 9]])
    monkeypatch.setattr(branch_import, "MAX_COLUMNS", 3)
    assert branch_import.read_rows("ds.xlsx", content) == [["code", "name", "quota_p1"], ["A1", "Đơn vị A", None]]
    monkeypatch.setattr(branch_import, "MAX_ROWS", 3)
    tall = xlsx([["code", "name"]] + [[f"A{n}", f"Đơn vị {n}"] for n in range(10)])
    assert len(branch_import.read_rows("ds.xlsx", tall)) == 5, "the header, the limit, and one to tell it was passed"
    tall_csv = ("code,name\n" + "".join(f"A{n},Đơn vị {n}\n" for n in range(10))).encode()
    assert len(branch_import.read_rows("ds.csv", tall_csv)) == 5


def test_a_row_limit_is_a_limit_on_data_rows(config: Config, monkeypatch) -> None:
    monkeypatch.setattr(branch_import, "MAX_ROWS", 3)
    rows = [["code", "name"]] + [[f"A{n}", f"Đơn vị {n}"] for n in range(3)]
    assert [row.code for row in branch_import.parse(rows, config.campaign)] == ["A0", "A1", "A2"]
    with pytest.raises(ImportRejected) as rejected:
        branch_import.parse([*rows, ["A3", "Đơn vị 3"]], config.campaign)
    assert rejected.value.problems == [Problem(0, "import_err_too_many", {"limit": 3})]


def test_headers_are_reported_on_their_own_row_under_blank_rows(config: Config) -> None:
    long_title = "cột lạ " + "x" * 60
    rows = [[None, ""], ["", None], ["Mã", "Mã CĐCS", long_title, "Kính gửi"], ["A1", "A1", "", ""]]
    with pytest.raises(ImportRejected) as rejected:
        branch_import.parse(rows, config.campaign)
    assert rejected.value.problems == [
        Problem(3, "import_err_repeated_column", {"column": "Mã CĐCS"}),
        Problem(3, "import_err_unknown_column", {"column": long_title[:40]}),
        Problem(3, "import_err_missing_name"),
    ]
    long_code = "B" * 33
    rows = [[], ["code", "name", "kính gửi"], ["a1", "Đơn vị A", "Hội đồng sáng kiến tỉnh"], ["X" * 32, "Đơn vị X", ""],
            [long_code + "Y" * 20, "Đơn vị B", ""], ["C 1", "Đơn vị C", ""], ["", "", ""], ["A1", "", ""]]  # fmt: skip
    with pytest.raises(ImportRejected) as rejected:
        branch_import.parse(rows, config.campaign)
    assert rejected.value.problems == [
        Problem(5, "import_err_bad_code", {"code": (long_code + "Y" * 20)[:40]}),
        Problem(6, "import_err_bad_code", {"code": "C 1"}),
        Problem(8, "import_err_duplicate", {"code": "A1", "first": 3}),
        Problem(8, "import_err_no_name"),
    ]
    good = branch_import.parse(rows[:4], config.campaign)
    assert good == [
        BranchRow(3, "A1", "Đơn vị A", {}, "Hội đồng sáng kiến tỉnh"),
        BranchRow(4, "X" * 32, "Đơn vị X", {}),
    ]


def test_headers_fold_to_letters_and_digits_and_cells_to_text() -> None:
    assert branch_import.fold_header("Chỉ tiêu GĐ 1") == "chitieugd1"
    assert branch_import.fold_header("Mã đơn vị") == "madonvi"
    assert branch_import.fold_header("  Tên CĐCS (*)") == "tencdcs"
    assert [branch_import.cell_text(v) for v in (None, 3.0, 2.5, 12, "  Đơn vị  ", "x" * 1200)] == [
        "", "3", "2.5", "12", "Đơn vị", "x" * 1000]  # fmt: skip


def test_every_limit_of_a_row_at_its_edge(config: Config) -> None:
    header = ["code", "", "name", "quota_p1", "Mã" + "." * 45]
    with pytest.raises(ImportRejected) as rejected:
        branch_import.parse([header], config.campaign)
    assert rejected.value.problems == [Problem(1, "import_err_repeated_column", {"column": ("Mã" + "." * 45)[:40]})]
    header = ["code", "", "name", "quota_p1", "kính gửi"]
    rows = [header, ["A1", "", "n" * 255, "0", "k" * 255], ["A2", "", "n" * 256, "1" * 25, "k" * 256],
            ["X" * 33, "", "Đơn vị", "-1", ""]]  # fmt: skip
    with pytest.raises(ImportRejected) as rejected:
        branch_import.parse(rows, config.campaign)
    assert rejected.value.problems == [
        Problem(3, "import_err_long_name"),
        Problem(3, "import_err_quota", {"value": "1" * 20, "phase": "p1"}),
        Problem(3, "import_err_long_recognising_body"),
        Problem(4, "import_err_bad_code", {"code": "X" * 33}),
        Problem(4, "import_err_negative", {"value": "-1", "phase": "p1"}),
    ]
    [row] = branch_import.parse(rows[:2], config.campaign)
    assert (row.name, row.quotas, row.recognising_body) == ("n" * 255, {"p1": 0}, "k" * 255), "0 is a quota"
    [plain] = branch_import.parse([["code", "name"], ["B1", "Đơn vị B"]], config.campaign)
    assert plain.recognising_body is None, "no column: nothing to change"


@pytest_asyncio.fixture
async def sessions(database_url: str) -> AsyncIterator:
    engine = create_engine(database_url)  # migrated already (conftest)
    yield session_factory(engine)
    await engine.dispose()


@pytest.mark.asyncio
async def test_what_a_reimport_changes_and_counts(sessions) -> None:
    async def run(rows: list[BranchRow], **options) -> tuple[int, int, int]:
        async with sessions() as session, session.begin():
            result = await branch_import.apply(session, rows, **options)
        return result.created, result.updated, result.unchanged

    first = [BranchRow(2, "A", "Đơn vị A", {"p1": 1}, "Hội đồng A"), BranchRow(3, "B", "Đơn vị B", {}),
             BranchRow(4, "C", "Đơn vị C", {"p1": 2}), BranchRow(5, "D", "Đơn vị D", {})]  # fmt: skip
    assert await run(first, sample=True) == (4, 0, 0)
    assert await run(first, sample=True) == (0, 0, 4)
    again = [BranchRow(2, "A", "Đơn vị A", {"p1": 1}), BranchRow(3, "B", "Đơn vị B", {}, "Hội đồng B"),
             BranchRow(4, "C", "Đơn vị C", {"p1": 2, "p2": 5})]  # fmt: skip
    assert await run(again, sample=True) == (0, 2, 1), "A: no body given keeps it; B: a body; C: a new phase"
    assert await run([BranchRow(2, "A", "Đơn vị A", {"p1": 3}, "Hội đồng A")], sample=True) == (0, 1, 0)
    assert await run([BranchRow(3, "B", "Đơn vị Bê", {})], sample=True) == (0, 1, 0), "a new name"
    assert await run([BranchRow(4, "C", "Đơn vị C", {"p1": 2, "p2": 5})]) == (0, 1, 0), "real data now: not a sample"
    assert await run([BranchRow(6, "E", "Đơn vị E", {})]) == (1, 0, 0)
    async with sessions() as session:
        branches = await session.scalars(select(Branch).options(selectinload(Branch.quotas)).order_by(Branch.code))
        found = {
            b.code: (b.name, b.is_sample, b.recognising_body, {q.phase_code: q.quota for q in b.quotas})
            for b in branches.all()
        }
    assert found == {
        "A": ("Đơn vị A", True, "Hội đồng A", {"p1": 3}),
        "B": ("Đơn vị Bê", True, "Hội đồng B", {}),
        "C": ("Đơn vị C", False, None, {"p1": 2, "p2": 5}),
        "D": ("Đơn vị D", True, None, {}),
        "E": ("Đơn vị E", False, None, {}),
    }
