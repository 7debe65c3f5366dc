"""Registration through the real bot process and the Bot API emulator."""

from __future__ import annotations

import pytest

from bot.sandbox.telegram_emulator import TelegramEmulator
from tests.harness import TITLE, BotProcess, Database, Person, answer, register, submit_initiative

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_register_by_paging_filtering_and_typing_a_name(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    hoa = Person(emulator, "Hoa")
    await hoa.send("/start")
    await hoa.expect("Chào mừng đồng chí", "01 triệu sáng kiến", "Sáng kiến Bot")
    page = await hoa.expect("Chọn công đoàn cơ sở (CĐCS)", "trang 1/20")
    assert len([b for b in page.buttons() if b["callback_data"].startswith("reg:b:")]) == 8
    first_page_names = [b["text"] for b in page.buttons()]

    await hoa.tap("Trang sau", page)
    page_two = await hoa.expect("trang 2/20", edited=True)
    assert page_two.message_id == page.message_id, "paging edits the list in place"
    assert [b["text"] for b in page_two.buttons()] != first_page_names
    assert any("Trang trước" in b["text"] for b in page_two.buttons())

    await hoa.send("bv da khoa")  # «bv», as people write «bệnh viện»
    found = await hoa.expect("Tìm «bv da khoa»", "CĐCS phù hợp", "hoặc gõ tên khác để tìm lại")
    assert "ví dụ" not in found.plain_text, "the search's example is said once, before a search"
    abbreviated = [b["text"] for b in found.buttons() if b["callback_data"].startswith("reg:b:")]
    await hoa.send("benh vien da khoa")
    found = await hoa.expect("Tìm «benh vien da khoa»", "CĐCS phù hợp")
    names = [b["text"] for b in found.buttons() if b["callback_data"].startswith("reg:b:")]
    assert len(names) == 8 and all("Bệnh viện Đa" in name for name in names) and abbreviated == names  # all 8
    for written in ("bvdk", "bv dk"):  # «bệnh viện đa khoa» as it is written in short
        await hoa.send(written)
        found = await hoa.expect(f"Tìm «{written}»", "CĐCS phù hợp")
        assert [b["text"] for b in found.buttons() if b["callback_data"].startswith("reg:b:")] == names, written

    assert len(set(names)) == len(names) and max(map(len, names)) <= 30, "whole and apart on a 360-pixel phone"
    assert "[MẪU] Bệnh viện Đa khoa tỉnh" in names, "a short name is shown whole"
    await hoa.send("thpt co so 2")  # three schools whose cuts would read alike: «[MẪU] Trường THPT… – cơ sở 2»
    schools = [b["text"] for b in (await hoa.expect("Tìm «thpt co so 2»")).buttons() if b["callback_data"][4:6] == "b:"]
    # «2» is a number to find whole («cơ sở 2»), not a digit inside a code (MAU121 is «cơ sở 7»).
    assert sorted(schools) == ["…Chuyên Hùng Vương – cơ sở 2", "…THPT Long Châu Sa – cơ sở 2",
                               "…THPT Việt Trì – cơ sở 2"]  # fmt: skip
    await hoa.tap("[MẪU] Bệnh viện Đa… – cơ sở 2", found)  # a long one keeps its end: «cơ sở 2»
    await hoa.expect("CĐCS: [MẪU] Bệnh viện Đa khoa tỉnh – cơ sở 2", "Nhập họ và tên")
    assert not any("Dùng tên" in b["text"] for b in hoa.last_with_buttons().buttons()), "'Hoa' is not a full name"
    await hoa.send("Hoa")
    await hoa.expect("ít nhất 2 từ")
    await hoa.send_photo()
    await hoa.expect("cần câu trả lời bằng chữ")
    await hoa.send(TITLE)  # the initiative's title, typed before the name: not registered as her name
    await hoa.expect("Họ và tên có từ 2 đến 7 từ; đây là 10 từ", "Đồng chí nhập lại giúp")
    await hoa.send("nguyen thi hoa")  # without accents: it would be printed so on the council's forms
    await hoa.expect("Tên «Nguyen Thi Hoa» chưa có dấu", "gõ lại có dấu", "«✔️ Giữ nguyên»")
    await hoa.send("Nguyễn   Thị Hoa")
    done = await hoa.expect("Đăng ký xong", "Nguyễn Thị Hoa", "Bệnh viện Đa khoa tỉnh – cơ sở 2")
    assert done.reply_markup["keyboard"][0][0]["text"] == "📝 Sáng kiến mới", "the main menu is shown"

    member = await database.member_of(hoa.user_id)
    assert member.full_name == "Nguyễn Thị Hoa"
    assert member.branch.code == "MAU022"


async def test_deep_link_preselects_the_branch_and_offers_the_telegram_name(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    tam = Person(emulator, "Lê Văn Tám")
    await tam.send("/start b_mau004")
    asking = await tam.expect("CĐCS: [MẪU] Sở Y tế", "Nhập họ và tên")
    await tam.tap("Dùng tên: Lê Văn Tám", asking)
    await tam.expect("Đăng ký xong", "Lê Văn Tám")
    member = await database.member_of(tam.user_id)
    assert (member.full_name, member.branch.code) == ("Lê Văn Tám", "MAU004")

    await tam.send("/start")
    await tam.expect("Chào đồng chí Lê Văn Tám", "Sở Y tế")


async def test_a_name_without_accents_is_asked_about_once_and_kept_when_it_is_so(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    anh = Person(emulator, "Mai Lan Anh")  # a name with no accent at all, rightly
    await anh.send("/start b_MAU004")
    await anh.tap("Dùng tên: Mai Lan Anh", await anh.expect("Nhập họ và tên"))
    await anh.tap("Giữ nguyên", await anh.expect("Tên «Mai Lan Anh» chưa có dấu"))
    await anh.expect("Đăng ký xong", "Mai Lan Anh")
    assert (await database.member_of(anh.user_id)).full_name == "Mai Lan Anh"
    ba = Person(emulator, "Ba")
    await ba.send("/start b_MAU004")
    await ba.send("tran van ba")
    await ba.expect("Tên «Tran Van Ba» chưa có dấu")
    await ba.send("tran van ba")  # the same again: that is how it is written
    await ba.expect("Đăng ký xong", "Tran Van Ba")


async def test_unknown_deep_link_and_unmatched_filter_are_explained(
    emulator: TelegramEmulator, bot_under_test: BotProcess
) -> None:
    minh = Person(emulator, "Minh")
    await minh.send("/start b_NOPE99")
    await minh.expect("Không tìm thấy CĐCS có mã «NOPE99»")
    await minh.expect("trang 1/20")
    await minh.send("xyz không có")
    no_match = await minh.expect("Không có CĐCS nào khớp «xyz không có»")
    await minh.tap("Xem tất cả", no_match)
    full_list = await minh.expect("trang 1/20", edited=True)
    assert full_list.message_id == no_match.message_id


async def test_someone_new_who_just_says_hello_is_guided_to_register(
    emulator: TelegramEmulator, bot_under_test: BotProcess
) -> None:
    lan = Person(emulator, "Lan")
    await lan.send("xin chào")
    await lan.expect("Chào mừng")
    await lan.expect("Chọn công đoàn cơ sở")
    await lan.send("/new")
    await lan.expect("hoàn tất đăng ký trước")
    await lan.expect("Chọn công đoàn cơ sở"), "a command is not taken for an answer: the question comes again"


async def test_a_member_who_chose_the_wrong_branch_chooses_again(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    """Once registered, the branch could not be changed: every initiative would have gone to the wrong chair."""
    nam = Person(emulator, "Phan Văn Nam")
    await register(nam, "MAU001", "Phan Văn Nam")
    await nam.send("/new")
    await answer(nam, "điều kiện tham gia", tap="Đúng, đủ cả 3")
    await answer(nam, "Tên sáng kiến", TITLE)
    await nam.expect("Bước 3/")
    await nam.tap("Dừng (giữ nháp)")
    await emulator.user_presses(nam.user_id, nam.last_with_buttons(), "reg:b:MAU004")  # an old registration button
    await nam.expect("Đồng chí đã đăng ký rồi", "Chọn nhầm CĐCS? Gõ /doicdcs")  # the way to choose again, named
    await nam.send("/doicdcs")
    await nam.expect("Đồng chí đang ở CĐCS [MẪU] Trường THPT Chuyên Hùng Vương")
    await nam.send("so y te")
    await nam.tap("[MẪU] Sở Y tế", await nam.expect("Tìm «so y te»"))
    await nam.expect("Đã chuyển đồng chí sang CĐCS [MẪU] Sở Y tế")
    member = await database.member_of(nam.user_id)
    [draft] = await database.initiatives_of(nam.user_id)
    assert member.branch.code == "MAU004" and (draft.branch_id, draft.credited_branch_id) == (member.branch_id,) * 2
    assert draft.authors == [] or all(a.branch_id == member.branch_id for a in draft.authors)
    sent = Person(emulator, "Phan Thị Đã Gửi")
    await register(sent, "MAU001", "Phan Thị Đã Gửi")
    number = await submit_initiative(sent)
    await sent.send("/doicdcs")  # moved to another unit after sending one: what she sent stays where it went
    await sent.expect("Chọn công đoàn cơ sở")
    await sent.send("so y te")
    await sent.tap("[MẪU] Sở Y tế", await sent.expect("Tìm «so y te»"))
    await sent.expect("Đã chuyển đồng chí sang CĐCS [MẪU] Sở Y tế", "vẫn thuộc CĐCS cũ")
    moved, stayed = await database.member_of(sent.user_id), await database.initiative(number)
    assert moved.branch.code == "MAU004" and stayed.branch.code == "MAU001"
    assert stayed.credited_branch_id == stayed.branch_id, "it counts where it was sent"
