"""Several campaigns through the real transport, on 20/04/2022: a second campaign is added while the bot
runs (as `sangkien campaign add` does); `/progress` and `/export` stay on the one counting today and take
the other's code; its quotas come from the same spreadsheet; a first-application date that no open
campaign takes is refused with the list of them."""

from __future__ import annotations

import io
import tomllib

import pytest
import pytest_asyncio
from openpyxl import load_workbook

from bot.sandbox.telegram_emulator import TelegramEmulator
from storage import campaigns
from tests.harness import ADMIN_ID, PROBLEM, SOLUTION, TITLE, Database, InProcessBot, Person, answer, register
from tests.test_branch_import import xlsx
from tests.test_campaigns import next_campaign

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def admin(emulator: TelegramEmulator, live_bot: InProcessBot, live_database: Database) -> Person:
    """The admin, once a campaign that takes initiatives applied from 2022 (and counts from 2024) is added."""
    async with live_database.sessions() as session, session.begin():
        await campaigns.add(session, tomllib.loads(next_campaign(eligible_from="2022-01-01"))["campaign"])
    admin = Person(emulator, "Quản trị Tỉnh", user_id=ADMIN_ID)
    await register(admin, "MAU004", "Quản Trị Tỉnh")
    return admin


async def test_progress_and_export_stay_on_the_running_campaign_and_take_another_code(admin: Person) -> None:
    sheet = xlsx([["Mã", "Tên", "Chỉ tiêu GĐ1", "Chỉ tiêu 2024"], ["MAU001", "[MẪU] Sở Giáo dục và Đào tạo", 3, 11]])
    await admin.send_file("chi-tieu.xlsx", sheet)
    await admin.expect("Đã nhập chi-tieu.xlsx: 1 CĐCS", "cập nhật 1")

    await admin.send("/progress")
    await admin.expect("Tiến độ Giai đoạn 1", "Còn 41 ngày", "/200 sáng kiến được công nhận")
    await admin.expect("Biểu đồ tiến độ Giai đoạn 1")
    await admin.send("/progress 2024-2025")
    other = await admin.expect("Tiến độ Năm 2024", "Giai đoạn bắt đầu sau 621 ngày", "0/120 sáng kiến")
    assert "1. ░░░░░░░░░░ 0% · 0/11 · [MẪU] Sở Giáo dục và Đào tạo" not in other.plain_text, "nobody leads yet"
    assert "Cả chương trình: 0/300 (Năm 2024 0 · Năm 2025 0)" in other.plain_text, other.plain_text
    await admin.expect("Biểu đồ tiến độ Năm 2024")
    await admin.send("/progress 2099")
    await admin.expect("Không có đơn vị hay chương trình nào mã «2099»", "2021-2023, 2024-2025")

    await admin.send("/export")
    rows = list(load_workbook(io.BytesIO(await admin.expect_file(".xlsx")))["Tổng hợp theo CĐCS"].iter_rows(
        values_only=True))  # fmt: skip
    top = next(number for number, row in enumerate(rows) if row[0] == "Xếp hạng")
    running = dict(zip(rows[top], next(row for row in rows[top + 1 :] if row[1] == "MAU001"), strict=True))
    assert (running["Chỉ tiêu Giai đoạn 1"], running["Tổng chỉ tiêu"]) == (3, 3 + 2), "its own phases' quotas only"

    await admin.send("/export 2024-2025")
    rows = list(load_workbook(io.BytesIO(await admin.expect_file(".xlsx")))["Tổng hợp theo CĐCS"].iter_rows(
        values_only=True))  # fmt: skip
    top = next(number for number, row in enumerate(rows) if row[0] == "Xếp hạng")
    assert "Chỉ tiêu Năm 2024" in rows[top] and "Chỉ tiêu Giai đoạn 1" not in rows[top]
    quota = dict(zip(rows[top], next(row for row in rows[top + 1 :] if row[1] == "MAU001"), strict=True))
    assert quota["Chỉ tiêu Năm 2024"] == 11
    assert any("Sáng kiến vì người lao động 2024–2025" in str(row[0]) for row in rows[:top])


async def test_a_date_no_open_campaign_takes_is_refused_with_the_open_campaigns(emulator: TelegramEmulator,
                                                                               admin: Person) -> None:  # fmt: skip
    member = Person(emulator, "Nguyễn Thị Hai Chương Trình")
    await register(member, "MAU002", "Nguyễn Thị Hai Chương Trình")
    await member.send("/new")
    await answer(member, "điều kiện tham gia", tap="Đúng, đủ cả 3")
    await answer(member, "Tên sáng kiến", TITLE)
    await answer(member, "thuộc loại nào", tap="1.2 Giải pháp quản lý")
    await answer(member, "Lĩnh vực áp dụng", tap="Y tế")
    await answer(member, "Thực trạng trước khi có sáng kiến", PROBLEM)
    await answer(member, "Nội dung giải pháp", SOLUTION)
    asked = await member.expect("Ngày áp dụng lần đầu")
    assert "(01/09/2021–01/09/2023)" in asked.plain_text and "(01/01/2022–30/06/2025)" in asked.plain_text
    await member.send("chưa")  # not in use yet: the windows of both campaigns again
    not_yet = await member.expect("chỉ tính sáng kiến đã được đưa vào áp dụng")
    assert "(01/09/2021–01/09/2023)" in not_yet.plain_text and "(01/01/2022–30/06/2025)" in not_yet.plain_text
    await member.send("15/06/2021")
    refused = await member.expect("Ngày 15/06/2021 không thuộc chương trình nào đang mở")
    assert "(01/09/2021–01/09/2023)" in refused.plain_text and "(01/01/2022–30/06/2025)" in refused.plain_text
    assert "Sáng kiến vì người lao động 2024–2025" in refused.plain_text
    await member.send("15/02/2022")  # taken by both; the step moves on
    await member.expect("áp dụng thử?")
