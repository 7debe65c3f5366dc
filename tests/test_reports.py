"""The Excel report, built from a real database and read back with openpyxl (the Word forms: test_dossier.py)."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

import pytest
import xlsxwriter
from openpyxl import load_workbook

from bot.config import Config
from handlers import paperwork
from handlers.reports import excel, sheet_rows
from handlers.reports.scope import parse_filter
from storage import decisions, queries
from storage.engine import create_engine, session_factory, upgrade_database
from storage.models import Attachment, Author, Initiative, Status
from storage.reports import ReportFilter
from tests.harness import SAMPLE_BRANCHES

pytestmark = pytest.mark.asyncio
UTC = dt.UTC


def at(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, 3, 0, tzinfo=UTC)


@pytest.fixture
async def seeded(database_url: str, config: Config):
    """Branch A (MAU001, quotas p1=1 p2=2) and B (MAU002, p1=2 p2=3) with initiatives in every state."""
    engine = create_engine(database_url)
    await upgrade_database(engine)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        await queries.load_sample_branches(session, SAMPLE_BRANCHES, config.campaign)
        a = await queries.branch_by_code(session, "MAU001")
        b = await queries.branch_by_code(session, "MAU002")
        hoa = await queries.register_member(
            session, await queries.get_or_create_identity(session, "telegram", "1", "1", "", "vi"), "Nguyễn Thị Hoa", a
        )
        tam = await queries.register_member(
            session, await queries.get_or_create_identity(session, "telegram", "2", "2", "", "vi"), "Lê Văn Tám", b
        )

        def make(member, branch, title, status, decided=None, submitted=None, **fields) -> Initiative:
            submitted = submitted or at(2022, 3, 1)
            initiative = Initiative(
                member_id=member.id, branch_id=branch.id, status=status, title=title, type_code="1.2",
                field="Y tế", problem="Cách làm cũ mất thời gian.", solution="Bước 1, bước 2; điểm mới.",
                first_applied_on=dt.date(2021, 10, 15), application_kind="applied",
                application_place="Khoa Khám bệnh", social_benefit="Người dân hài lòng.",
                submitted_at=None if status == Status.DRAFT else submitted, decided_at=decided,
                decided_by_member_id=tam.id if decided else None, **fields,
            )  # fmt: skip
            queries.replace_authors(initiative, [author(member, 100)], research=False)
            session.add(initiative)
            return initiative

        def author(member, share: int, **fields) -> Author:
            return Author(full_name=member.full_name, share_percent=share, member_id=member.id,
                          branch_id=member.branch_id, confirmed=True, **fields)  # fmt: skip

        def recognised(day: dt.date) -> dict:
            return {"recognition_kind": "council", "recognition_decision_no": f"{day.day}/QĐ", "recognition_date": day}

        i1 = make(hoa, a, "Số hoá hồ sơ một cửa", Status.RECOGNISED, at(2022, 4, 10),
                  economic_benefit="Giảm 30% thời gian.", economic_amount_vnd=15_000_000,
                  recognition_kind="council", recognition_decision_no="123/QĐ-BV",
                  recognition_date=dt.date(2021, 12, 20))  # fmt: skip
        queries.replace_authors(i1, [author(hoa, 70, birth_date=dt.date(1985, 5, 12), job_title="Chuyên viên",
                                            qualification="Thạc sĩ", workplace="Trường THPT Chuyên Hùng Vương"),
                                     Author(full_name="Trần Văn Bình", share_percent=30, branch_id=a.id)],
                                research=False)  # fmt: skip
        i1.attachments = [Attachment(platform="telegram", file_id="DOC1", kind="document", file_name="bao-cao.pdf")]
        make(hoa, a, "Sổ tay điện tử", Status.REPORTED, at(2022, 7, 1), portal_reference="SK-0456",
             **recognised(dt.date(2022, 7, 1)))  # fmt: skip
        make(
            hoa,
            a,
            "Chờ xác nhận A",
            Status.SUBMITTED,
            at(2022, 7, 20),
            submitted=at(2022, 8, 1),
            decision_reason="Bổ sung số liệu",
        )  # sent back on 20/7, resubmitted: that decision no longer holds
        make(hoa, a, "Nháp A", Status.DRAFT)
        make(hoa, a, "Bị từ chối", Status.REJECTED, at(2022, 5, 2), decision_reason="Trùng lặp")
        make(tam, b, "Phần mềm hẹn khám", Status.RECOGNISED, at(2023, 1, 5), **recognised(dt.date(2023, 1, 5)))
        make(tam, b, "Chờ công nhận B", Status.VERIFIED, at(2023, 1, 6))
        make(tam, b, "Cần bổ sung B", Status.CHANGES_REQUESTED, at(2023, 2, 1))
        await session.flush()
        ids = {"i1": i1.id, "a": a.id, "b": b.id}
    yield sessions, ids
    await engine.dispose()


async def workbook(sessions, config: Config, branch_ids: set[int] | None, report_filter: ReportFilter | None = None):
    return load_workbook(io.BytesIO(await workbook_bytes(sessions, config, branch_ids, report_filter)))


async def workbook_bytes(
    sessions, config: Config, branch_ids: set[int] | None, report_filter: ReportFilter | None = None
) -> bytes:
    async with sessions() as session:
        request = excel.ReportRequest(config.campaign, frozenset(branch_ids) if branch_ids else None,
                                      report_filter or ReportFilter(), "Công đoàn Viên chức tỉnh Phú Thọ",
                                      dt.date(2023, 3, 1), "Phú Thọ")  # fmt: skip
        return await excel.build(session, request)


def header_row(sheet) -> int:
    """The summary's table starts after its title block: the row whose first cell is "Xếp hạng"."""
    return next(row[0].row for row in sheet.iter_rows() if row[0].value in ("Xếp hạng", "Mã", "Tên sáng kiến"))


def column(sheet, header: str) -> list:
    top = header_row(sheet)
    headers = [c.value for c in sheet[top]]
    index = headers.index(header) + 1
    values = [row[0].value for row in sheet.iter_rows(min_row=top + 1, min_col=index, max_col=index)]
    return [value for value in values if value is not None]


async def test_the_report_has_three_sheets_with_real_types_and_no_formulas(seeded, config: Config) -> None:
    sessions, _ = seeded
    book = await workbook(sessions, config, None)
    assert book.sheetnames == ["Tổng hợp theo CĐCS", "Sáng kiến", "Nhập Cổng"]
    sheet = book["Sáng kiến"]
    assert column(sheet, "Tên sáng kiến") == [
        "Số hoá hồ sơ một cửa", "Sổ tay điện tử", "Chờ xác nhận A", "Bị từ chối", "Phần mềm hẹn khám",
        "Chờ công nhận B", "Cần bổ sung B",
    ], "every initiative but drafts, Vietnamese intact"  # fmt: skip
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:Z8"
    assert int(sheet.column_dimensions["B"].width) == 40, "40 characters as Excel shows them"
    first = dict(zip([c.value for c in sheet[1]], [c for c in sheet[2]], strict=True))
    assert first["Ngày áp dụng lần đầu"].value == dt.datetime(2021, 10, 15)
    assert first["Ngày áp dụng lần đầu"].number_format == "DD/MM/YYYY"
    assert (
        first["Giá trị làm lợi (đồng)"].value == 15_000_000 and first["Giá trị làm lợi (đồng)"].number_format == "#,##0"
    )
    assert first["Tác giả (tỷ lệ đóng góp)"].value == "Nguyễn Thị Hoa (70%); Trần Văn Bình (30%)"
    assert first["Tác giả được ghi nhận"].value == "Nguyễn Thị Hoa"
    assert first["CĐCS được tính"].value == "[MẪU] Trường THPT Chuyên Hùng Vương"
    assert first["Cơ quan công nhận"].value == "Hội đồng sáng kiến" and first["Số tệp đính kèm"].value == 1
    assert first["Trạng thái"].value == "Đã công nhận" and first["Nhập Cổng"].value == "Chưa nhập"
    assert first["Tính vào"].value == "Giai đoạn 1", "recognised 20/12/2021: phase 1 counts from 01/09/2021"
    assert column(sheet, "Nhập Cổng")[1] == "Đã nhập (SK-0456)"
    assert column(sheet, "Trạng thái")[5] == "Chờ công nhận"
    assert column(sheet, "Lý do") == ["Trùng lặp"]
    waiting = dict(zip([c.value for c in sheet[1]], [c.value for c in sheet[4]], strict=True))
    assert waiting["Tên sáng kiến"] == "Chờ xác nhận A" and waiting["Trạng thái"] == "Chờ xác nhận hồ sơ"
    assert (waiting["Ngày CĐCS quyết định"], waiting["Người xác nhận/quyết định"], waiting["Lý do"]) == (None,) * 3
    for name in book.sheetnames:
        for row in book[name].iter_rows():
            for cell in row:
                assert cell.data_type != "f", "no formulas"


TRICKY_TEXTS = [
    '=HYPERLINK("http://x.vn","bấm")', "a < b & c > d", "  hai đầu có dấu cách  ", "_x0041_ viết sẵn",
    "chuông\x07 và \r xuống dòng", "ký tự lạ \ufffe\uffff\x01", "\x0bđầu và cuối\r", "dòng 1\ndòng 2", "'trích",
    "😀" * 20_000, "x" * 40_000,
]  # fmt: skip


def package_structure(content: bytes, part: str) -> tuple[list[int], str, str, str]:
    """A long sheet's row numbers, its dimension, its filter and the workbook's name for that filter: what
    Excel checks and openpyxl does not."""
    with zipfile.ZipFile(io.BytesIO(content)) as package:
        sheet = package.read(part).decode()
        names = package.read("xl/workbook.xml").decode()
    rows = [int(number) for number in re.findall(r'<row r="(\d+)"', sheet)]
    (dimension,) = re.findall(r'<dimension ref="([^"]+)"/>', sheet)
    (auto_filter,) = re.findall(r'<autoFilter ref="([^"]+)"/>', sheet)
    (named,) = re.findall(r'name="_xlnm._FilterDatabase" localSheetId="1" hidden="1">[^!]+!([^<]+)<', names)
    return rows, dimension, auto_filter, named.replace("$", "")


async def test_the_long_sheets_read_back_exactly_as_xlsxwriter_writes_the_same_values(seeded, config: Config) -> None:
    """The initiatives sheet's rows are written by handlers/reports/sheet_rows, not XlsxWriter: text that
    needs escaping, a date Excel cannot count and an amount read back as XlsxWriter's own cells do."""
    sessions, ids = seeded
    async with sessions() as session, session.begin():
        first = await session.get(Initiative, ids["i1"])
        kept = (first.member_id, first.branch_id)
        for number, text in enumerate(TRICKY_TEXTS):
            initiative = Initiative(member_id=kept[0], branch_id=kept[1], status=Status.SUBMITTED, title=text[:300],
                                    economic_benefit=text, type_code="1.2", field=text[:50],
                                    first_applied_on=dt.date(1899, 12, 1 + number),
                                    economic_amount_vnd=10**12 + number, submitted_at=at(2022, 8, 2))  # fmt: skip
            session.add(initiative)
    content = await workbook_bytes(sessions, config, None)
    sheet = load_workbook(io.BytesIO(content))["Sáng kiến"]
    headers = [c.value for c in sheet[1]]
    written = [dict(zip(headers, row, strict=True)) for row in sheet.iter_rows(min_row=2, values_only=True)]
    ours = [(row["Lợi ích kinh tế"], row["Lĩnh vực"], row["Ngày áp dụng lần đầu"], row["Giá trị làm lợi (đồng)"])
            for row in written if row["Ngày áp dụng lần đầu"] and not isinstance(row["Ngày áp dụng lần đầu"],
                                                                                  dt.datetime)]  # fmt: skip

    reference = io.BytesIO()
    with xlsxwriter.Workbook(reference, {"constant_memory": True}) as book:  # inline strings, as ours
        plain = book.add_worksheet()
        for row, text in enumerate(TRICKY_TEXTS):
            plain.write_string(row, 0, text)
            plain.write_string(row, 1, text[:50])
            plain.write_number(row, 2, 10**12 + row)
    expected = [(title, field, f"{day:02d}/12/1899", amount) for day, (title, field, amount)
                in enumerate(load_workbook(reference).active.iter_rows(values_only=True), start=1)]  # fmt: skip
    assert ours == expected
    assert len(ours[-1][0]) == 32_767 and len(ours[-2][0]) == 16_383, "cut at Excel's limit: an emoji counts two"
    with zipfile.ZipFile(io.BytesIO(content)) as package:
        rows = package.read("xl/worksheets/sheet2.xml").decode()
        extras = [int.from_bytes(content[part.header_offset + 28 : part.header_offset + 30], "little")
                  for part in package.infolist()]  # each local header's extra field length  # fmt: skip
    assert extras == [0] * len(extras), "no ZIP64 where none is needed"
    assert '<t xml:space="preserve">  hai đầu có dấu cách  </t>' in rows, "Excel keeps the spaces only when told"
    assert "<t>_x000B_đầu và cuối_x000D_</t>" in rows, "escaped control characters are not spaces"
    numbers, dimension, auto_filter, named = package_structure(content, "xl/worksheets/sheet2.xml")
    last = len(written) + 1
    assert numbers == list(range(1, last + 1)) and dimension == auto_filter == named == f"A1:Z{last}"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row), "no formulas"


async def test_text_shaped_like_markup_stays_text(seeded, config: Config) -> None:
    """XlsxWriter writes an inline string "<r>…</r>" as XML as it stands (a member's title could break the
    file); the long sheets escape it like any text."""
    sessions, ids = seeded
    async with sessions() as session, session.begin():
        initiative = await session.get(Initiative, ids["i1"])
        initiative.title = "<r><t>chen</t></r>"
    sheet = (await workbook(sessions, config, None))["Sáng kiến"]
    assert column(sheet, "Tên sáng kiến")[0] == "<r><t>chen</t></r>"


async def test_a_sheet_part_past_two_gigabytes_is_written_as_zip64(tmp_path, monkeypatch) -> None:
    """Python's zip writer must be told before a part passes 2 GiB (ZIP64), and only then (Excel is strict
    about ZIP64): here the limit is 1 kB, the sheet's rows about 3 kB."""
    with xlsxwriter.Workbook(tmp_path / "made.xlsx") as book:
        book.add_worksheet().write_string(0, 0, "Tên sáng kiến")
    rows = sheet_rows.SheetRows(str(tmp_path), [(lambda title: title, None)])
    rows.append(f"Sáng kiến số {number}" for number in range(100))
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 1_000)
    sheet_rows.splice(tmp_path / "made.xlsx", {"xl/worksheets/sheet1.xml": rows}, tmp_path / "spliced.xlsx")
    with zipfile.ZipFile(tmp_path / "spliced.xlsx") as package:
        assert package.getinfo("xl/worksheets/sheet1.xml").extra != b""
        assert package.getinfo("_rels/.rels").extra == b"", "a small part stays plain"
    monkeypatch.undo()
    sheet = load_workbook(tmp_path / "spliced.xlsx").active
    assert [row[0] for row in sheet.iter_rows(values_only=True)][-1] == "Sáng kiến số 99"


async def test_rows_beyond_what_a_sheet_holds_are_counted_in_its_last_row(seeded, config: Config, monkeypatch) -> None:
    """Excel cannot open a sheet past row 1,048,576 (a nation's million initiatives could reach it): the rows
    stop there and the last says how many were left out and how to export them in parts. Here a sheet holds
    five rows."""
    sessions, _ = seeded
    monkeypatch.setattr(sheet_rows, "MAX_ROWS", 5)
    book = await workbook(sessions, config, None)
    sheet = book["Sáng kiến"]
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)][:3] == [1, 2, 3]
    note = sheet.cell(row=5, column=1).value
    assert sheet.max_row == 5 and note.startswith("Còn 4 sáng kiến nữa không vừa một trang tính Excel (tối đa 5 dòng)")
    assert "/export p1" in note and "sangkien export --phase p1" in note
    numbers, dimension, auto_filter, named = package_structure(await workbook_bytes(sessions, config, None),
                                                               "xl/worksheets/sheet2.xml")  # fmt: skip
    assert (numbers, dimension, auto_filter, named) == ([1, 2, 3, 4, 5], "A1:Z5", "A1:Z4", "A1:Z4")
    assert column(book["Nhập Cổng"], "Tên sáng kiến") == ["Số hoá hồ sơ một cửa", "Phần mềm hẹn khám"], "it fits"


async def test_the_summary_is_signable_and_its_figures_match_hand_computed_ones(seeded, config: Config) -> None:
    sessions, _ = seeded
    summary = (await workbook(sessions, config, None))["Tổng hợp theo CĐCS"]
    texts = [row[0].value for row in summary.iter_rows() if row[0].value is not None and isinstance(row[0].value, str)]
    assert texts[0] == "CÔNG ĐOÀN VIÊN CHỨC TỈNH PHÚ THỌ"
    assert texts[1].startswith("BÁO CÁO KẾT QUẢ THỰC HIỆN CHƯƠNG TRÌNH «01 triệu sáng kiến")
    assert texts[2] == "Phạm vi: Công đoàn Viên chức tỉnh Phú Thọ · Kỳ báo cáo: toàn chương trình · Lập ngày 01/03/2023"
    assert "Giai đoạn 1 (tính từ 01/09/2021 đến 31/05/2022): 1/200 sáng kiến được công nhận (0% mục tiêu)" in texts
    assert "Giai đoạn 2 (tính từ 01/06/2022 đến 30/09/2023): 2/300 sáng kiến được công nhận (1% mục tiêu)" in texts
    assert "Cả chương trình: 3/500 sáng kiến được công nhận (1% mục tiêu)" in texts
    top = header_row(summary)
    assert [c.value for c in summary[top]] == [
        "Xếp hạng", "Mã CĐCS", "CĐCS", "Chỉ tiêu Giai đoạn 1", "Công nhận Giai đoạn 1", "% chỉ tiêu Giai đoạn 1",
        "Chỉ tiêu Giai đoạn 2", "Công nhận Giai đoạn 2", "% chỉ tiêu Giai đoạn 2", "Công nhận ngoài các giai đoạn",
        "Tổng được công nhận", "Tổng chỉ tiêu",
        "% tổng chỉ tiêu", "Chờ công nhận (đã xác nhận hồ sơ)", "Đã nhập Cổng", "Chờ xác nhận hồ sơ", "Đang soạn/sửa",
    ]  # fmt: skip
    rows = {row[1]: row for row in summary.iter_rows(min_row=top + 1, values_only=True) if row[1]}
    # Ranked by phase 2 (today's phase), its share shown: A 1/2 = 50%, B 1/3 = 33.3%.
    assert rows["MAU001"] == (1, "MAU001", "[MẪU] Trường THPT Chuyên Hùng Vương", 1, 1, 100, 2, 1, 50, 0, 2, 3, 66.7,
                              0, 1, 1, 1)  # fmt: skip
    assert rows["MAU002"] == (2, "MAU002", "[MẪU] Bệnh viện Đa khoa tỉnh", 2, 0, 0, 3, 1, 33.3, 0, 1, 5, 20.0, 1, 0,
                              0, 1)  # fmt: skip
    share = next(row for row in summary.iter_rows(min_row=top + 1) if row[1].value == "MAU001")[5]
    assert share.number_format == '0.0"%"', "a share reads 100.0%, not 100"
    assert summary.freeze_panes == f"D{top + 1}" and summary.page_setup.orientation == "landscape"
    total = next(row for row in summary.iter_rows(min_row=top + 1, values_only=True) if row[2] == "Tổng cộng")
    assert total[6:17] == (sum(r[6] for r in rows.values()), 2, 0.4, 0, 3, total[11], total[12], 1, 1, 1, 2)
    assert any(row[2] == "TM. BAN THƯỜNG VỤ" for row in summary.iter_rows(values_only=True))
    assert any(isinstance(row[2], str) and row[2].startswith("Phú Thọ, ngày 1 tháng 3 năm 2023")
               for row in summary.iter_rows(values_only=True))  # fmt: skip


async def test_a_chair_report_holds_only_the_branch_and_filters_narrow_every_sheet(seeded, config: Config) -> None:
    sessions, ids = seeded
    book = await workbook(sessions, config, {ids["a"]})
    assert set(column(book["Sáng kiến"], "CĐCS")) == {"[MẪU] Trường THPT Chuyên Hùng Vương"}
    assert column(book["Tổng hợp theo CĐCS"], "Mã CĐCS") == ["MAU001"]
    assert column(book["Nhập Cổng"], "Tên sáng kiến") == ["Số hoá hồ sơ một cửa"]

    phase_one = await workbook(sessions, config, None, parse_filter("p1", config.campaign))
    assert column(phase_one["Sáng kiến"], "Tên sáng kiến") == ["Số hoá hồ sơ một cửa"]
    assert column(phase_one["Tổng hợp theo CĐCS"], "Tổng được công nhận")[:2] == [1, 0]
    rejected = await workbook(sessions, config, None, parse_filter("từ chối", config.campaign))
    assert column(rejected["Sáng kiến"], "Tên sáng kiến") == ["Bị từ chối"]
    waiting = await workbook(sessions, config, None, parse_filter("chờ công nhận", config.campaign))
    assert column(waiting["Sáng kiến"], "Tên sáng kiến") == ["Chờ công nhận B"]
    assert column(waiting["Nhập Cổng"], "Tên sáng kiến") == []
    heading = [r[0].value for r in waiting["Tổng hợp theo CĐCS"].iter_rows() if isinstance(r[0].value, str)]
    assert "Bảng chỉ gồm sáng kiến «Chờ công nhận»: chưa sáng kiến nào" in "\n".join(heading)
    assert not any("sáng kiến được công nhận (" in line for line in heading), "no «0/200 được công nhận» headline"
    august = await workbook(sessions, config, None, parse_filter("1/8/2022-31/8/2022", config.campaign))
    assert column(august["Sáng kiến"], "Tên sáng kiến") == ["Chờ xác nhận A"]
    *per_branch, total = column(august["Tổng hợp theo CĐCS"], "Chờ xác nhận hồ sơ")
    assert (sum(per_branch), total) == (1, 1), "the period narrows the summary too"
    assert column(august["Tổng hợp theo CĐCS"], "Tổng được công nhận")[-1] == 0


async def test_the_portal_sheet_follows_the_portal_and_loses_rows_once_entered(seeded, config: Config) -> None:
    sessions, ids = seeded
    portal = (await workbook(sessions, config, None))["Nhập Cổng"]
    assert [c.value for c in portal[1]] == [
        "Tên sáng kiến", "Loại / lĩnh vực", "Tóm tắt nội dung giải pháp", "Hiệu quả", "Giá trị làm lợi (đồng)",
        "Ngày áp dụng lần đầu", "Cơ quan công nhận, số và ngày quyết định", "Tác giả (tỷ lệ đóng góp)",
    ]  # fmt: skip
    first = [c.value for c in portal[2]]
    assert first[0] == "Số hoá hồ sơ một cửa" and first[1] == "1.2 Giải pháp quản lý / Y tế"
    assert first[3] == "Giảm 30% thời gian.\nNgười dân hài lòng." and first[4] == 15_000_000
    assert first[6] == "Hội đồng sáng kiến, 123/QĐ-BV, 20/12/2021"
    assert column(portal, "Tên sáng kiến") == ["Số hoá hồ sơ một cửa", "Phần mềm hẹn khám"]
    async with sessions() as session, session.begin():
        tam = await (await session.get(Initiative, ids["i1"])).awaitable_attrs.decided_by
        assert await decisions.mark_reported(session, ids["i1"], tam, "SK-0999", at(2022, 9, 1))
        assert not await decisions.mark_reported(session, ids["i1"], tam, None, at(2022, 9, 2))
    book = await workbook(sessions, config, None)
    assert column(book["Nhập Cổng"], "Tên sáng kiến") == ["Phần mềm hẹn khám"]
    assert column(book["Sáng kiến"], "Nhập Cổng")[0] == "Đã nhập (SK-0999)"


async def test_the_export_command_writes_the_province_workbook(seeded, database_url: str, tmp_path) -> None:
    """In a new interpreter, as an operator runs it (the other command tests fork a pre-imported bot): the
    report stack's imports are checked from scratch here."""
    import asyncio
    import os
    import sys

    from tests.harness import ROOT

    out = tmp_path / "bao-cao.xlsx"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "export", "--out", str(out), "--status", "đã công nhận", cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url, "SANGKIEN_CONFIG": str(ROOT / "config.toml")},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output = (await process.stdout.read()).decode()
    assert await process.wait() == 0, output
    book = load_workbook(out)
    assert column(book["Sáng kiến"], "Tên sáng kiến") == ["Số hoá hồ sơ một cửa", "Phần mềm hẹn khám"]
    assert len(column(book["Tổng hợp theo CĐCS"], "Mã CĐCS")) == 160


async def test_the_workbooks_file_name_names_its_units_or_counts_them() -> None:
    """A chair of many units got «sang-kien-MAU001-…-MAU00-…»: the name cut in the middle of a code."""
    assert paperwork.file_scope(["MAU002", "MAU014"]) == "MAU002-MAU014"
    assert paperwork.file_scope([f"MAU{n:03}" for n in range(1, 161)]) == "160-don-vi"
    # Two filters' files saved side by side kept one name, the second replacing the first.
    assert paperwork.file_filter("Giai đoạn 1, Chờ xác nhận hồ sơ") == "-giai-doan-1-cho-xac-nhan-ho-so"
    assert paperwork.file_filter("01/08/2022–31/08/2022") == "-01-08-2022-31-08-2022"
    assert paperwork.file_filter("") == ""
    # Its «Phạm vi» names three units and counts the others (a chair of 160 had them all on one line).
    assert paperwork.scope_names(["A", "B"]) == "A, B"
    assert paperwork.scope_names([f"U{n}" for n in range(160)]) == "U0, U1, U2 và 157 đơn vị khác"
