"""The submission wizard through the real bot process and the Bot API emulator.

Each test is a different member; assertions are on what the member sees and what the database holds.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bot.sandbox.telegram_emulator import StoredMessage, TelegramEmulator
from storage.models import Status
from tests.harness import (
    PROBLEM,
    SOLUTION,
    TITLE,
    BotProcess,
    Database,
    Effort,
    EffortMeter,
    Person,
    answer,
    fill_up_to_summary,
    register,
    submit_initiative,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_the_whole_wizard_then_edit_from_summary_and_submit(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    hoa = Person(emulator, "Nguyễn Thị Hoa")
    await register(hoa)
    await fill_up_to_summary(hoa)
    summary = await hoa.expect("Tóm tắt sáng kiến")
    text = summary.plain_text
    for fragment in (TITLE, "1.2 Giải pháp quản lý", "Y tế", "15/10/2021", "15.000.000 ₫", "123/QĐ-BV — 20/12/2021",
                     "Tác giả: \nNguyễn Thị Hoa (70%)\nTrần Văn Bình (30%)\n⭐", "ghi nhận cho: Nguyễn Thị Hoa",
                     "bao-cao.pdf, Ảnh 1"):  # fmt: skip
        assert fragment in text, fragment
    assert [b["text"] for b in summary.buttons()] == ["📨 Gửi sáng kiến", "✏️ Sửa một mục", "✖️ Dừng (giữ nháp)"]
    await hoa.send("xem lại giúp tôi")  # words at the summary: its choices again, not the whole summary
    choices = await hoa.expect("Tóm tắt sáng kiến", "ở tin nhắn trên: đồng chí chọn một trong các mục dưới đây")
    assert TITLE not in choices.plain_text and [b["text"] for b in choices.buttons()] == [
        "📨 Gửi sáng kiến", "✏️ Sửa một mục", "✖️ Dừng (giữ nháp)"]  # fmt: skip

    await hoa.tap("Sửa một mục", summary)
    fields = await hoa.expect("Sửa mục nào", edited=True)
    assert fields.message_id == summary.message_id, "the summary turns into the list of fields in place"
    paired = [row for row in rows_of(fields) if len(row) == 2]  # two a row only where a phone shows both whole
    assert paired and max(len(label) for row in paired for label in row) <= 15
    assert ["✏️ Lợi ích kinh tế"] in rows_of(fields), "too long for half a row: alone"
    await hoa.tap("✏️ Tên sáng kiến", fields)
    editing = await hoa.expect("Bước 2/16", "Tên sáng kiến", TITLE, edited=True)
    assert "Đang lưu" in editing.plain_text
    await hoa.send("Số hoá hồ sơ một cửa tại Khoa Khám bệnh")
    summary = await hoa.expect("Tóm tắt sáng kiến", "Số hoá hồ sơ một cửa tại Khoa Khám bệnh")
    # A long answer: shortened between words in the summary, in full where it is changed, kept with one tap.
    shown = summary.plain_text.split("Giải pháp:", 1)[1].split("\n", 1)[0].strip()
    assert shown.endswith("…") and SOLUTION.startswith(shown[:-1]) and SOLUTION[len(shown) - 1] == " ", shown
    await hoa.tap("Sửa một mục", summary)
    await hoa.tap("✏️ Giải pháp", await hoa.expect("Sửa mục nào", edited=True))
    editing = await hoa.expect("Nội dung giải pháp", edited=True)
    assert SOLUTION in editing.plain_text
    await hoa.send("giữ nguyên")  # the button's words typed keep it too (they are not taken as the answer)
    summary = await hoa.expect("Tóm tắt sáng kiến", "Số hoá hồ sơ một cửa tại Khoa Khám bệnh")
    await hoa.tap("Sửa một mục", summary)
    await hoa.tap("✏️ Tác giả", await hoa.expect("Sửa mục nào", edited=True))
    await hoa.expect("Đang lưu: \nNguyễn Thị Hoa (70%)\nTrần Văn Bình (30%)", edited=True)  # one under another
    await hoa.send("giữ nguyên")
    summary = await hoa.expect("Tóm tắt sáng kiến", "Số hoá hồ sơ một cửa tại Khoa Khám bệnh")

    await hoa.tap("Gửi sáng kiến", summary)
    await hoa.expect("Đã gửi sáng kiến", "Số hoá hồ sơ một cửa tại Khoa Khám bệnh", "Bệnh viện Đa khoa tỉnh")

    [stored] = await database.initiatives_of(hoa.user_id)
    assert stored.status == Status.SUBMITTED and stored.submitted_at is not None
    assert stored.title == "Số hoá hồ sơ một cửa tại Khoa Khám bệnh"
    assert (stored.declared_novel, stored.declared_no_ip, stored.declared_lawful) == (True, True, True)
    assert (stored.type_code, stored.field, stored.application_kind) == ("1.2", "Y tế", "applied")
    assert stored.first_applied_on == dt.date(2021, 10, 15)
    assert stored.economic_amount_vnd == 15_000_000
    assert (stored.recognition_kind, stored.recognition_decision_no) == ("council", "123/QĐ-BV")
    assert stored.recognition_date == dt.date(2021, 12, 20)
    assert [(a.full_name, a.share_percent) for a in stored.authors] == [("Nguyễn Thị Hoa", 70), ("Trần Văn Bình", 30)]
    assert stored.credited_branch_id == stored.branch_id
    assert [(a.kind, a.file_name) for a in stored.attachments] == [("document", "bao-cao.pdf"), ("photo", None)]
    assert stored.research_level is None

    await hoa.send("/mine")
    await hoa.expect("Sáng kiến đã gửi (1)", "Số hoá hồ sơ một cửa", "Chờ xác nhận")
    await hoa.send("/drafts")
    await hoa.expect("chưa có bản nháp")


async def test_an_edit_from_the_summary_asks_what_its_answer_opened(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    """Found in a phone walk: a benefit written from the summary went back to it with «Quy ra tiền: —», the
    amount never asked."""
    minh = Person(emulator, "Lê Văn Minh")
    await register(minh, name="Lê Văn Minh")
    await fill_up_to_summary(minh)
    summary = await minh.expect("Tóm tắt sáng kiến")
    await minh.tap("Sửa một mục", summary)
    await minh.tap("✏️ Lợi ích kinh tế", await minh.expect("Sửa mục nào", edited=True))
    await minh.expect("Lợi ích kinh tế", edited=True)
    await minh.send("/skip")  # no economic benefit after all: its amount goes with it
    summary = await minh.expect("Tóm tắt sáng kiến")
    assert "15.000.000" not in summary.plain_text
    await minh.tap("Sửa một mục", summary)
    await minh.tap("✏️ Lợi ích kinh tế", await minh.expect("Sửa mục nào", edited=True))
    await minh.expect("Lợi ích kinh tế", edited=True)
    await minh.send("Giảm 20% giấy in mỗi tháng cho toàn khoa.")
    await minh.expect("quy ra tiền")  # what the benefit opened, before the summary
    await minh.send("8 triệu đồng")
    await minh.expect("Tóm tắt sáng kiến", "Giảm 20% giấy in", "8.000.000 ₫")
    [stored] = await database.initiatives_of(minh.user_id)
    assert stored.economic_amount_vnd == 8_000_000


async def test_an_ineligible_initiative_stops_before_anything_is_written(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    """Plan IV.2–3: not novel, under IP protection or unlawful — asked first, so nothing is written for nothing."""
    lan = Person(emulator, "Đinh Thị Lan")
    await register(lan, name="Đinh Thị Lan")
    await lan.send("/new")
    question = await lan.expect("Bước 1/16", "điều kiện tham gia", "tính mới", "sở hữu trí tuệ", "trật tự công cộng")
    assert not any("Quay lại" in b["text"] for b in question.buttons()), "no Back on the first step"
    await lan.tap("Chưa đủ điều kiện", question)
    refused = await lan.expect("cần đủ cả 3 điều kiện dưới đây", "Bước 1/16")
    assert refused.plain_text.count("trật tự công cộng") == 1, "the conditions once, in the question below"
    await lan.send("/cancel")
    await lan.expect("chưa trả lời câu nào nên không có bản nháp")
    assert await database.initiatives_of(lan.user_id) == [], "starting and leaving leaves nothing behind"
    await lan.send("/new")
    await answer(lan, "điều kiện tham gia", "không")
    await lan.expect("cần đủ cả 3 điều kiện")
    await lan.send("có")
    await lan.expect("Bước 2/16", "Tên sáng kiến")
    [draft] = await database.initiatives_of(lan.user_id)
    assert (draft.declared_novel, draft.current_step) == (True, "title")


async def test_an_answered_question_shows_the_choice_in_its_own_formatting_without_its_buttons(
    emulator: TelegramEmulator, bot_under_test: BotProcess
) -> None:
    """The chat reads well afterwards: the tapped question keeps its text and formatting (Telegram hands the
    bot the message's plain text and its entities), loses its buttons and shows what was chosen."""
    chon = Person(emulator, "Hà Thị Chọn")
    await register(chon, name="Hà Thị Chọn")
    await chon.send("/new")
    question = await chon.expect("Bước 1/16")
    await chon.tap("Đúng, đủ cả 3", question)
    await chon.expect("Bước 2/16")
    marked = await chon.expect("điều kiện tham gia", "» ✅ Đúng, đủ cả 3 điều kiện", edited=True)
    assert marked.message_id == question.message_id and marked.buttons() == []
    assert marked.text.startswith(question.text.split("<b>Bước 1/16</b>")[0] + "<b>Bước 1/16</b>")
    assert marked.text.endswith("\n\n» <b>✅ Đúng, đủ cả 3 điều kiện</b>")


async def test_a_research_topic_asks_its_acceptance_and_credits_its_leader(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    tam = Person(emulator, "Lê Văn Tám")
    await register(tam, name="Lê Văn Tám")
    await tam.send("/new")
    await answer(tam, "điều kiện tham gia", tap="Đúng, đủ cả 3")
    await answer(tam, "Tên sáng kiến", "Nghiên cứu quy trình sàng lọc bệnh nhân mạn tính")
    kinds = await tam.expect("Bước 3/16", "thuộc loại nào")
    await tam.tap("Giải thích các loại", kinds)
    await tam.expect("1.7", "Hội đồng nghiệm thu và ứng dụng trong thực tế", edited=True)
    await tam.send("1.7")
    level = await tam.expect("Bước 4/19", "cấp nào")
    await tam.tap("Cấp tỉnh", level)
    confirmed = await tam.expect("Bước 5/19", "Hội đồng nghiệm thu", "thủ trưởng đơn vị ứng dụng")
    await tam.tap("Chưa", confirmed)
    await tam.expect("cần được Hội đồng nghiệm thu nghiệm thu", "Bước 5/19")
    await tam.send("rồi")
    await answer(tam, "Lĩnh vực áp dụng", tap="Y tế")
    await answer(tam, "Thực trạng", PROBLEM)
    await answer(tam, "Nội dung giải pháp", SOLUTION)
    await answer(tam, "Ngày áp dụng lần đầu", "1/10/2021")
    await answer(tam, "áp dụng thử?", tap="Đã áp dụng")
    await answer(tam, "Áp dụng ở đâu", "Trung tâm Y tế huyện")
    await answer(tam, "Lợi ích kinh tế", "Giảm chi phí khám lại cho người bệnh.")
    await answer(tam, "quy ra tiền", "1 triệu 250 nghìn/tháng")
    await answer(tam, "1.250.000 ₫ mỗi tháng. Đơn ghi giá trị làm lợi cả năm: 15.000.000 ₫? Đồng chí gõ «15 triệu»",
                 "khoảng 15 triệu/năm")  # fmt: skip
    await answer(tam, "Lợi ích xã hội", "Người bệnh được theo dõi sát hơn.")
    recognition = await tam.expect("quyết định nghiệm thu")
    assert recognition.buttons()[0]["text"] == "Hội đồng nghiệm thu"
    await tam.tap("Hội đồng nghiệm thu", recognition)
    await answer(tam, "Số và ngày", "15/QĐ-SYT")  # the number alone: what is missing, said with it
    await answer(tam, "Bot đã đọc số quyết định «15/QĐ-SYT», còn thiếu ngày ký", "15/QĐ-SYT ngày 30/9/2021")
    await answer(tam, "Tác giả.", "Trần Văn Bình")  # the share left out: said so, with the name
    await answer(tam, "Người thứ 1 (Trần Văn Bình) chưa có tỷ lệ đóng góp", "Trần Văn Bình 60%, Lê Thị Cúc 20 MAU003")
    lead = await tam.expect("chủ nhiệm đề tài", "Lê Thị Cúc (20%, [MẪU] Sở Giáo dục và Đào tạo)")  # named at once
    await tam.tap("Lê Văn Tám", lead)
    await tam.expect("Gửi ảnh hoặc tệp")
    await tam.tap("Xong")
    summary = await tam.expect(
        "Tóm tắt sáng kiến", "Chủ nhiệm đề tài: Lê Văn Tám", "ghi nhận cho chủ nhiệm: Lê Văn Tám"
    )
    await tam.tap("Gửi sáng kiến", summary)
    await tam.expect("Đã gửi sáng kiến")
    [stored] = await database.initiatives_of(tam.user_id)
    assert (stored.type_code, stored.research_level, stored.head_confirmed) == ("1.7", "province", True)
    assert (stored.recognition_kind, stored.recognition_date) == ("acceptance", dt.date(2021, 9, 30))
    assert stored.economic_amount_vnd == 15_000_000
    assert [(a.full_name, a.share_percent, a.is_lead) for a in stored.authors] == [
        ("Lê Văn Tám", 20, True), ("Trần Văn Bình", 60, False), ("Lê Thị Cúc", 20, False)]  # fmt: skip
    assert stored.credited_branch_id == stored.branch_id, "credited to the leader, whatever the shares"


async def test_bad_answers_get_a_clear_message_and_the_same_question_keeping_earlier_answers(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    an = Person(emulator, "Phạm Văn An")
    await register(an, name="Phạm Văn An")
    await an.send("/new")
    await answer(an, "điều kiện tham gia", tap="Đúng, đủ cả 3")
    await an.expect("Bước 2/16", "Tên sáng kiến")

    await an.send("Ngắn")
    await an.expect("hơi ngắn (4 ký tự)", "ít nhất 10", "Bước 2/16", "Tên sáng kiến")
    await an.send("x" * 10_000)
    await an.expect("quá dài (10000 ký tự)", "Tối đa 250", "Bước 2/16")
    await an.send_sticker()
    await an.expect("cần câu trả lời bằng chữ", "Bước 2/16")
    await an.send_photo()  # not kept: where it is taken is said
    await an.expect("cần câu trả lời bằng chữ", "gửi lại ở bước «Tệp đính kèm»", "Bước 2/16")
    await an.send("   ")
    await an.expect("đang trống", "Bước 2/16")
    await an.send("🚀 <b>Sổ tay</b> & mẫu biểu 'điện tử' 🚀")
    await an.expect("Bước 3/16", "thuộc loại nào")

    await an.send("loại nào cũng được")
    refused = await an.expect("cần chọn một trong các mục", "Bước 3/16")
    assert refused.plain_text.startswith("⚠️ Bước này cần chọn"), "one mark, not «⚠️ 👉»"
    await an.send("giải pháp")  # in every type's name: which one is not guessed
    await an.expect("cần chọn một trong các mục", "Bước 3/16")
    await an.send("1,5")  # the code with a decimal comma
    await an.expect("Bước 4/16", "Lĩnh vực áp dụng")
    await an.send("/back")
    types = await an.expect(
        "Bước 3/16",
        "Đang lưu: 1.5 Giải pháp trong hoạt động công đoàn",  # its whole name
        "Chọn lại mục ấy để giữ, hoặc chọn mục khác",
    )  # a choice: not «gõ câu trả lời mới»
    labels = [b["text"] for b in types.buttons() if b["text"][:2] == "1."]
    assert "1.6 Phòng chống Covid-19" in labels and max(map(len, labels)) <= 30, "a phone shows each whole"
    await an.send("hoạt động công đoàn")  # words of one type's name alone
    await an.expect("Bước 4/16", "Lĩnh vực áp dụng")
    await an.send("/back")
    await an.send("1.5 giai phap trong hoat dong cong doan")
    await an.expect("Bước 4/16", "Lĩnh vực áp dụng")
    await an.send("123")  # a number typed where no list has it: not a field
    await an.expect("chỉ có số", "viết bằng chữ", "Bước 4/16", "Lĩnh vực áp dụng")
    await an.send("7")  # not «hơi ngắn»: no longer answer would do
    await an.expect("chỉ có số", "Bước 4/16")
    await an.send("hoat dong cong doan")  # a suggestion typed without accents: stored as the suggestion reads
    await an.expect("Bước 5/16")
    await an.send(PROBLEM)
    await an.expect("Bước 6/16")
    await an.send(SOLUTION)
    await an.expect("Bước 7/16", "Ngày áp dụng lần đầu")

    await an.send("chưa")  # not in use yet: what the programme counts, and how to keep the draft for later
    await an.expect("chỉ tính sáng kiến đã được đưa vào áp dụng (từ 01/09/2021 đến 01/09/2023)", "Dừng (giữ nháp)",
                    "Bước 7/16")  # fmt: skip
    await an.send("15/8/2021")
    await an.expect("trước 01/09/2021", "không đủ điều kiện", "Bước 7/16")
    await an.send("2/9/2023")
    await an.expect("sau 01/09/2023", "Bước 7/16")
    await an.send("1/1/2099")
    await an.expect("ở tương lai", "Bước 7/16")
    await an.send("31/2/2022")
    await an.expect("Tháng 2/2022 không có ngày 31", "Bước 7/16")
    await an.send("ngày mai")
    await an.expect("chưa đọc được ngày", "Bước 7/16")
    await an.send("tháng 9/2021")
    await an.expect("tháng 9/2021", "gõ số ngày", "Bước 7/16")
    await an.send("15")
    question = await an.expect("Bước 8/16", "áp dụng thử?")

    [draft] = await database.initiatives_of(an.user_id)
    assert draft.title == "🚀 <b>Sổ tay</b> & mẫu biểu 'điện tử' 🚀", "markup characters are kept verbatim"
    assert draft.type_code == "1.5" and draft.field == "Hoạt động công đoàn"
    assert draft.first_applied_on == dt.date(2021, 9, 15)
    assert draft.current_step == "application_kind"

    await an.tap("Áp dụng thử", question)
    await an.expect("Bước 9/16")
    await an.send("/back")
    await an.expect("Bước 8/16", "áp dụng thử?")
    await an.send("rồi")  # «đã áp dụng rồi», as people answer it
    await an.expect("Bước 9/16")
    assert (await database.initiatives_of(an.user_id))[0].application_kind == "applied"
    await an.send("108")  # a place known by its number (Bệnh viện 108) is kept, as typed
    economic = await an.expect("Bước 10/16", "Lợi ích kinh tế", "Không bắt buộc")
    assert (await database.initiatives_of(an.user_id))[0].application_place == "108"
    assert rows_of(economic) == [["⬅️ Quay lại", "⏭ Bỏ qua"], ["✖️ Dừng (giữ nháp)"]], "two a row: words not cut"
    await an.send("15 triệu đồng")  # an amount alone: kept for the amount step, the benefit asked again
    await an.expect("Đã ghi số tiền: 15.000.000 ₫", "lợi ích kinh tế là gì", "Bước 10/16")
    await an.send("Giảm 30% giấy in mỗi tháng")
    await an.expect("quy ra tiền", "Đang lưu", "15.000.000")
    await an.send("/back")
    economic = await an.expect("Bước 10/16", "Đang lưu", "Giảm 30% giấy in")
    assert rows_of(economic) == [["✔️ Giữ nguyên"], ["⬅️ Quay lại"], ["🗑 Xoá câu trả lời"], ["✖️ Dừng (giữ nháp)"]]
    await an.tap("Xoá câu trả lời", economic)  # skipping a saved answer says it clears it
    social = await an.expect("Bước 11/15", "Lợi ích xã hội")
    # One benefit is needed: with no economic one, the social one is not offered as optional.
    assert "Không bắt buộc" not in social.plain_text and not any("Bỏ qua" in b["text"] for b in social.buttons())
    await an.send("bỏ qua")
    again = await an.expect("ít nhất một lợi ích", "Bước 11/15")
    assert "Không bắt buộc" not in again.plain_text
    await an.send("15 triệu đồng")  # money, meant for the economic benefit: not taken as the social one
    await an.expect("15.000.000 ₫ là số tiền làm lợi, thuộc lợi ích kinh tế: chọn «⬅️ Quay lại»", "Bước 11/15")
    await an.send("Đoàn viên nắm quy định nhanh hơn, ít phải hỏi lại.")
    await an.expect("Bước 12/15", "đã được công nhận")
    await an.send("chưa")  # "not recognised yet": the optional step is skipped
    await an.expect("Bước 13/14", "Tác giả.")
    await an.send("Trần Văn Bình 60\nLê Thị Cúc 40")
    await an.expect("Tổng tỷ lệ của đồng tác giả là 100%", "Bước 13/14")
    await an.send("Trần Văn Bình 60%, Lê Thị Cúc 30 MAU404")
    await an.expect("không có CĐCS mã «MAU404»", "Bước 13/14")
    await an.send("Trần Văn Bình 60%, le thi cuc 30")  # a name typed without accents: printed so, said so
    await an.expect("ghi nhận cho: Trần Văn Bình", "Tên «Le Thi Cuc» chưa có dấu? Đơn sẽ in đúng như vậy",
                    "Gửi ảnh hoặc tệp")  # fmt: skip
    await an.send("/back")  # as the warning says: back, and the list typed again with accents
    await an.expect("Bước 13/14", "Tác giả.", "Le Thi Cuc")
    await an.send("Trần Văn Bình 60%, Lê Thị Cúc 30")
    recorded = await an.expect("ghi nhận cho: Trần Văn Bình", "Gửi ảnh hoặc tệp")
    assert "chưa có dấu" not in recorded.plain_text
    await an.send("đây là tệp")
    await an.expect("Bước này nhận ảnh hoặc tệp")
    await an.send_document("video-rat-lon.mp4", size=50 * 1024 * 1024, mime="video/mp4")
    await an.expect("lớn hơn 20 MB")
    await an.send("xong")  # the ✅ Xong button's word, typed
    summary = await an.expect("Tóm tắt sáng kiến", "chưa có quyết định công nhận")
    assert "&lt;b&gt;Sổ tay&lt;/b&gt;" in summary.text, "user text is escaped, never interpreted as markup"

    [draft] = await database.initiatives_of(an.user_id)
    assert draft.economic_benefit is None and draft.social_benefit.startswith("Đoàn viên")
    assert draft.recognition_kind is None and draft.attachments == []
    assert [(a.full_name, a.share_percent) for a in draft.authors] == [
        ("Phạm Văn An", 10), ("Trần Văn Bình", 60), ("Lê Thị Cúc", 30)
    ]  # fmt: skip
    assert draft.status == Status.DRAFT


def rows_of(message: StoredMessage) -> list[list[str]]:
    return [[button["text"] for button in row] for row in (message.reply_markup or {}).get("inline_keyboard", [])]


async def test_back_skip_cancel_drafts_resume_and_delete(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    binh = Person(emulator, "Trần Thị Bình")
    await register(binh, name="Trần Thị Bình")
    await binh.send("/new")
    await answer(binh, "Bước 1/16", tap="Đúng, đủ cả 3")
    await answer(binh, "Bước 2/16", TITLE)
    kinds = await binh.expect("Bước 3/16")
    await binh.tap("1.1 Giải pháp kỹ thuật", kinds)
    field = await binh.expect("Bước 4/16", "Lĩnh vực")
    await binh.tap("Quay lại", field)
    back = await binh.expect("Bước 3/16", "Đang lưu", "1.1 Giải pháp kỹ thuật")
    await binh.tap("1.3 Giải pháp tác nghiệp", back)
    await binh.expect("Bước 4/16")
    await binh.send("/back")
    await binh.expect("Bước 3/16", "1.3 Giải pháp tác nghiệp")
    await binh.send("/skip")
    await binh.expect("bắt buộc, không bỏ qua được", "Bước 3/16")
    await binh.send("/back")
    await binh.expect("Bước 2/16", TITLE)
    await binh.send("/back")
    await binh.expect("Bước 1/16")
    await binh.send("/back")
    await binh.expect("bước đầu tiên", "Bước 1/16")

    await binh.tap("Dừng (giữ nháp)")
    await binh.expect("Đã tạm dừng", TITLE, "vẫn được giữ")
    await binh.send("Chào bot")  # greeted back, with the menu
    await binh.expect("Chào đồng chí Trần Thị Bình!", "chọn một mục của menu")
    await binh.send("xin chào, tôi muốn gửi sáng kiến")  # what the menu's 📝 does: the draft offered first
    await binh.expect("đang có 1 bản nháp")

    await binh.send("🗂 Bản nháp")
    listing = await binh.expect("Bản nháp của đồng chí (1)", TITLE)
    await binh.tap("Tiếp tục", listing)
    await binh.expect("Bước 1/16")

    await binh.send("/new")
    offer = await binh.expect("đang có 1 bản nháp", f"• #{(await database.initiatives_of(binh.user_id))[0].id} {TITLE}")
    resume = offer.buttons()[0]["text"]  # the whole title above; the button, what a phone's row shows whole
    assert resume.startswith("▶️ Tiếp tục #") and len(resume) <= 30 and resume.endswith("…"), resume
    await binh.tap("Tạo sáng kiến mới", offer)
    await binh.expect("Sáng kiến mới.")
    await binh.send("có")
    await binh.send("Một sáng kiến thứ hai của tôi")
    await binh.expect("Bước 3/16")
    drafts = await database.initiatives_of(binh.user_id)
    assert [d.title for d in drafts] == [TITLE, "Một sáng kiến thứ hai của tôi"]
    assert drafts[0].type_code == "1.3" and drafts[0].current_step == "eligibility"

    await binh.send("/drafts")
    listing = await binh.expect("Bản nháp của đồng chí (2)")
    resume_deleted = listing.button(f"Tiếp tục #{drafts[0].id}")["callback_data"]
    await binh.tap(f"Xoá #{drafts[0].id}", listing)
    confirm = await binh.expect(f"Xoá bản nháp #{drafts[0].id}")
    assert [b["text"] for b in confirm.buttons()] == ["↩️ Giữ lại", "🗑 Xoá hẳn"], "the safe choice first (Zalo's «1»)"
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
    await answer(cuc, "Bước 1/16", "có")
    await answer(cuc, "Bước 2/16", TITLE)
    kinds = await cuc.expect("Bước 3/16")
    await cuc.tap("1.4", kinds)
    field_question = await cuc.expect("Bước 4/16")
    await cuc.send("Giáo dục – đào tạo")
    await cuc.expect("Bước 5/16")
    assert field_question.buttons(), "a question answered by typing keeps its buttons"
    await cuc.tap("Y tế", field_question)
    await cuc.expect("câu hỏi cũ", "Bước 5/16", "Thực trạng")
    await cuc.settle()
    [old] = [m for m in emulator.chat(cuc.user_id) if m.message_id == field_question.message_id]
    assert not old.buttons() and "Y tế" not in old.plain_text, "the old question does not read as answered «Y tế»"
    [draft] = await database.initiatives_of(cuc.user_id)
    assert (draft.type_code, draft.field, draft.current_step) == ("1.4", "Giáo dục – đào tạo", "problem")


async def test_resume_exactly_where_the_member_was_after_the_bot_process_is_killed(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    duy = Person(emulator, "Phạm Đức Duy")
    await register(duy, name="Phạm Đức Duy")
    await duy.send("/new")
    await answer(duy, "Bước 1/16", "có")
    await answer(duy, "Bước 2/16", TITLE)
    await duy.expect("Bước 3/16")
    await duy.tap("1.6")
    await duy.expect("Bước 4/16")

    await bot_under_test.kill()
    await bot_under_test.start()

    await duy.send("Phòng chống dịch")
    await duy.expect("Bước 5/16", "Thực trạng")
    [draft] = await database.initiatives_of(duy.user_id)
    assert (draft.title, draft.type_code, draft.field) == (TITLE, "1.6", "Phòng chống dịch")
    await duy.send("/start")
    await duy.expect("đang mô tả dở sáng kiến", "Bước 5/16")


async def test_messages_and_taps_in_quick_succession_are_handled_in_order(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    em = Person(emulator, "Vũ Thị Em")
    await register(em, name="Vũ Thị Em")
    await em.send("/new")
    await em.send("có")
    await em.send(TITLE)
    await em.send("1.2 Giải pháp quản lý")
    await em.send("Hành chính – quản lý")
    problem = await em.expect("Bước 5/16")
    await em.tap("Quay lại", problem)
    await em.send("Hành chính – quản lý nhà nước")
    await em.send(PROBLEM)
    await em.expect("Bước 6/16", "Nội dung giải pháp")
    [draft] = await database.initiatives_of(em.user_id)
    assert (draft.title, draft.type_code) == (TITLE, "1.2")
    assert (draft.field, draft.problem) == ("Hành chính – quản lý nhà nước", PROBLEM)


async def test_a_duplicate_answer_does_not_advance_twice(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    """A redelivered update (Telegram retries when it gets no answer in time) must have no second effect: a
    repeated answer in the middle of the wizard would otherwise answer the next question too."""
    gia = Person(emulator, "Đỗ Văn Gia")
    await register(gia, name="Đỗ Văn Gia")
    await gia.send("/new")
    await answer(gia, "Bước 1/16", "có")
    await answer(gia, "Bước 2/16", TITLE)
    await gia.expect("Bước 3/16")
    await gia.send("1.2")
    await gia.expect("Bước 4/16", "Lĩnh vực")
    both = "Hành chính – quản lý nhà nước ở cấp tỉnh và cấp huyện"  # a valid answer to step 4, and to step 5
    await gia.send(both)
    await gia.expect("Bước 5/16", "Thực trạng")
    emulator.redeliver_last()
    await gia.settle()
    assert not any("Bước 6/16" in text for text in gia.bot_texts()), "the repeated answer did not answer step 5"
    [draft] = await database.initiatives_of(gia.user_id)
    assert (draft.field, draft.problem, draft.current_step) == (both, None, "problem")


async def test_a_429_from_telegram_is_waited_out_and_the_reply_still_arrives(
    emulator: TelegramEmulator, bot_under_test: BotProcess
) -> None:
    hai = Person(emulator, "Ngô Văn Hải")
    await register(hai, name="Ngô Văn Hải")
    calls_before = len(emulator.calls)
    emulator.inject_fault("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    await hai.send("/help")
    await hai.expect("Hướng dẫn", "/dulieu")
    sends = [params for method, params in emulator.calls[calls_before:] if method == "sendMessage"]
    assert len(sends) == 2 and sends[0] == sends[1], "the refused call was retried as it was"


async def test_what_a_complete_submission_costs_a_member(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    """A complete submission without mistakes (a co-author, a decision, two files), after the first (whose
    profile questions are asked once): every action and every bot message, counted. More is a regression."""
    vy = Person(emulator, "Mai Thị Vy")
    await register(vy, name="Mai Thị Vy")
    await submit_initiative(vy)
    await vy.tap("Dừng", await vy.expect("Bước 1/4", "Nơi công tác"))
    await vy.expect_file("mo-ta-sang-kien")
    meter = EffortMeter(vy)
    number = await submit_initiative(vy)
    await vy.expect_file(f"mo-ta-sang-kien-{number}.docx")
    assert meter.read() == Effort(typed=13, taps=7, bot_messages=23)


async def test_a_long_answer_the_app_cut_in_two_is_refused_whole(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    """Telegram's apps send a text over 4,096 characters as parts, one right after another: the part after a
    refused one is not saved as the answer (it began in the middle of a word)."""
    cat = Person(emulator, "Đỗ Văn Cắt")
    await register(cat, name="Đỗ Văn Cắt")
    await cat.send("/new")
    await answer(cat, "Bước 1/16", "có")
    await answer(cat, "Bước 2/16", TITLE)
    await answer(cat, "Bước 3/16", "1.2")
    await answer(cat, "Bước 4/16", "Y tế")
    await cat.expect("Bước 5/16", "Thực trạng")
    pasted = "Sổ thuốc ghi tay, mỗi ca mất ba mươi phút đối chiếu với bệnh án. " * 75
    await cat.send(pasted[:4096])
    await cat.send(pasted[4096:])  # the app's second part, sent before the bot answered the first
    await cat.expect("quá dài (4096 ký tự)", "Tối đa 3000", "Bước 5/16")
    await cat.expect("phần sau của câu trả lời quá dài", "chưa lưu", "tối đa 3000 ký tự", "Bước 5/16")
    [draft] = await database.initiatives_of(cat.user_id)
    assert (draft.problem, draft.current_step) == (None, "problem")
    await cat.send(PROBLEM)  # the answer shortened: taken
    await cat.expect("Bước 6/16", "Nội dung giải pháp")
    [draft] = await database.initiatives_of(cat.user_id)
    assert draft.problem == PROBLEM


async def test_the_solo_buttons_words_typed_at_the_authors_step_are_the_button(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    """«chỉ mình tôi» typed (accents optional) was read as a co-author list and refused as one."""
    tu = Person(emulator, "Trịnh Văn Tự")
    await register(tu, name="Trịnh Văn Tự")
    await fill_up_to_summary(tu, coauthors="chi minh toi")
    [draft] = await database.initiatives_of(tu.user_id)
    assert [(author.full_name, author.share_percent) for author in draft.authors] == [("Trịnh Văn Tự", 100)]


async def test_a_suggestion_chosen_in_english_is_stored_as_the_forms_print_it(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    """The records fill the council's Vietnamese forms and the lists: «Health» tapped is «Y tế» stored."""
    grace = Person(emulator, "Grace Nguyen")
    await register(grace, name="Nguyễn Thị Grace")
    await fill_up_to_summary(grace)
    summary = await grace.expect("Tóm tắt sáng kiến")
    await grace.send("/lang en")
    await grace.expect("English selected")
    await grace.tap("Sửa một mục", summary)
    await grace.tap("✏️ Field", await grace.expect("Which item of initiative", edited=True))
    await grace.tap("Health", await grace.expect("In which field", edited=True))
    summary = await grace.expect("Summary of initiative", "Y tế")
    [draft] = await database.initiatives_of(grace.user_id)
    assert draft.field == "Y tế"
    await grace.tap("Edit an item", summary)
    await grace.tap("✏️ Field", await grace.expect("Which item of initiative", edited=True))
    await grace.send("education")  # the English label typed
    await grace.expect("Summary of initiative", "Giáo dục – đào tạo")
    await grace.tap("Submit initiative")
    await answer(grace, "Your workplace", "Bệnh viện Đa khoa tỉnh")
    await answer(grace, "date of birth", "12/5/1985")
    await answer(grace, "Job title", "Bác sĩ")
    await answer(grace, "Qualification", tap="Master")
    await grace.expect("Author profile saved", "Thạc sĩ")
    member = await database.member_of(grace.user_id)
    assert member.qualification == "Thạc sĩ"


async def test_stopping_before_the_title_keeps_no_untitled_draft(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    """Only the conditions answered, then «Dừng»: a draft «(chưa có tên)» was kept to clutter the list."""
    tuan = Person(emulator, "Đoàn Văn Tuấn")
    await register(tuan, name="Đoàn Văn Tuấn")
    await tuan.send("/new")
    await answer(tuan, "điều kiện tham gia", tap="Đúng, đủ cả 3")
    await tuan.tap("Dừng", await tuan.expect("Tên sáng kiến"))
    await tuan.expect("Sáng kiến chưa có tên nên không giữ bản nháp")
    assert await database.initiatives_of(tuan.user_id) == []
    await tuan.send("/drafts")
    await tuan.expect("chưa có bản nháp")
