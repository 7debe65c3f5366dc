"""The submission wizard through the real bot process and the Bot API emulator.

Each test is a different member; assertions are on what the member sees and what the database holds.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bot.sandbox.telegram_emulator import TelegramEmulator
from storage.models import Status
from tests.harness import PROBLEM, SOLUTION, TITLE, BotProcess, Database, Person, fill_up_to_summary, register

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_the_whole_wizard_then_edit_from_summary_and_submit(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    hoa = Person(emulator, "Nguyễn Thị Hoa")
    await register(hoa)
    await fill_up_to_summary(hoa)
    summary = await hoa.expect("Tóm tắt sáng kiến")
    text = summary.plain_text
    for fragment in (TITLE, "1.2 Giải pháp quản lý", "Y tế", "15/10/2021", "15.000.000 ₫", "123/QĐ-BV", "20/12/2021",
                     "Nguyễn Thị Hoa (70%)", "Trần Văn Bình (30%)", "Tác giả được ghi nhận: Nguyễn Thị Hoa",
                     "bao-cao.pdf, ảnh"):  # fmt: skip
        assert fragment in text, fragment
    assert "/18</b>" not in summary.text, "the summary is not a numbered step"

    await hoa.tap("✏️ Tên sáng kiến", summary)
    editing = await hoa.expect("Bước 1/21", "Tên sáng kiến", TITLE)
    assert "Đang lưu" in editing.plain_text
    await hoa.send("Số hoá hồ sơ một cửa tại Khoa Khám bệnh")
    summary = await hoa.expect("Tóm tắt sáng kiến", "Số hoá hồ sơ một cửa tại Khoa Khám bệnh")

    await hoa.tap("Gửi sáng kiến", summary)
    await hoa.expect("Đã gửi sáng kiến", "Số hoá hồ sơ một cửa tại Khoa Khám bệnh", "Bệnh viện Đa khoa tỉnh")

    [stored] = await database.initiatives_of(hoa.user_id)
    assert stored.status == Status.SUBMITTED and stored.submitted_at is not None
    assert stored.title == "Số hoá hồ sơ một cửa tại Khoa Khám bệnh"
    assert (stored.type_code, stored.field, stored.application_kind) == ("1.2", "Y tế", "applied")
    assert stored.first_applied_on == dt.date(2021, 10, 15)
    assert stored.economic_amount_vnd == 15_000_000
    assert (stored.recognition_kind, stored.recognition_decision_no) == ("council", "123/QĐ-BV")
    assert stored.recognition_date == dt.date(2021, 12, 20)
    assert (stored.declared_no_ip, stored.declared_lawful) == (True, True)
    assert [(a.full_name, a.share_percent) for a in stored.authors] == [("Nguyễn Thị Hoa", 70), ("Trần Văn Bình", 30)]
    assert [(a.kind, a.file_name) for a in stored.attachments] == [("document", "bao-cao.pdf"), ("photo", None)]
    assert stored.research_level is None and stored.acceptance_date is None

    await hoa.send("/mine")
    await hoa.expect("Sáng kiến đã gửi (1)", "Số hoá hồ sơ một cửa", "Chờ duyệt")
    await hoa.send("/drafts")
    await hoa.expect("chưa có bản nháp")


async def test_research_topics_add_two_steps_and_type_change_asks_them_from_the_summary(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    tam = Person(emulator, "Lê Văn Tám")
    await register(tam, name="Lê Văn Tám")
    await fill_up_to_summary(tam)
    summary = await tam.expect("Tóm tắt sáng kiến")
    await tam.tap("✏️ Loại", summary)
    question = await tam.expect("Bước 2/21", "thuộc loại nào")
    await tam.tap("1.7 Đề tài nghiên cứu", question)
    level = await tam.expect("Bước 3/23", "Đề tài nghiên cứu khoa học ở cấp nào")
    await tam.tap("Cấp tỉnh", level)
    await tam.expect("Bước 4/23", "Ngày nghiệm thu")
    await tam.send("30/9/2021")
    summary = await tam.expect("Tóm tắt sáng kiến", "Cấp đề tài: Cấp tỉnh", "Ngày nghiệm thu: 30/09/2021")
    await tam.tap("Gửi sáng kiến", summary)
    await tam.expect("Đã gửi sáng kiến")
    [stored] = await database.initiatives_of(tam.user_id)
    assert (stored.type_code, stored.research_level, stored.acceptance_date) == (
        "1.7",
        "province",
        dt.date(2021, 9, 30),
    )


async def test_bad_answers_get_a_clear_message_and_the_same_question_keeping_earlier_answers(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    an = Person(emulator, "Phạm Văn An")
    await register(an, name="Phạm Văn An")
    await an.send("/new")
    await an.expect("Bước 1/21", "Tên sáng kiến")

    await an.send("Ngắn")
    await an.expect("hơi ngắn (4 ký tự)", "ít nhất 10", "Bước 1/21", "Tên sáng kiến")
    await an.send("x" * 10_000)
    await an.expect("quá dài (10000 ký tự)", "Tối đa 250", "Bước 1/21")
    await an.send_sticker()
    await an.expect("cần câu trả lời bằng chữ", "Bước 1/21")
    await an.send_photo()
    await an.expect("cần câu trả lời bằng chữ", "Bước 1/21")
    await an.send("   ")
    await an.expect("đang trống", "Bước 1/21")
    await an.send("🚀 <b>Sổ tay</b> & mẫu biểu 'điện tử' 🚀")
    await an.expect("Bước 2/21", "thuộc loại nào")

    await an.send("loại nào cũng được")
    await an.expect("cần chọn một trong các mục", "Bước 2/21")
    await an.send("1.5 giai phap trong hoat dong cong doan")
    await an.expect("Bước 3/21", "Lĩnh vực áp dụng")
    await an.send("Công đoàn cơ sở")
    await an.expect("Bước 4/21")
    await an.send(PROBLEM)
    await an.expect("Bước 5/21")
    await an.send(SOLUTION)
    await an.expect("Bước 6/21", "Ngày áp dụng lần đầu")

    await an.send("15/8/2021")
    await an.expect("trước 01/09/2021", "không đủ điều kiện", "Bước 6/21")
    await an.send("2/9/2023")
    await an.expect("sau 01/09/2023", "Bước 6/21")
    await an.send("1/1/2099")
    await an.expect("ở tương lai", "Bước 6/21")
    await an.send("ngày mai")
    await an.expect("chưa đọc được ngày", "Bước 6/21")
    await an.send("tháng 9/2021")
    await an.expect("tháng 9/2021", "gõ số ngày", "Bước 6/21")
    await an.send("15")
    question = await an.expect("Bước 7/21", "áp dụng thử?")

    [draft] = await database.initiatives_of(an.user_id)
    assert draft.title == "🚀 <b>Sổ tay</b> & mẫu biểu 'điện tử' 🚀", "markup characters are kept verbatim"
    assert draft.type_code == "1.5" and draft.field == "Công đoàn cơ sở"
    assert draft.first_applied_on == dt.date(2021, 9, 15)
    assert draft.current_step == "application_kind"

    await an.tap("Áp dụng thử", question)
    await an.expect("Bước 8/21")
    await an.send("Văn phòng công đoàn")
    economic = await an.expect("Bước 9/21", "Lợi ích kinh tế", "Không bắt buộc")
    await an.tap("Bỏ qua", economic)
    social = await an.expect("Bước 10/20", "Lợi ích xã hội")
    await an.tap("Bỏ qua", social)
    await an.expect("ít nhất một lợi ích", "Bước 10/20")
    await an.send("Đoàn viên nắm quy định nhanh hơn, ít phải hỏi lại.")
    recognition = await an.expect("Bước 11/20", "đã được công nhận chưa")
    await an.tap("Bỏ qua", recognition)
    await an.expect("Bước 12/18", "Đồng tác giả")
    await an.send("Trần Văn Bình 60\nLê Thị Cúc 40")
    await an.expect("Tổng tỷ lệ của đồng tác giả là 100%", "Bước 12/18")
    await an.send("Trần Văn Bình 60\nLê Thị Cúc 30")
    await an.expect("Tác giả được ghi nhận: Trần Văn Bình", "Bước 13/18", "Ngày sinh")
    await an.send("1/1/2020")
    await an.expect("Ngày sinh 01/01/2020 chưa hợp lý", "Bước 13/18")
    await an.send("12/05/1985")
    await an.expect("Bước 14/18", "Chức danh")
    await an.send("Cán bộ công đoàn")
    qualification = await an.expect("Bước 15/18", "Trình độ chuyên môn")
    await an.tap("Đại học", qualification)
    await an.expect("Bước 16/18", "Gửi ảnh hoặc tệp")
    await an.send("đây là tệp")
    await an.expect("Bước này nhận ảnh hoặc tệp", "Bước 16/18")
    await an.send_document("video-rat-lon.mp4", size=50 * 1024 * 1024, mime="video/mp4")
    await an.expect("lớn hơn 20 MB", "Bước 16/18")
    files = an.last_with_buttons()
    await an.tap("Bỏ qua", files)
    ip = await an.expect("Bước 17/18", "sở hữu trí tuệ")
    await an.tap("Có, đang được bảo hộ", ip)
    await an.expect("không được tham gia", "Bước 17/18")
    await an.tap("Không, không được bảo hộ")
    lawful = await an.expect("Bước 18/18")
    await an.tap("Tôi xác nhận", lawful)
    summary = await an.expect("Tóm tắt sáng kiến", "Sáng kiến chưa được công nhận")
    assert "&lt;b&gt;Sổ tay&lt;/b&gt;" in summary.text, "user text is escaped, never interpreted as markup"

    [draft] = await database.initiatives_of(an.user_id)
    assert draft.economic_benefit is None and draft.social_benefit.startswith("Đoàn viên")
    assert draft.recognition_kind is None and draft.attachments == []
    assert [(a.full_name, a.share_percent) for a in draft.authors] == [
        ("Phạm Văn An", 10), ("Trần Văn Bình", 60), ("Lê Thị Cúc", 30)
    ]  # fmt: skip
    assert draft.status == Status.DRAFT
    assert (draft.author_birth_date, draft.author_job_title, draft.author_qualification) == (
        dt.date(1985, 5, 12),
        "Cán bộ công đoàn",
        "Đại học",
    )


async def test_back_skip_cancel_drafts_resume_and_delete(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    binh = Person(emulator, "Trần Thị Bình")
    await register(binh, name="Trần Thị Bình")
    await binh.send("/new")
    await binh.expect("Bước 1/21")
    await binh.send(TITLE)
    kinds = await binh.expect("Bước 2/21")
    await binh.tap("1.1 Giải pháp kỹ thuật", kinds)
    field = await binh.expect("Bước 3/21", "Lĩnh vực")
    await binh.tap("Quay lại", field)
    back = await binh.expect("Bước 2/21", "Đang lưu", "1.1 Giải pháp kỹ thuật")
    await binh.tap("1.3 Giải pháp tác nghiệp", back)
    await binh.expect("Bước 3/21")
    await binh.send("/back")
    await binh.expect("Bước 2/21", "1.3 Giải pháp tác nghiệp")
    await binh.send("/skip")
    await binh.expect("bắt buộc, không bỏ qua được", "Bước 2/21")
    await binh.send("/back")
    await binh.expect("Bước 1/21", TITLE)
    await binh.send("/back")
    await binh.expect("bước đầu tiên", "Bước 1/21")

    await binh.tap("Dừng (giữ nháp)")
    await binh.expect("Đã tạm dừng", TITLE, "vẫn được giữ")
    await binh.send("Chào bot")
    await binh.expect("chưa hiểu")

    await binh.send("🗂 Bản nháp")
    listing = await binh.expect("Bản nháp của bạn (1)", TITLE)
    await binh.tap("Tiếp tục", listing)
    await binh.expect("Bước 1/21", TITLE)

    await binh.send("/new")
    offer = await binh.expect("đang có 1 bản nháp")
    await binh.tap("Tạo sáng kiến mới", offer)
    await binh.expect("Bắt đầu sáng kiến mới")
    await binh.send("Một sáng kiến thứ hai của tôi")
    await binh.expect("Bước 2/21")
    drafts = await database.initiatives_of(binh.user_id)
    assert [d.title for d in drafts] == [TITLE, "Một sáng kiến thứ hai của tôi"]
    assert drafts[0].type_code == "1.3" and drafts[0].current_step == "title"

    await binh.send("/drafts")
    listing = await binh.expect("Bản nháp của bạn (2)")
    resume_deleted = listing.button(f"Tiếp tục #{drafts[0].id}")["callback_data"]
    await binh.tap(f"Xoá #{drafts[0].id}", listing)
    confirm = await binh.expect(f"Xoá bản nháp #{drafts[0].id}")
    await binh.tap("Xoá hẳn", confirm)
    await binh.expect(f"Đã xoá bản nháp #{drafts[0].id}")
    assert [d.title for d in await database.initiatives_of(binh.user_id)] == ["Một sáng kiến thứ hai của tôi"]

    assert not listing.buttons(), "the answered list lost its buttons"
    await emulator.user_presses(binh.user_id, listing, resume_deleted)
    await binh.expect("không còn")


async def test_an_old_button_shows_the_current_question(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    cuc = Person(emulator, "Lê Thị Cúc")
    await register(cuc, name="Lê Thị Cúc")
    await cuc.send("/new")
    await cuc.expect("Bước 1/21")
    await cuc.send(TITLE)
    kinds = await cuc.expect("Bước 2/21")
    await cuc.tap("1.4", kinds)
    field_question = await cuc.expect("Bước 3/21")
    await cuc.send("Giáo dục – đào tạo")
    await cuc.expect("Bước 4/21")
    assert field_question.buttons(), "a question answered by typing keeps its buttons"
    await cuc.tap("Y tế", field_question)
    await cuc.expect("câu hỏi cũ", "Bước 4/21", "Thực trạng")
    [draft] = await database.initiatives_of(cuc.user_id)
    assert (draft.type_code, draft.field, draft.current_step) == ("1.4", "Giáo dục – đào tạo", "problem")


async def test_resume_exactly_where_the_member_was_after_the_bot_process_is_killed(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    duy = Person(emulator, "Phạm Đức Duy")
    await register(duy, name="Phạm Đức Duy")
    await duy.send("/new")
    await duy.expect("Bước 1/21")
    await duy.send(TITLE)
    await duy.expect("Bước 2/21")
    await duy.tap("1.6")
    await duy.expect("Bước 3/21")

    await bot_under_test.kill()
    await bot_under_test.start()

    await duy.send("Phòng chống dịch")
    await duy.expect("Bước 4/21", "Thực trạng")
    [draft] = await database.initiatives_of(duy.user_id)
    assert (draft.title, draft.type_code, draft.field) == (TITLE, "1.6", "Phòng chống dịch")
    await duy.send("/start")
    await duy.expect("đang mô tả dở sáng kiến", "Bước 4/21")


async def test_messages_and_taps_in_quick_succession_are_handled_in_order(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    em = Person(emulator, "Vũ Thị Em")
    await register(em, name="Vũ Thị Em")
    await em.send("/new")
    await em.expect("Bước 1/21")
    await em.send(TITLE)
    await em.send("1.2 Giải pháp quản lý")
    await em.send("Hành chính – quản lý")
    problem = await em.expect("Bước 4/21")
    await em.tap("Quay lại", problem)
    await em.send("Hành chính – quản lý nhà nước")
    await em.send(PROBLEM)
    await em.expect("Bước 5/21", "Nội dung giải pháp")
    [draft] = await database.initiatives_of(em.user_id)
    assert (draft.title, draft.type_code) == (TITLE, "1.2")
    assert (draft.field, draft.problem) == ("Hành chính – quản lý nhà nước", PROBLEM)


async def test_a_duplicate_update_has_no_second_effect(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    gia = Person(emulator, "Đỗ Văn Gia")
    await register(gia, name="Đỗ Văn Gia")
    await gia.send("/new")
    await gia.expect("Bắt đầu sáng kiến mới")
    emulator.redeliver_last()
    await gia.settle()
    assert sum("Bắt đầu sáng kiến mới" in text for text in gia.bot_texts()) == 1
    assert len(await database.initiatives_of(gia.user_id)) == 1


async def test_a_429_from_telegram_is_waited_out_and_the_reply_still_arrives(
    emulator: TelegramEmulator, bot_under_test: BotProcess
) -> None:
    hai = Person(emulator, "Ngô Văn Hải")
    await register(hai, name="Ngô Văn Hải")
    calls_before = len(emulator.calls)
    emulator.inject_fault("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    await hai.send("/help")
    await hai.expect("Hướng dẫn", "/drafts")
    sends = [params for method, params in emulator.calls[calls_before:] if method == "sendMessage"]
    assert len(sends) == 2 and sends[0] == sends[1], "the refused call was retried as it was"
