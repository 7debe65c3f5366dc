"""/progress through the real transport, on 20/04/2022 (phase 1, 41 days left): member, chair, admin."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import pytest_asyncio
from openpyxl import load_workbook

from bot.sandbox.telegram_emulator import TelegramEmulator
from handlers.events import ROW_CHARS
from storage import initiative_import
from storage.models import Branch, Status
from tests.harness import (
    ADMIN_ID,
    TITLE,
    Database,
    GroupChat,
    InProcessBot,
    Person,
    enter_for_members,
    enter_for_members_up_to_authors,
    invite_chair,
    local,
    register,
    submit_initiative,
)
from tests.test_branch_import import xlsx
from tests.test_initiative_import import HEADER
from tests.test_progress import png_size

pytestmark = pytest.mark.asyncio(loop_scope="module")


def quota_sheet(quota: int) -> bytes:
    return xlsx([["Mã", "Tên", "Chỉ tiêu GĐ1"], ["MAU005", "[MẪU] Trường ĐH Hùng Vương", quota]])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def admin(emulator: TelegramEmulator, live_bot: InProcessBot) -> Person:
    admin = Person(emulator, "Quản trị Tỉnh", user_id=ADMIN_ID)
    await register(admin, "MAU004", "Quản Trị Tỉnh")
    return admin


async def expect_chart(person: Person, emulator: TelegramEmulator) -> None:
    chart = await person.expect("Biểu đồ tiến độ Giai đoạn 1")
    assert chart.photo, "the chart comes as a photo"
    width, height = png_size(emulator.files[chart.photo[-1]["file_id"]])
    assert width >= 500 and height >= 400


async def test_member_chair_and_admin_each_see_their_scope(emulator: TelegramEmulator, admin: Person) -> None:
    chair = await invite_chair(admin, Person(emulator, "Lê Thị Chủ Tịch"), "MAU002", "Lê Thị Chủ Tịch")
    member = Person(emulator, "Nguyễn Thị Hoa")
    await register(member, "MAU002", "Nguyễn Thị Hoa")
    await member.send("📊 Tiến độ")
    await member.expect("Tiến độ Giai đoạn 1", "Còn 41 ngày", "[MẪU] Bệnh viện Đa khoa tỉnh", "Được công nhận: 0/2",
                        "░░░░░░░░░░ 0%")  # fmt: skip
    await expect_chart(member, emulator)

    initiative_id = await submit_initiative(member)
    card = await chair.expect(f"#{initiative_id}", "chờ xác nhận")
    await chair.tap("Xác nhận hồ sơ", card)
    await member.expect("được tính vào chỉ tiêu")

    await member.send("/progress")
    text = (await member.expect("Tiến độ Giai đoạn 1", "Được công nhận: 1/2")).plain_text
    assert "▓▓▓▓▓░░░░░ 50%" in text
    assert "Chờ xác nhận" not in text, "members see their branch's result, not the verification queue"

    await chair.send("/progress")
    text = (await chair.expect("Được công nhận: 1/2", "Chờ xác nhận: 0")).plain_text
    assert "Đã gửi sáng kiến: Nguyễn Thị Hoa (1)" in text
    await expect_chart(chair, emulator)

    await admin.send("/progress")
    overview = await admin.expect("Công đoàn Viên chức tỉnh Phú Thọ", "1/200 sáng kiến được công nhận", "Dẫn đầu",
                                  "Chậm nhất", "Cả chương trình: 1/500")  # fmt: skip
    assert "1. ▓▓▓▓▓░░░░░ 50% · 1/2 · [MẪU] Bệnh viện Đa khoa tỉnh" in overview.plain_text
    await expect_chart(admin, emulator)
    await admin.tap("Xem xếp hạng đầy đủ", overview)
    ranking = await admin.expect("Xếp hạng 160 CĐCS theo % chỉ tiêu — trang 1/8", "1. ▓▓▓▓▓░░░░░ 50%", "20. ")
    assert "21. " not in ranking.plain_text and [b["text"] for b in ranking.buttons()] == ["Trang sau ▶️"]
    [shown] = [m for m in emulator.chat(admin.user_id) if m.message_id == overview.message_id]
    assert shown.buttons() == overview.buttons(), "the overview keeps its other buttons (the reminder's)"
    for page in range(2, 9):  # a page at a time, in the same message
        await admin.tap("Trang sau", ranking)
        ranking = await admin.expect(f"trang {page}/8", f"{page * 20 - 19}. ", edited=True)
    assert "160. ░░░░░░░░░░ 0%" in ranking.plain_text and [b["text"] for b in ranking.buttons()] == ["◀️ Trang trước"]
    # A unit named, not coded: the one it means, or those it may mean with their codes.
    await admin.send("/progress benh vien da khoa tinh")
    await admin.expect("[MẪU] Bệnh viện Đa khoa tỉnh", "Được công nhận: 1/2")
    await admin.send("/progress benh vien da khoa")  # several units: each a button, the closest first
    found = await admin.expect("đơn vị có tên khớp «benh vien da khoa»", "Đồng chí chọn một đơn vị để xem tiến độ")
    assert "mã «benh»" not in found.plain_text, "the words were a name, not a code"
    assert found.buttons()[0]["text"] == "🔎 [MẪU] Bệnh viện Đa khoa tỉnh"
    await admin.tap("Bệnh viện Đa khoa tỉnh", found)
    await admin.expect("[MẪU] Bệnh viện Đa khoa tỉnh", "Được công nhận: 1/2")
    await admin.send("/progress khong co don vi nay")
    await admin.expect("Không có đơn vị hay chương trình nào mã «khong»", "vài từ trong tên đơn vị")
    await admin.send("/chairs Bệnh viện Đa khoa")  # not every chair instead: he asked for one unit
    await admin.expect("Không có CĐCS mã «Bệnh viện Đa khoa»", "• [MẪU] Bệnh viện Đa khoa tỉnh — MAU002")


async def test_a_member_cannot_ask_for_the_full_ranking(emulator: TelegramEmulator, live_bot: InProcessBot) -> None:
    member = Person(emulator, "Phạm Văn Tò Mò")
    await register(member, "MAU003", "Phạm Văn Tò Mò")
    await member.send("/progress")
    shown = await member.expect("Được công nhận: 0/3")
    await emulator.user_presses(member.user_id, shown, "pg:all")  # a forged press: no such button was shown
    await member.expect("không có quyền")
    await member.send("/progress benh vien da khoa")  # other units by name: none offered to open
    other = await member.expect("Không có đơn vị hay chương trình nào mã «benh»")
    assert not other.buttons()
    # refusals that say what is refused: no «(hoặc sáng kiến không tồn tại)» where no initiative was asked for
    await member.send("/progress MAU002")
    await member.expect("không có quyền xem tiến độ của đơn vị khác", "gõ /progress, không kèm mã")
    await member.send("/pending")
    refused = await member.expect("không có quyền dùng chức năng này", "dành cho chủ tịch CĐCS và quản trị viên")
    assert "sáng kiến không tồn tại" not in refused.plain_text


async def test_admin_sends_the_quota_spreadsheet_and_progress_follows(
    emulator: TelegramEmulator, admin: Person, live_bot: InProcessBot, live_database: Database
) -> None:
    member = Person(emulator, "Đỗ Thị Quota")
    await register(member, "MAU005", "Đỗ Thị Quota")

    await admin.send("/import")
    await admin.expect("Danh sách CĐCS và chỉ tiêu", "chỉ tiêu giai đoạn 1", "Sáng kiến đã được công nhận")
    template = load_workbook(io.BytesIO(await admin.expect_file("mau-danh-sach-cdcs.xlsx"))).active
    await admin.expect_file("mau-sang-kien-da-cong-nhan.xlsx")
    template.append(["MAU005", "[MẪU] Trường ĐH Hùng Vương", -4])  # the sheet sent to fill in, filled in
    filled = io.BytesIO()
    template.parent.save(filled)
    await admin.send_file("chi-tieu.xlsx", filled.getvalue())
    rejected = await admin.expect("Chưa nhập chi-tieu.xlsx")  # read by its headers: only the quota is refused
    assert "Dòng 2: chỉ tiêu p1 không được âm (-4)." in rejected.plain_text
    await member.send("/progress")
    await member.expect("Được công nhận: 0/2")  # unchanged

    await admin.send_file(
        "chi-tieu.xlsx", xlsx([["Mã", "Tên", "Chỉ tiêu GĐ1"], ["MAU005", "[MẪU] Trường ĐH Hùng Vương", 6]])
    )
    await admin.expect("Đã nhập chi-tieu.xlsx: 1 CĐCS", "cập nhật 1")
    await member.send("/progress")
    await member.expect("[MẪU] Trường ĐH Hùng Vương", "Được công nhận: 0/6")

    campaign = live_bot.config.campaign  # a recognised initiative imported from the command line (or the sandbox's)
    row = [
        "MAU005",
        "Sổ theo dõi thiết bị thí nghiệm điện tử",
        "1.2",
        "Đỗ Thị Quota",
        "7/QĐ-ĐH",
        "15/03/2022",
        None,
        None,
    ]
    rows = initiative_import.parse([HEADER, row], campaign, dt.date(2022, 4, 20))
    async with live_database.sessions() as session, session.begin():
        importer = await initiative_import.importer_member(session)
        await initiative_import.apply(session, rows, campaign, importer, dt.datetime(2022, 4, 20, tzinfo=dt.UTC))
    await admin.send("/progress MAU005")  # counted, and not as a person who sent it
    unit = await admin.expect("[MẪU] Trường ĐH Hùng Vương", "Được công nhận: 1/6", "📥 1 sáng kiến nhập từ tệp")
    assert "Nhập từ tệp (" not in unit.plain_text

    await member.send_file("chi-tieu.xlsx", quota_sheet(60))  # not imported: a member is told where files go
    await member.expect("Bot nhận tệp ở bước «Tệp đính kèm»")
    await member.send("/import")
    await member.expect("chỉ dành cho quản trị viên")
    await member.send("/progress")
    await member.expect("[MẪU] Trường ĐH Hùng Vương", "Được công nhận: 1/6")


def summary_row(content: bytes, code: str) -> dict[str, object]:
    """The Excel summary's row of a branch, by column title."""
    rows = list(load_workbook(io.BytesIO(content))["Tổng hợp theo CĐCS"].iter_rows(values_only=True))
    top = next(number for number, row in enumerate(rows) if row[0] == "Xếp hạng")
    return next(dict(zip(rows[top], row, strict=True)) for row in rows[top + 1 :] if row[1] == code)


def portal_authors(content: bytes) -> list[str]:
    sheet = load_workbook(io.BytesIO(content))["Nhập Cổng"]
    return [row[-1] for row in sheet.iter_rows(min_row=2, values_only=True)]


async def test_only_recognition_counts_in_its_phase_for_the_credited_branch_everywhere(
    emulator: TelegramEmulator, admin: Person, live_bot: InProcessBot, live_database: Database
) -> None:
    """The plan's counting rule, end to end: two members of one branch submit, one with a recognition
    decision dated inside phase 2, one without; the chair verifies both; one counts, one waits for
    recognition, and recording its decision makes the count 2 in the chat, the workbook and the group."""
    live_bot.clock.set(local(2022, 8, 15, 10))  # phase 2
    chair = await invite_chair(admin, Person(emulator, "Chủ Tịch Tài Chính"), "MAU006", "Chủ Tịch Tài Chính")
    anh, bao = Person(emulator, "Ngô Thị Ánh"), Person(emulator, "Trịnh Văn Bảo")
    await register(anh, "MAU006", "Ngô Thị Ánh")
    await register(bao, "MAU006", "Trịnh Văn Bảo")
    recognised = await submit_initiative(anh, decision="12/QĐ-STC 01/08/2022")
    waiting = await submit_initiative(bao, recognised=False)
    cards = [await chair.expect(f"Sáng kiến #{number} chờ xác nhận") for number in (recognised, waiting)]
    for number, card in zip((recognised, waiting), cards, strict=True):
        await chair.tap("Xác nhận hồ sơ", card)
        await chair.expect(f"Đã xác nhận hồ sơ sáng kiến #{number}")
    group = GroupChat(emulator, "CĐCS Sở Tài chính")
    emulator.add_bot_to_group(chair.user_id, group.chat_id)
    await group.send(chair, "/linkgroup")
    await group.expect("Đã liên kết nhóm")

    async def everywhere(count: int) -> None:
        await admin.send("/progress")
        overview = (await admin.expect("Tiến độ Giai đoạn 2", "sáng kiến được công nhận")).plain_text
        assert "Sở Tài chính" in overview and f"· {count}/3 · [MẪU] Sở Tài chính" in overview, overview
        await chair.send("/progress")
        own = (await chair.expect("[MẪU] Sở Tài chính", "Được công nhận")).plain_text
        assert f"Được công nhận: {count}/3" in own and f"Chờ công nhận: {2 - count}" in own, own
        await group.send(chair, "/progress")
        assert f"Được công nhận: {count}/3" in (await group.expect("[MẪU] Sở Tài chính")).plain_text
        await admin.send("/export")
        content = await admin.expect_file(".xlsx")
        row = summary_row(content, "MAU006")
        assert (row["Công nhận Giai đoạn 2"], row["Chờ công nhận (đã xác nhận hồ sơ)"]) == (count, 2 - count)
        ours = [a for a in portal_authors(content) if "Ngô Thị Ánh" in a or "Trịnh Văn Bảo" in a]
        assert len(ours) == count, "the portal sheet holds only recognised initiatives"

    await everywhere(1)
    assert (await live_database.initiative(waiting)).status == Status.VERIFIED
    await chair.send("/congnhan abc")  # not a number: said, and what waits offered (it was «không ghi được»)
    await chair.expect("«abc» không phải số sáng kiến")
    await chair.send("/congnhan")  # a chair records decisions too: his unit's verified ones are offered
    choice = await chair.expect("Ghi quyết định công nhận cho sáng kiến nào")
    assert f"#{waiting} {TITLE} · MAU006" in choice.plain_text, "the whole title, which the button cuts, and the unit"
    offered = [b["text"] for b in choice.buttons()]
    assert [label.split()[0] for label in offered] == [f"#{waiting}"], offered
    assert all(len(label) <= ROW_CHARS for label in offered), "whole on a phone: cut once, not «… …»"
    await bao.send(f"/congnhan {waiting}")
    await bao.tap("Hội đồng sáng kiến", await bao.expect("được công nhận bởi ai"))
    await bao.expect("Gõ số và ngày quyết định")
    await bao.send("45/QĐ-STC ngày 10/8/2022")
    saved = await bao.expect("Đã ghi quyết định công nhận", "được tính vào chỉ tiêu", "ảnh chụp")
    assert [b["text"] for b in saved.buttons()] == ["✅ Xong, không gửi ảnh"], "an author does not replace it"
    await chair.expect(f"sáng kiến #{waiting}", "Trịnh Văn Bảo đã ghi quyết định công nhận")
    await everywhere(2)
    assert ("recognition_recorded", "recognised") in await live_database.audit_actions(waiting)


async def test_a_co_author_of_another_branch_with_the_higher_share_takes_the_credit(
    emulator: TelegramEmulator, admin: Person, live_database: Database
) -> None:
    """Plan IV.2.5: the initiative counts for the branch of the author with the highest share."""
    chair = await invite_chair(admin, Person(emulator, "Chủ Tịch Tư Pháp"), "MAU007", "Chủ Tịch Tư Pháp")
    cam = Person(emulator, "Vũ Thị Cầm")
    await register(cam, "MAU007", "Vũ Thị Cầm")
    number = await submit_initiative(cam, coauthors="Đặng Văn Khác 60 MAU008", decision="7/QĐ 05/08/2022")
    await chair.tap("Xác nhận hồ sơ", await chair.expect(f"Sáng kiến #{number} chờ xác nhận", "Đặng Văn Khác"))
    await chair.expect(f"Đã xác nhận hồ sơ sáng kiến #{number}")
    stored = await live_database.initiative(number)
    async with live_database.sessions() as session:
        credited = await session.get(Branch, stored.credited_branch_id)
    assert (stored.branch.code, credited.code) == ("MAU007", "MAU008")
    await admin.send("/export")
    content = await admin.expect_file(".xlsx")
    assert summary_row(content, "MAU008")["Công nhận Giai đoạn 2"] == 1
    assert summary_row(content, "MAU007")["Công nhận Giai đoạn 2"] == 0


async def test_changes_asked_on_an_entry_go_to_the_officer_who_typed_it(
    emulator: TelegramEmulator, admin: Person, live_database: Database
) -> None:
    """Found by an officer's walk: «Cần bổ sung» on an entry said «đã gửi… cho tác giả» (its authors may not use
    the bot), and the chair who typed it, deciding, got no way to mend it."""
    chair = await invite_chair(admin, Person(emulator, "Chủ Tịch Sửa Hộ"), "MAU010", "Chủ Tịch Sửa Hộ")
    number = await enter_for_members(
        chair, "Đỗ Văn Nhờ",  # one author: the name alone, all of it
        title="Bảng tin điện tử cho phòng họp công đoàn", type_code="1.5", field="Hoạt động công đoàn",
        problem="Thông báo dán giấy ở bảng tin, nhiều người không đọc kịp, giấy rơi mất.",
        solution="Màn hình nhỏ ở sảnh hiện lịch họp và thông báo, cập nhật từ máy tính văn phòng.",
        place="Sảnh tầng 1", social="Đoàn viên nắm tin kịp thời hơn.",
    )  # fmt: skip
    await chair.send("/pending")
    await chair.tap("Cần bổ sung", await chair.expect(f"Sáng kiến #{number} chờ xác nhận"))
    await chair.tap("Mô tả chưa đủ rõ", await chair.expect(f"Yêu cầu bổ sung sáng kiến #{number}"))
    own = await chair.expect(f"Sáng kiến #{number}", "trở về bản nháp: đồng chí là người nhập hộ")
    await chair.tap("Sửa và gửi lại", own)
    await chair.tap("Gửi lại, không sửa gì", await chair.expect(f"Tóm tắt sáng kiến #{number}"))
    await chair.expect(f"Đã gửi lại sáng kiến #{number}")
    await admin.send("/pending")
    await admin.tap("Cần bổ sung", await admin.expect(f"Sáng kiến #{number} chờ xác nhận"))
    await admin.tap("Mô tả chưa đủ rõ", await admin.expect(f"Yêu cầu bổ sung sáng kiến #{number}"))
    await admin.expect(f"Đã gửi yêu cầu bổ sung sáng kiến #{number}", "cho đồng chí Chủ Tịch Sửa Hộ, người nhập hộ")
    notice = await chair.expect(f"Sáng kiến #{number}", "cần bổ sung")
    assert [b["text"] for b in notice.buttons()] == ["✏️ Sửa và gửi lại"]
    assert (await live_database.initiative(number)).status == Status.CHANGES_REQUESTED


async def test_an_officer_enters_an_initiative_for_members_and_the_audit_says_so(
    emulator: TelegramEmulator, admin: Person, live_database: Database
) -> None:
    """Plan V.4: the BCH CĐCS may enter initiatives; the officer need not be an author."""
    chair = await invite_chair(admin, Person(emulator, "Chủ Tịch Nhập Hộ"), "MAU009", "Chủ Tịch Nhập Hộ")
    authors = await enter_for_members_up_to_authors(
        chair, title="Tủ hồ sơ điện tử cho tổ công đoàn bộ phận", type_code="1.5", field="Hoạt động công đoàn",
        problem="Hồ sơ đoàn viên để rải rác ở các tổ, tra cứu mất nhiều thời gian.",
        solution="Lập tủ hồ sơ điện tử dùng chung, mỗi tổ cập nhật hằng tháng; tìm theo tên.",
        place="Các tổ công đoàn bộ phận", social="Đoàn viên được phục vụ nhanh hơn.",
    )  # fmt: skip
    assert not any("Chỉ mình tôi" in b["text"] for b in authors.buttons()), "the officer is not an author"
    await chair.send("Lý Thị Hộ 70%, Phan Văn Giúp 20")
    await chair.expect("cần đúng 100%")
    await chair.send("Lý Thị Hộ 70%, Phan Văn Giúp 30")
    await chair.tap("Xong", await chair.expect("Gửi ảnh hoặc tệp"))
    await chair.tap("Gửi sáng kiến", await chair.expect("Tóm tắt sáng kiến"))
    number = int((await chair.expect("Đã gửi sáng kiến")).plain_text.split("#", 1)[1].split()[0])
    await chair.expect("đồng chí không phải tác giả nên tự xác nhận được")  # not «chưa có chủ tịch nào»
    stored = await live_database.initiative(number)
    chair_member = await live_database.member_of(chair.user_id)
    assert stored.entered_by_member_id == chair_member.id and stored.member_id == chair_member.id
    assert [(a.full_name, a.share_percent, a.member_id) for a in stored.authors] == [
        ("Lý Thị Hộ", 70, None), ("Phan Văn Giúp", 30, None)]  # fmt: skip
    assert ("created", "draft") in await live_database.audit_actions(number)
    await chair.send("/pending")
    card = await chair.expect(f"Sáng kiến #{number} chờ xác nhận", "Nhập hộ bởi Chủ Tịch Nhập Hộ")
    await chair.tap("Xác nhận hồ sơ", card)
    await chair.expect(f"Đã xác nhận hồ sơ sáng kiến #{number}")
    await chair.send("/progress MAU009")  # sent by its first author, whom the chair wrote down; not by him
    branch = await chair.expect("Đã gửi sáng kiến:")
    assert "Đã gửi sáng kiến: Lý Thị Hộ (1)" in branch.plain_text and "Chủ Tịch Nhập Hộ (" not in branch.plain_text
    await chair.send(f"/history {number}")
    trail = await chair.expect(f"#{number}", "tạo bản nháp", "«nhập hộ đoàn viên»")
    assert "entered for" not in trail.plain_text, "the audit's words, not the reader's"
    member = Person(emulator, "Lý Văn Không Phải")
    await register(member, "MAU009", "Lý Văn Không Phải")
    await member.send("/nhapho")
    await member.expect("Chỉ chủ tịch CĐCS")
    await member.send_photo()  # no draft takes it: where files are taken («Bot chưa hiểu» said nothing)
    await member.expect("Bot nhận tệp ở bước «Tệp đính kèm» của một sáng kiến")
    await admin.send_document("danh-sach-cdcs.pdf")  # not a spreadsheet: what he may send
    await admin.expect("Bot chỉ nhập danh sách CĐCS hoặc sáng kiến từ tệp .xlsx hay .csv")
    await admin.send("/help")  # where no chair uses the bot, the admin verifies: his help says how
    help_text = (await admin.expect("Quản trị viên", "/pending — sáng kiến chờ xác nhận của mọi CĐCS")).text
    assert help_text.index("Quản trị viên") < help_text.index("Đoàn viên"), "an admin reads his own tools first"
    assert "Việc riêng" not in help_text, "an admin of a branch (MAU004) has the member's menu too"
    assert "nhắc tên bot" not in help_text, "Zalo's groups, told on Zalo only"
    await admin.send("/nhapho benh vien")  # words of several names: the codes they may mean
    await admin.expect("Không có CĐCS mã «benh vien»", "• [MẪU] Bệnh viện Đa khoa tỉnh — MAU002",
                       "Gõ /nhapho kèm mã hoặc tên CĐCS")  # fmt: skip
    await admin.send("/nhapho benh vien da khoa tinh co so 2")  # one unit's whole name: it is that unit
    await admin.expect("Nhập sáng kiến hộ đoàn viên CĐCS [MẪU] Bệnh viện Đa khoa tỉnh – cơ sở 2")
    await admin.send("/cancel")
