"""The organisation tree through the real transport, on 20/04/2022 (phase 1): a three-level tree imported
from a spreadsheet (bad rows reported first), recognised initiatives at every level, and what each officer
sees — its own subtree's sums in /progress, the chart and the Excel file, nothing outside it, forged
presses refused."""

from __future__ import annotations

import io

import pytest
import pytest_asyncio
from openpyxl import load_workbook
from sqlalchemy import select

from bot.sandbox.telegram_emulator import TelegramEmulator
from storage.models import Branch, Initiative
from tests.harness import ADMIN_ID, Database, InProcessBot, Person, invite_chair, register
from tests.test_branch_import import xlsx

pytestmark = pytest.mark.asyncio(loop_scope="module")

TREE_HEADER = ["Mã", "Tên", "Mã cấp trên", "Chỉ tiêu GĐ1"]
TREE = [
    ["TINH", "LĐLĐ tỉnh Thử", "", None],
    ["KHOI1", "CĐ Khối Y tế", "TINH", None],  # no quota: the sum of its children's (4 + 6)
    ["KHOI2", "CĐ Khối Giáo dục", "TINH", 10],  # its own quota, whatever its children's
    ["BV1", "Bệnh viện Một", "KHOI1", 4],
    ["BV2", "Bệnh viện Hai", "KHOI1", 6],
    ["TR1", "Trường Một", "KHOI2", 3],
]
RECOGNISED_HEADER = ["Mã CĐCS", "Tên sáng kiến", "Loại", "Tác giả", "Số quyết định", "Ngày quyết định"]


def recognised(code: str, number: int) -> list[object]:
    author = f"Nguyễn Văn {'ABCDEFGH'[number]}"
    return [code, f"Cải tiến quy trình tiếp nhận hồ sơ số {number} của {code}", "1.2", author, f"{number}/QĐ-HĐSK",
            "15/03/2022"]  # fmt: skip


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def admin(emulator: TelegramEmulator, live_bot: InProcessBot) -> Person:
    admin = Person(emulator, "Quản trị Tỉnh", user_id=ADMIN_ID)
    await register(admin, "MAU004", "Quản Trị Tỉnh")
    await admin.send("/import")
    await admin.expect("Danh sách CĐCS và chỉ tiêu")
    return admin


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def officer(emulator: TelegramEmulator, admin: Person) -> Person:
    """The officer of CĐ Khối Y tế (KHOI1); the unit exists once the tree is imported (the second test)."""
    return Person(emulator, "Trần Văn Khối")


async def initiative_id(database: Database, code: str, number: int) -> int:
    async with database.sessions() as session:
        title = recognised(code, number)[1]
        return (await session.scalars(select(Initiative.id).where(Initiative.title == title))).one()


async def unit_ids(database: Database) -> dict[str, int]:
    async with database.sessions() as session:
        return {code: unit_id for unit_id, code in (await session.execute(select(Branch.id, Branch.code))).all()}


def summary(content: bytes) -> dict[str, dict[str, object]]:
    """The Excel summary's rows by unit code (the total row under "Tổng cộng")."""
    rows = list(load_workbook(io.BytesIO(content))["Tổng hợp theo CĐCS"].iter_rows(values_only=True))
    top = next(number for number, row in enumerate(rows) if row[0] == "Xếp hạng")
    found = {}
    for row in rows[top + 1 :]:
        if row[1] or row[2] == "Tổng cộng":
            found[row[1] or "Tổng cộng"] = dict(zip(rows[top], row, strict=True))
    return found


async def test_a_bad_tree_is_reported_row_by_row_and_nothing_is_imported(
    admin: Person, live_database: Database
) -> None:
    bad = [
        TREE_HEADER,
        ["VONG1", "Đơn vị vòng 1", "VONG2", 1],
        ["VONG2", "Đơn vị vòng 2", "VONG1", 1],
        ["TUTHAN", "Đơn vị tự thân", "TUTHAN", 1],
        ["LAC", "Đơn vị lạc", "KHONGCO", 1],
        ["TOT", "Đơn vị tốt", "", 1],
    ]
    await admin.send_file("cay.xlsx", xlsx(bad))
    text = (await admin.expect("Chưa nhập cay.xlsx")).plain_text
    assert "Dòng 4: đơn vị TUTHAN không thể là cấp trên của chính nó." in text, text
    assert "Dòng 5: không có đơn vị cấp trên mã KHONGCO" in text, text
    assert "Dòng 2: đơn vị VONG1 nằm dưới chính nó" in text and "Dòng 3: đơn vị VONG2 nằm dưới chính nó" in text
    assert not {"VONG1", "VONG2", "TUTHAN", "LAC", "TOT"} & set(await unit_ids(live_database)), "all or nothing"


async def test_each_officer_sees_its_subtree_rolled_up_and_nothing_outside_it(
    emulator: TelegramEmulator, admin: Person, officer: Person, live_database: Database
) -> None:
    newcomer = Person(emulator, "Người Mới Đến")
    await newcomer.send("/start")
    await newcomer.expect("Chọn công đoàn cơ sở")  # the unit list, read before the import
    await admin.send_file("cay.xlsx", xlsx([TREE_HEADER, *TREE]))
    await admin.expect("Đã nhập cay.xlsx: 6 CĐCS — thêm mới 6")
    await newcomer.send("benh vien hai")  # the units just imported are listed at once, not a minute later
    found = await newcomer.expect("Tìm «benh vien hai»: 1 CĐCS phù hợp")
    assert next(button["text"] for button in found.buttons()) == "Bệnh viện Hai", found.buttons()
    rows = [recognised("BV1", 1), recognised("BV1", 2), recognised("BV2", 3), recognised("TR1", 4),
            recognised("KHOI2", 5)]  # fmt: skip
    await admin.send_file("cong-nhan.xlsx", xlsx([RECOGNISED_HEADER, *rows]))
    await admin.expect("Đã nhập cong-nhan.xlsx: 5 sáng kiến đã được công nhận")
    await admin.send("/mine")  # imported for the units, not sent by him
    assert "Cải tiến quy trình" not in (await admin.expect("Đồng chí chưa gửi sáng kiến nào")).plain_text
    ids = await unit_ids(live_database)

    await invite_chair(admin, officer, "KHOI1", "Trần Văn Khối")
    assert any("Đường dẫn mời làm cán bộ phụ trách CĐ Khối Y tế" in text for text in admin.bot_texts())
    await officer.send("/progress")
    view = await officer.expect("CĐ Khối Y tế", "3/10 sáng kiến được công nhận theo chỉ tiêu", "2 đơn vị trực thuộc")
    text = view.plain_text
    assert "1. ▓▓▓▓▓░░░░░ 50% · 2/4 · Bệnh viện Một" in text and "2. ▓▓░░░░░░░░ 17% · 1/6 · Bệnh viện Hai" in text
    assert "Trường Một" not in text and "Giáo dục" not in text, "nothing outside the officer's subtree"
    chart = await officer.expect("Biểu đồ tiến độ Giai đoạn 1")
    assert chart.photo
    for forged in (f"pg:u:{ids['TR1']}", f"pg:u:{ids['TINH']}", f"pg:all:{ids['KHOI2']}", "pg:u:x"):
        await emulator.user_presses(officer.user_id, view, forged)
        await officer.expect("không có quyền")
    await officer.send("/progress TR1")
    await officer.expect("không có quyền")
    await officer.send("/progress BV1")
    unit = await officer.expect("Bệnh viện Một", "Được công nhận: 2/4", "📥 2 sáng kiến nhập từ tệp")
    assert "Quản Trị Tỉnh" not in unit.plain_text, "the admin who imported them sent none of them"
    await officer.expect("Biểu đồ tiến độ Giai đoạn 1")

    await officer.send("/export")
    workbook = summary(await officer.expect_file(".xlsx"))
    assert set(workbook) == {"BV1", "BV2", "Tổng cộng"}, workbook
    assert workbook["BV1"]["Công nhận Giai đoạn 1"] == 2 and workbook["BV2"]["Công nhận Giai đoạn 1"] == 1
    assert (workbook["Tổng cộng"]["Công nhận Giai đoạn 1"], workbook["Tổng cộng"]["Chỉ tiêu Giai đoạn 1"]) == (3, 10)

    member = Person(emulator, "Phạm Thị Khối Viên")
    await register(member, "KHOI1", "Phạm Thị Khối Viên")
    await member.send("/progress")
    own = await member.expect("CĐ Khối Y tế", "Được công nhận: 3/10")
    assert "Bệnh viện" not in own.plain_text, "a member sees their unit's total, not the units under it"
    await member.send("/progress BV1")
    await member.expect("không có quyền")

    await admin.send("/progress TINH")
    root = await admin.expect("LĐLĐ tỉnh Thử", "5/200 sáng kiến được công nhận", "tổng chỉ tiêu các CĐCS: 20")
    assert "1. ▓▓▓░░░░░░░ 30% · 3/10 · CĐ Khối Y tế" in root.plain_text, "its children's quotas added up"
    assert "2. ▓▓░░░░░░░░ 20% · 2/10 · CĐ Khối Giáo dục" in root.plain_text, "its own quota; its own initiative"
    assert "Bệnh viện" not in root.plain_text, "the units one level down, not every unit"
    await admin.expect("Biểu đồ tiến độ Giai đoạn 1")
    await admin.tap("CĐ Khối Giáo dục", root)
    opened = await admin.expect("CĐ Khối Giáo dục", "2/10 sáng kiến được công nhận", "1 đơn vị trực thuộc")
    assert "1/3 · Trường Một" in opened.plain_text


async def test_an_outstanding_initiative_is_proposed_up_level_by_level(
    emulator: TelegramEmulator, admin: Person, officer: Person, live_database: Database
) -> None:
    """Runs after the tree and its recognised initiatives are imported (the test above)."""
    first, second_school = await initiative_id(live_database, "BV1", 1), await initiative_id(live_database, "TR1", 4)
    for elsewhere in ("TR1", "KHOI1", "TINH"):  # another khối's unit, its own, the one above
        await officer.send(f"/invite_chair {elsewhere}")
        await officer.expect("không có quyền")
    chair = await invite_chair(officer, Person(emulator, "Lê Thị Viện"), "BV1", "Lê Thị Viện")  # a unit below
    await officer.send("/invite_chair BV2")
    token = (await officer.expect("Đường dẫn mời")).plain_text.split("?start=", 1)[1].split()[0]

    await chair.send("/tieubieu")
    await chair.expect("Chưa có sáng kiến tiêu biểu nào được đề xuất tới đơn vị của đồng chí")
    await chair.send(f"/tieubieu {second_school}")  # another khối's initiative
    await chair.expect("không có quyền")
    await chair.send(f"/tieubieu {first}")
    await chair.expect(f"Đã đánh dấu sáng kiến #{first}", "đề xuất lên CĐ Khối Y tế")
    notice = await officer.expect(f"Bệnh viện Một đề xuất sáng kiến tiêu biểu #{first}")
    await chair.send(f"/tieubieu {first}")
    await chair.expect(f"Sáng kiến #{first} đã được đơn vị của đồng chí đề xuất rồi")

    await officer.send("/tieubieu")
    listed = await officer.expect("Sáng kiến tiêu biểu được đề xuất tới đơn vị của đồng chí", f"#{first}",
                                  "do Bệnh viện Một đề xuất")  # fmt: skip
    await officer.send(f"/tieubieu {second_school}")
    await officer.expect("không có quyền")
    await emulator.user_presses(officer.user_id, listed, f"tb:{second_school}")  # forged: not in its subtree
    await officer.expect("không có quyền")
    await officer.tap("Đề xuất tiếp lên cấp trên", notice)
    await officer.expect(f"Đã đánh dấu sáng kiến #{first}", "đề xuất lên LĐLĐ tỉnh Thử")

    await admin.send("/tieubieu")
    top = await admin.expect(f"#{first}", "do CĐ Khối Y tế đề xuất")
    assert "do Bệnh viện Một đề xuất" not in top.plain_text, "the top sees what reached it, not every level"
    await admin.tap(f"Tiêu biểu toàn đơn vị #{first}", top)  # not «đề xuất tiếp»: nothing is above him
    await admin.expect(f"Đã đánh dấu sáng kiến #{first}", "tiêu biểu của toàn đơn vị (cấp cao nhất)")
    province = await invite_chair(admin, Person(emulator, "Hà Văn Tỉnh"), "TINH", "Hà Văn Tỉnh")
    await province.send(f"/tieubieu {first}")  # his unit has none above: said so, and where it is seen
    await province.expect(f"Đã đánh dấu sáng kiến #{first}", "tiêu biểu của LĐLĐ tỉnh Thử",
                          "không có cấp trên: quản trị viên xem đề xuất này ở /tieubieu")  # fmt: skip
    actions = await live_database.audit_actions(first)
    assert [action for action, _ in actions].count("featured") == 4, actions

    await admin.send("/chairs KHOI1")  # the khối officer loses the role: the link made before is dead
    listed_chairs = await admin.expect("Trần Văn Khối — CĐ Khối Y tế")
    await admin.tap("Gỡ Trần Văn Khối", listed_chairs)
    await admin.tap("🗑 Gỡ", await admin.expect("Gỡ Trần Văn Khối khỏi vai trò chủ tịch"))
    await admin.expect("Đã gỡ Trần Văn Khối", edited=True)
    latecomer = Person(emulator, "Đỗ Văn Muộn")
    await latecomer.send(f"/start {token}")
    await latecomer.expect("Nhập họ và tên")
    await latecomer.send("Đỗ Văn Muộn")
    await latecomer.expect("Đường dẫn mời không còn hiệu lực")
