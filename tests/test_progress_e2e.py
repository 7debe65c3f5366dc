"""/progress through the real transport, on 20/04/2022 (phase 1, 41 days left): member, chair, admin."""

from __future__ import annotations

import pytest
import pytest_asyncio

from bot.sandbox.telegram_emulator import TelegramEmulator
from tests.harness import ADMIN_ID, InProcessBot, Person, invite_chair, register, submit_initiative
from tests.test_branch_import import xlsx
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
    await member.expect("Tiến độ Giai đoạn 1", "Còn 41 ngày", "[MẪU] Bệnh viện Đa khoa tỉnh", "Đã duyệt: 0/2",
                        "░░░░░░░░░░ 0%")  # fmt: skip
    await expect_chart(member, emulator)

    initiative_id = await submit_initiative(member)
    card = await chair.expect(f"#{initiative_id}", "chờ duyệt")
    await chair.tap("Duyệt", card)
    await member.expect("đã được duyệt")

    await member.send("/progress")
    text = (await member.expect("Tiến độ Giai đoạn 1", "Đã duyệt: 1/2")).plain_text
    assert "▓▓▓▓▓░░░░░ 50%" in text
    assert "Chờ duyệt" not in text, "members see their branch's result, not the review queue"

    await chair.send("/progress")
    text = (await chair.expect("Đã duyệt: 1/2", "Chờ duyệt: 0")).plain_text
    assert "Đã gửi sáng kiến: Nguyễn Thị Hoa (1)" in text
    await expect_chart(chair, emulator)

    await admin.send("/progress")
    overview = await admin.expect("Toàn tỉnh", "đã duyệt 1/200", "Dẫn đầu", "Chậm nhất")
    assert "1. ▓▓▓▓▓░░░░░ 50% · 1/2 · [MẪU] Bệnh viện Đa khoa tỉnh" in overview.plain_text
    await expect_chart(admin, emulator)
    await admin.tap("Xem xếp hạng đầy đủ", overview)
    await admin.expect("Xếp hạng 160 CĐCS", "1. ▓▓▓▓▓░░░░░ 50%")
    await admin.expect("160. ░░░░░░░░░░ 0%")  # every branch, over as many messages as it takes


async def test_a_member_cannot_ask_for_the_full_ranking(emulator: TelegramEmulator, live_bot: InProcessBot) -> None:
    member = Person(emulator, "Phạm Văn Tò Mò")
    await register(member, "MAU003", "Phạm Văn Tò Mò")
    await member.send("/progress")
    shown = await member.expect("Đã duyệt: 0/3")
    await emulator.user_presses(member.user_id, shown, "pg:all")  # a forged press: no such button was shown
    await member.expect("không có quyền")


async def test_admin_sends_the_quota_spreadsheet_and_progress_follows(
    emulator: TelegramEmulator, admin: Person
) -> None:
    member = Person(emulator, "Đỗ Thị Quota")
    await register(member, "MAU005", "Đỗ Thị Quota")

    await admin.send("/import")
    await admin.expect("Nhập danh sách CĐCS và chỉ tiêu", "chỉ tiêu giai đoạn 1")
    await admin.send_file(
        "chi-tieu.xlsx", xlsx([["Mã", "Tên", "Chỉ tiêu GĐ1"], ["MAU005", "[MẪU] Trường ĐH Hùng Vương", -4]])
    )
    rejected = await admin.expect("Chưa nhập chi-tieu.xlsx")
    assert "Dòng 2: chỉ tiêu p1 không được âm (-4)." in rejected.plain_text
    await member.send("/progress")
    await member.expect("Đã duyệt: 0/2")  # unchanged

    await admin.send_file(
        "chi-tieu.xlsx", xlsx([["Mã", "Tên", "Chỉ tiêu GĐ1"], ["MAU005", "[MẪU] Trường ĐH Hùng Vương", 6]])
    )
    await admin.expect("Đã nhập chi-tieu.xlsx: 1 CĐCS", "cập nhật 1")
    await member.send("/progress")
    await member.expect("[MẪU] Trường ĐH Hùng Vương", "Đã duyệt: 0/6")

    await member.send_file("chi-tieu.xlsx", quota_sheet(60))
    await member.expect("chưa hiểu")
    await member.send("/import")
    await member.expect("không có quyền")
    await member.send("/progress")
    await member.expect("[MẪU] Trường ĐH Hùng Vương", "Đã duyệt: 0/6")
