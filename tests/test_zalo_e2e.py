"""What only Zalo needs, with both channels served by webhook from one web app (`sangkien serve`'s mode):
secrets and /healthz, both payload shapes, what Zalo cannot carry, 2000-character splitting, replays,
linking a Telegram member's Zalo account (the draft continues), and Zalo groups.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy import func, select

from bot.channels.zalo_client import ZaloMessage
from bot.sandbox.telegram_emulator import TelegramEmulator
from bot.sandbox.zalo_emulator import TEXT_LIMIT, ZaloEmulator
from storage import reply_journal
from storage.models import ChatGroup, Identity, InboxUpdate, OutboxMessage, Status, StoredFile
from tests.harness import (
    ADMIN_ID,
    PROBLEM,
    SOLUTION,
    ZALO_ADMIN_ID,
    ZALO_WEBHOOK_SECRET,
    Database,
    Effort,
    EffortMeter,
    InProcessBot,
    Person,
    ZaloPerson,
    accept_chair_invite,
    answer,
    fill_up_to_summary,
    invite_chair,
    link_code_of,
    local,
    register,
    submit_initiative,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
WEBHOOKS = True  # conftest's live_bot serves this module by webhook


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def admin(emulator: TelegramEmulator, live_bot: InProcessBot) -> Person:
    admin = Person(emulator, "Quản Trị Tỉnh", user_id=ADMIN_ID)
    await register(admin, "MAU004", "Quản Trị Tỉnh")
    return admin


async def test_webhooks_refuse_a_wrong_secret_and_health_is_reported(live_bot: InProcessBot) -> None:
    async with aiohttp.ClientSession() as http:
        for path, header in (("/webhook/zalo", "X-Bot-Api-Secret-Token"),
                             ("/webhook/telegram", "X-Telegram-Bot-Api-Secret-Token")):  # fmt: skip
            async with http.post(live_bot.web_url + path, json={"event_name": "x"}) as response:
                assert response.status == 401
            async with http.post(live_bot.web_url + path, json={}, headers={header: "wrong-secret"}) as response:
                assert response.status == 401
        async with http.post(
            live_bot.web_url + "/webhook/zalo", data=b"", headers={"X-Bot-Api-Secret-Token": ZALO_WEBHOOK_SECRET}
        ) as response:
            assert response.status == 200, "an empty probe is answered 200"
        async with http.get(live_bot.web_url + "/healthz") as response:
            assert response.status == 200
            assert await response.json() == {"ok": True, "database": "ok", "channels": ["telegram", "zalo"]}


async def test_both_payload_shapes_and_what_zalo_cannot_carry(
    zalo_emulator: ZaloEmulator, live_bot: InProcessBot, live_database: Database
) -> None:
    binh = ZaloPerson(zalo_emulator, "Trần Văn Bình")
    shapes_before = len(zalo_emulator.webhook_shapes)
    await register(binh, "MAU002", "Trần Văn Bình")
    assert set(zalo_emulator.webhook_shapes[shapes_before:]) == {"flat", "wrapped"}
    await binh.send("/new")
    await answer(binh, "điều kiện tham gia", tap="Đúng, đủ cả 3")
    title = await binh.expect("Bước 2/", "Tên sáng kiến", "• ⬅️ Quay lại", "Gõ câu trả lời")
    assert "Trả lời bằng số" not in title.text, "a text is typed: its options go by their words"
    await binh.send_sticker()
    await binh.expect("bằng chữ", "Bước 2/")
    await binh.send_unsupported()
    await binh.expect("bằng chữ", "Bước 2/")
    await binh.send_photo()
    await binh.expect("bằng chữ", "Bước 2/")
    await binh.send("Sổ tay điện tử cho tổ công đoàn")
    await binh.expect("Bước 3/", "1. 1.1 Giải pháp kỹ thuật", "Trả lời bằng số")
    await binh.send("42")  # not an option: which numbers the list has (it still takes them)
    await binh.expect("Danh sách gần nhất không có số 42")
    await binh.send("1.3")  # a type's code works as well as its number
    await binh.expect("Bước 4/", "Lĩnh vực")
    await binh.tap("Quay lại")
    await binh.expect("Bước 3/", "Đang lưu", "1.3")
    [draft] = await live_database.initiatives_of(binh.user_id)
    assert draft.type_code == "1.3" and draft.current_step == "type"


async def test_where_a_day_is_asked_a_bare_number_is_the_day(
    zalo_emulator: ZaloEmulator, live_bot: InProcessBot, live_database: Database
) -> None:
    dung = ZaloPerson(zalo_emulator, "Phạm Văn Dũng")
    await register(dung, "MAU003", "Phạm Văn Dũng")
    await dung.send("/new")
    await answer(dung, "điều kiện tham gia", "đúng")  # typed: "đúng" is the first option, not "Dừng" (stop)
    await answer(dung, "Tên sáng kiến", "Lịch trực điện tử cho khoa cấp cứu")
    await answer(dung, "thuộc loại nào", "Số 2")  # as some type it
    await answer(dung, "Lĩnh vực áp dụng", "1")
    await answer(dung, "Thực trạng", PROBLEM)
    await answer(dung, "Nội dung giải pháp", SOLUTION)
    await answer(dung, "Ngày áp dụng lần đầu", "tháng 10/2021")
    asked = await dung.expect("còn thiếu ngày")
    assert not re.search(r"^1\. ", asked.text, re.M) and "• ⬅️ Quay lại" in asked.text, "options by words"
    await dung.send("2")
    await dung.expect("áp dụng thử")
    [draft] = await live_database.initiatives_of(dung.user_id)
    assert draft.first_applied_on == dt.date(2021, 10, 2) and draft.type_code == "1.2"


async def test_long_texts_are_split_at_line_boundaries(zalo_emulator: ZaloEmulator, live_bot: InProcessBot) -> None:
    admin = ZaloPerson(zalo_emulator, "Quản Trị Zalo", user_id=ZALO_ADMIN_ID)
    await register(admin, "MAU004", "Quản Trị Zalo")
    await admin.send("/broadcast")
    ask = await admin.expect("Gửi thông báo", "Gõ nội dung", "• ✖️ Huỷ thông báo")
    assert "Trả lời bằng số" not in ask.text, "the answer is text: «1» typed would have cancelled"
    notice = "\n".join(
        f"{n}. Nội dung thứ {n} của thông báo dài gửi các công đoàn cơ sở trong tỉnh." for n in range(1, 41)
    )
    await admin.send(notice)
    await admin.tap("Tất cả đoàn viên", await admin.expect("Gửi tới ai?"))
    await admin.expect("người nhận sẽ thấy", "1. Nội dung thứ 1")
    last = await admin.expect("40. Nội dung thứ 40", "Gửi tới:")
    preview = [m.text for m in zalo_emulator.chat(admin.user_id) if m.from_bot and m.seq > ask.seq]
    preview = preview[: preview.index(last.text) + 1][1:]  # after «Gửi tới ai?»
    assert len(preview) >= 2 and all(len(text) <= TEXT_LIMIT for text in preview)
    lines = [line for line in "\n".join(preview).splitlines() if "Nội dung thứ" in line]
    assert [line.split(".", 1)[0] for line in lines] == [str(n) for n in range(1, 41)], "whole lines, in order"
    await admin.tap("Huỷ thông báo", last)
    await admin.expect("Đã huỷ thông báo")
    await admin.send("/progress")  # the full ranking, a page at a time
    overview = await admin.expect("Công đoàn Viên chức tỉnh Phú Thọ", "Chậm nhất")
    await admin.tap("Xem xếp hạng đầy đủ", overview)
    await admin.tap("Trang sau", await admin.expect("Xếp hạng 160 CĐCS", "trang 1/8", "20. "))
    await admin.expect("trang 2/8", "21. ", "40. ")
    await admin.send("cđcs")  # the admin's "🏢 CĐCS", typed: importing needs a file, which Zalo cannot carry
    await admin.expect("Zalo không gửi được tệp", "Telegram", "sangkien import-branches")  # said first
    await admin.expect("Nhập dữ liệu từ tệp")
    await admin.send("/invite_chair MAU011")  # Zalo has no links: the invited person types the line
    invitation = await admin.expect("Đường dẫn mời làm chủ tịch CĐCS", "/start ", "gõ (hoặc dán) nguyên dòng ấy")
    line = next(line for line in invitation.text.splitlines() if line.startswith("/start "))
    await accept_chair_invite(ZaloPerson(zalo_emulator, "Chủ Tịch Được Mời"), line.split()[1], "Chủ Tịch Được Mời")


async def test_a_replayed_update_has_one_effect(
    zalo_emulator: ZaloEmulator, live_bot: InProcessBot, live_database: Database
) -> None:
    chi = ZaloPerson(zalo_emulator, "Lê Thị Chi")
    await register(chi, "MAU003", "Lê Thị Chi")
    await chi.send("/new")
    await answer(chi, "điều kiện tham gia", tap="Đúng, đủ cả 3")
    await chi.expect("Bước 2/")
    zalo_emulator.redeliver_last()
    zalo_emulator.redeliver_last()
    await chi.settle()
    assert len(await live_database.initiatives_of(chi.user_id)) == 1
    assert sum("Bước 2/" in text for text in chi.bot_texts()) == 1


async def test_a_question_zalo_keeps_refusing_arrives_through_the_outbox_once(
    zalo_emulator: ZaloEmulator, live_bot: InProcessBot
) -> None:
    """Every attempt of the direct send fails (Zalo answers 502 four times): the question, journalled with
    the step, is left to the outbox, which delivers it once; a bare "1" picks its first option."""
    an = ZaloPerson(zalo_emulator, "Đinh Văn An")
    await register(an, "MAU003", "Đinh Văn An")
    zalo_emulator.inject_fault("sendMessage", 502, count=4)
    await an.send("/new")
    await an.expect("điều kiện tham gia", timeout=60)
    await an.send("1")
    await an.expect("Bước 2/")
    assert sum("điều kiện tham gia" in text for text in an.bot_texts()) == 1


async def test_a_zalo_update_a_crash_caught_before_it_was_handled_is_handled_at_the_next_start(
    zalo_emulator: ZaloEmulator, live_bot: InProcessBot, live_database: Database
) -> None:
    """The webhook keeps each Zalo update in the inbox before answering 200 (Zalo will not send it again).
    Here the bot stops with "/help" kept but not handled; the next start answers it, once."""
    hoi = ZaloPerson(zalo_emulator, "Trần Văn Hồi")
    await register(hoi, "MAU003", "Trần Văn Hồi")
    guides_before = sum("Hướng dẫn" in text for text in hoi.bot_texts())
    await live_bot.stop()
    left = ZaloMessage(event_name="message.text.received", message_id="kept-1", user_id=hoi.user_id,
                       display_name="Hồi", chat_id=hoi.user_id, is_group=False, date_ms=0, text="/help")  # fmt: skip
    async with live_database.sessions() as session, session.begin():
        session.add(InboxUpdate(platform="zalo", update_key=left.update_key, payload=json.dumps(asdict(left)),
                                received_at=dt.datetime.now(dt.UTC)))  # fmt: skip
    await live_bot.start()
    await hoi.expect("Hướng dẫn")
    await hoi.settle()  # which sends /help as its probe
    assert sum("Hướng dẫn" in text for text in hoi.bot_texts()) == guides_before + 2
    assert not any("nhắc tên bot" in text for text in hoi.bot_texts()), "a member links no group"


async def test_a_telegram_member_links_zalo_and_continues_the_draft_there(
    emulator: TelegramEmulator, zalo_emulator: ZaloEmulator, live_bot: InProcessBot, live_database: Database
) -> None:
    on_telegram = Person(emulator, "Nguyễn Văn Hai Kênh")
    await register(on_telegram, "MAU002", "Nguyễn Văn Hai Kênh")
    await on_telegram.send("/new")
    await answer(on_telegram, "điều kiện tham gia", tap="Đúng, đủ cả 3")
    await answer(on_telegram, "Tên sáng kiến", "Phiếu khảo sát trực tuyến cho đoàn viên")
    await on_telegram.expect("Bước 3/")
    await on_telegram.send("/link")
    code = link_code_of(await on_telegram.expect("Mã liên kết của đồng chí", "Trên Zalo, nhắn cho bot"))

    on_zalo = ZaloPerson(zalo_emulator, "Hai Kênh")
    await on_zalo.send("xin chào")
    await on_zalo.expect("Chọn công đoàn cơ sở")
    await on_zalo.send("LIENKET 000000")
    await on_zalo.expect("không đúng hoặc đã hết hạn")
    await on_zalo.send(f"LIENKET {code}")
    waiting = await on_zalo.expect("Đã nhận mã", "mở bot trên Telegram và chọn «✅ Đúng là tôi»")
    assert "(trả lời 1)" not in waiting.plain_text, "Telegram has the button"
    member = await live_database.member_of(on_telegram.user_id)
    async with live_database.sessions() as session:  # nothing is linked before the owner says yes
        accounts = (await session.scalars(select(Identity).where(Identity.member_id == member.id))).all()
    assert [a.platform for a in accounts] == ["telegram"]
    confirm = await on_telegram.expect("Tài khoản Zalo «Hai Kênh» vừa nhập mã liên kết của đồng chí")
    assert "kể cả quyền" not in confirm.text, "a member has no officer's rights to hand over"
    await on_telegram.tap("Đúng là tôi", confirm)
    await on_telegram.expect("Đã liên kết tài khoản Zalo «Hai Kênh» với hồ sơ của đồng chí")
    await on_zalo.expect("Đã liên kết", "Nguyễn Văn Hai Kênh", "[MẪU] Bệnh viện Đa khoa tỉnh")
    question = await on_zalo.expect("Bước 3/", "thuộc loại nào")
    await on_zalo.tap("1.6", question)
    await on_zalo.expect("Bước 4/")

    async with live_database.sessions() as session:
        accounts = (await session.scalars(select(Identity).where(Identity.member_id == member.id))).all()
    assert sorted(a.platform for a in accounts) == ["telegram", "zalo"]
    [draft] = await live_database.initiatives_of(on_telegram.user_id)
    assert (draft.type_code, draft.current_step) == ("1.6", "field")
    await on_telegram.send("/drafts")
    await on_telegram.expect("Phiếu khảo sát trực tuyến cho đoàn viên")
    await on_zalo.send(f"LIENKET {code}")  # a code works once
    await on_zalo.expect("không đúng hoặc đã hết hạn")


async def test_an_account_registered_on_its_own_is_shown_how_to_link_while_it_has_sent_nothing(
    emulator: TelegramEmulator, zalo_emulator: ZaloEmulator, live_bot: InProcessBot, live_database: Database
) -> None:
    """He registered on Zalo too, past the «LIENKET» hint: the code was refused with «liên hệ quản trị viên»."""
    on_telegram = Person(emulator, "Đinh Văn Hai Lần")
    await register(on_telegram, "MAU002", "Đinh Văn Hai Lần")
    await on_telegram.send("/link")
    code = link_code_of(await on_telegram.expect("Mã liên kết của đồng chí"))
    on_zalo = ZaloPerson(zalo_emulator, "Hai Lần")
    await register(on_zalo, "MAU002", "Đinh Văn Hai Lần")
    await on_zalo.send(f"LIENKET {code}")
    way = await on_zalo.expect("đã đăng ký riêng là Đinh Văn Hai Lần và chưa gửi sáng kiến nào", f"LIENKET {code}")
    await on_zalo.tap("Yêu cầu xoá dữ liệu", way)
    await on_zalo.expect("Xoá dữ liệu cá nhân?", "1. ↩️ Không, giữ lại\n2. 🗑 Xoá dữ liệu của tôi")
    await on_zalo.send("1")  # the «1» typed from habit keeps everything: the erasure is the second choice
    await on_zalo.expect("Dữ liệu của đồng chí được giữ nguyên")
    await on_zalo.send("/dulieu")
    await on_zalo.tap("Yêu cầu xoá dữ liệu", await on_zalo.expect("Dữ liệu bot lưu về đồng chí"))
    await on_zalo.tap("Xoá dữ liệu của tôi", await on_zalo.expect("Xoá dữ liệu cá nhân?"))
    await on_zalo.expect("Đã xoá dữ liệu cá nhân")
    await on_zalo.send(f"LIENKET {code}")
    await on_zalo.expect("Đã nhận mã")
    await on_telegram.tap("Đúng là tôi", await on_telegram.expect("vừa nhập mã liên kết của đồng chí"))
    await on_zalo.expect("Đã liên kết", "Đinh Văn Hai Lần")
    member = await live_database.member_of(on_telegram.user_id)
    async with live_database.sessions() as session:
        accounts = (await session.scalars(select(Identity).where(Identity.member_id == member.id))).all()
    assert sorted(a.platform for a in accounts) == ["telegram", "zalo"]


async def test_a_zalo_member_links_telegram_and_says_yes_with_a_bare_number(
    emulator: TelegramEmulator, zalo_emulator: ZaloEmulator, live_bot: InProcessBot, live_database: Database
) -> None:
    """The owner's question comes to Zalo as a notice; they wait for it, so «1» answers it, not an older list
    (registration's, here), and «1 <code>» as well."""
    on_zalo = ZaloPerson(zalo_emulator, "Chỉ Dùng Zalo")
    await register(on_zalo, "MAU003", "Lê Thị Chỉ Dùng Zalo")
    await on_zalo.send("liên kết")  # the words, as Zalo's menu is typed
    made = await on_zalo.expect("Mã liên kết của đồng chí", "Trên Telegram, nhắn cho bot",
                                "«✅ Đúng là tôi» (trả lời 1)")  # fmt: skip
    code = link_code_of(made)
    on_telegram = Person(emulator, "Chỉ Dùng Zalo")
    await on_telegram.send(f"LIENKET {code}.")  # a full stop typed after the code
    await on_telegram.expect("Đã nhận mã", "mở bot trên Zalo và chọn «✅ Đúng là tôi» trong 10 phút (trả lời 1)")
    await on_zalo.expect("Tài khoản Telegram «Chỉ Dùng Zalo» vừa nhập mã liên kết", "1. ✅ Đúng là tôi")
    await on_zalo.send("1")
    await on_zalo.expect("Đã liên kết tài khoản Telegram «Chỉ Dùng Zalo» với hồ sơ của đồng chí")
    await on_telegram.expect("Đã liên kết", "Lê Thị Chỉ Dùng Zalo")
    member = await live_database.member_of(on_telegram.user_id)
    assert member is not None and member.full_name == "Lê Thị Chỉ Dùng Zalo"


async def test_after_registering_a_bare_number_answers_the_co_author_question_that_arrives(
    emulator: TelegramEmulator, zalo_emulator: ZaloEmulator, live_bot: InProcessBot
) -> None:
    """Found by a phone walk: registration's finished question («1. ✅ Dùng tên…») still counted as the one being
    answered, so «1» typed to the co-author question that arrived was asked «Số 1 có ở hai danh sách», and «1»
    again answered registration's («đã đăng ký rồi»). A step ending at the menu leaves no question behind."""
    named = ZaloPerson(zalo_emulator, "Vi Thị Đồng")
    await register(named, "MAU002", "Vi Thị Đồng")  # its name question listed «1. ✅ Dùng tên: Vi Thị Đồng»
    sender = Person(emulator, "Hà Văn Gửi")
    await register(sender, "MAU002", "Hà Văn Gửi")
    number = await submit_initiative(sender, title="Sổ giao ban điện tử của khoa", coauthors="Vi Thị Đồng 40")
    await named.expect("đồng tác giả (40%)", f"#{number}", "1. ✅ Đúng, tôi là đồng tác giả")
    await named.send("1")
    await named.expect(f"Đã ghi nhận đồng chí là đồng tác giả của sáng kiến #{number}")


async def test_a_bare_number_after_a_send_back_answers_the_notice_when_no_question_waits(
    emulator: TelegramEmulator, zalo_emulator: ZaloEmulator, admin: Person
) -> None:
    """Found by a phone walk: after the forms' offer («1. 📝 Hoàn thiện hồ sơ»), the «Cần bổ sung» notice's «1»
    was asked «Số 1 có ở hai danh sách», and «1» again opened the forms. No question waits: «1» is the notice's."""
    chair = await invite_chair(admin, Person(emulator, "Chủ Tịch Gửi Trả"), "MAU019", "Chủ Tịch Gửi Trả")
    author = ZaloPerson(zalo_emulator, "Ninh Thị Sửa")
    await register(author, "MAU019", "Ninh Thị Sửa")
    number = await submit_initiative(author)
    await author.tap("Dừng", await author.expect("Bot hỏi đồng chí 4 thông tin tác giả"))  # the profile: later
    await author.expect("1. 📝 Hoàn thiện hồ sơ")  # the forms' offer: the latest list, no question waiting
    await chair.tap("Cần bổ sung", await chair.expect(f"Sáng kiến #{number} chờ xác nhận"))
    await chair.tap("Mô tả chưa đủ rõ", await chair.expect(f"Yêu cầu bổ sung sáng kiến #{number}"))
    await author.expect(f"Sáng kiến #{number}", "cần bổ sung", "1. ✏️ Sửa và gửi lại")
    await author.send("1")
    await author.expect(f"Tóm tắt sáng kiến #{number}", "Chủ tịch CĐCS yêu cầu bổ sung")


async def test_a_reason_with_angle_brackets_reaches_the_zalo_chairs_card_whole(
    emulator: TelegramEmulator, zalo_emulator: ZaloEmulator, admin: Person
) -> None:
    """Found by a phone walk: the card's update on Zalo made the reason plain twice, and «<5% so với >10%»
    lost what stood between its «<» and «>», as if it were a tag."""
    chair = await invite_chair(admin, ZaloPerson(zalo_emulator, "Chủ Tịch Dấu Nhọn"), "MAU021", "Chủ Tịch Dấu Nhọn")
    author = Person(emulator, "Đinh Văn Nhọn")
    await register(author, "MAU021", "Đinh Văn Nhọn")
    number = await submit_initiative(author)
    await chair.tap("Cần bổ sung", await chair.expect(f"Sáng kiến #{number} chờ xác nhận"))
    await chair.expect(f"Yêu cầu bổ sung sáng kiến #{number}")
    asked_at = zalo_emulator.seq
    reason = "Ghi rõ tỷ lệ sai sót <5% so với >10% trước đây"
    await chair.send(reason)
    await chair.expect(f"Đã gửi yêu cầu bổ sung sáng kiến #{number}", reason)
    update = await zalo_emulator.wait_for(
        chair.user_id, lambda m: f"#{number}" in m.text and "Đã gửi" not in m.text, after_seq=asked_at, timeout=15
    )
    assert reason in update.text, update.text
    await author.expect(f"Sáng kiến #{number}", "cần bổ sung", reason)


async def test_a_number_beyond_the_list_is_told_its_numbers_and_the_list_still_answers(
    zalo_emulator: ZaloEmulator, live_bot: InProcessBot
) -> None:
    """Found by a phone walk: «12» where the list had eight was taken as typed text («hơi ngắn»), and a number
    beyond a list made it forgotten: the right number typed next answered nothing."""
    member = ZaloPerson(zalo_emulator, "Đỗ Thị Số")
    await register(member, "MAU004", "Đỗ Thị Số")
    await member.send("/new")
    await answer(member, "điều kiện tham gia", tap="Đúng, đủ cả 3")
    await answer(member, "Tên sáng kiến", "Sổ tay điện tử cho tổ bảo trì thiết bị")
    question = await member.expect("thuộc loại nào")
    listed = len(re.findall(r"^\d+\. ", question.text, re.MULTILINE))
    await member.send("42")
    await member.expect("Danh sách gần nhất không có số 42", f"chỉ có số 1–{listed}")
    await member.send("2")
    await member.expect("Lĩnh vực áp dụng")


async def test_a_bare_number_never_decides_a_card_that_came_after_the_list_it_may_be_for(
    emulator: TelegramEmulator, zalo_emulator: ZaloEmulator, admin: Person, live_database: Database
) -> None:
    """A chair reading «📄 Chi tiết» of #A («1. ✅ Xác nhận hồ sơ») when #B's card arrives: his «1» may be for #A,
    so which list is asked, and nothing is verified (a notice's number is taken at once only where it opens
    something, as a send-back's «Sửa và gửi lại»)."""
    chair = await invite_chair(admin, ZaloPerson(zalo_emulator, "Chủ Tịch Hai Thẻ"), "MAU021", "Chủ Tịch Hai Thẻ")
    author = Person(emulator, "Quách Văn Gửi Hai")
    await register(author, "MAU021", "Quách Văn Gửi Hai")
    first = await submit_initiative(author, title="Lịch trực điện tử của khoa Nhi")
    await chair.tap("Chi tiết", await chair.expect(f"Sáng kiến #{first} chờ xác nhận"))
    await chair.expect(f"Chi tiết sáng kiến #{first}", "1. ✅ Xác nhận hồ sơ")
    second = await submit_initiative(author, title="Sổ bàn giao thuốc điện tử")
    await chair.expect(f"Sáng kiến #{second} chờ xác nhận")
    await chair.send("1")
    await chair.expect("Số 1 có ở hai danh sách")
    for number in (first, second):
        assert (await live_database.initiative(number)).status == Status.SUBMITTED


async def test_a_zalo_group_is_linked_by_mention_and_gets_the_digest(
    emulator: TelegramEmulator,
    zalo_emulator: ZaloEmulator,
    admin: Person,
    live_bot: InProcessBot,
    live_database: Database,
) -> None:
    chair = await invite_chair(admin, ZaloPerson(zalo_emulator, "Chủ Tịch Zalo"), "MAU005", "Chủ Tịch Zalo")
    await chair.send("/help")  # how the group hears the bot, before the chair tries it there
    helped = await chair.expect("Chủ tịch CĐCS", "gõ /linkgroup")
    assert "/history SỐ — lịch sử · /docx SỐ — Đơn và Mô tả" in helped.text, "what was decided, found again"
    assert "bot chỉ đọc tin có nhắc tên bot: gõ @, chọn tên bot rồi gõ lệnh, ví dụ «@tên bot /linkgroup»" in helped.text
    assert helped.text.index("«@tên bot /linkgroup»") < helped.text.index("Đoàn viên"), "with the chair's tools"

    group = zalo_emulator.add_group("Nhóm Zalo Trường ĐH Hùng Vương")
    cursor = zalo_emulator.seq
    await zalo_emulator.user_sends(chair.user_id, "Chào cả nhà", chat_id=group)  # no mention: not for the bot
    await zalo_emulator.user_sends(chair.user_id, "@Sáng kiến Bot /linkgroup khong co dau", chat_id=group)
    unknown = await zalo_emulator.wait_for(group, lambda m: "Không có CĐCS mã" in m.text, after_seq=cursor)
    assert "«@tên bot /linkgroup»" in unknown.text, "typed again, it needs the mention: said with the example"
    await zalo_emulator.user_sends(chair.user_id, "@Sáng kiến Bot /linkgroup", chat_id=group)
    linked = await zalo_emulator.wait_for(group, lambda m: "Đã liên kết nhóm" in m.text, after_seq=cursor)
    assert "Hùng Vương" in linked.text and "bot chỉ đọc tin có nhắc tên bot" in linked.text, "how to ask, said"
    await zalo_emulator.user_sends(chair.user_id, "@Sáng kiến Bot cảm ơn nhé", chat_id=group)
    await zalo_emulator.user_sends(chair.user_id, "@Sáng kiến Bot /progress", chat_id=group)
    shown = await zalo_emulator.wait_for(group, lambda m: "Tiến độ Giai đoạn 1" in m.text, after_seq=linked.seq)
    assert len([m for m in zalo_emulator.chat(group) if m.from_bot]) == 3, "chatter, even a mention, gets nothing"
    # Asked in words after the bot's name (found by a phone walk: silence), as the bot hears only mentions there.
    await zalo_emulator.user_sends(chair.user_id, "@Sáng kiến Bot tiến độ", chat_id=group)
    await zalo_emulator.wait_for(group, lambda m: "Tiến độ Giai đoạn 1" in m.text, after_seq=shown.seq)
    await zalo_emulator.user_sends(chair.user_id, "@Sáng kiến Bot tôi muốn nộp sáng kiến", chat_id=group)
    invited = await zalo_emulator.wait_for(group, lambda m: "tin nhắn riêng với bot" in m.text, after_seq=shown.seq)
    assert "/progress xem tiến độ" in invited.text, invited.text

    live_bot.clock.set(local(2022, 4, 25, 8, 0, 30))
    digest = await zalo_emulator.wait_for(group, lambda m: "Bản tin tiến độ hằng tuần" in m.text)
    assert "Hùng Vương" in digest.text and "<b>" not in digest.text and "«@tên bot /progress»" in digest.text
    async with live_database.sessions() as session:
        stored = await session.scalar(select(ChatGroup).where(ChatGroup.chat_id == group))
        sent = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.chat_id == group, OutboxMessage.purpose != reply_journal.PURPOSE)
        )
    assert stored is not None and stored.platform == "zalo" and stored.branch_id is not None and sent == 1
    assert await live_database.initiatives_of(chair.user_id) == []


async def test_what_a_complete_submission_costs_a_member_on_zalo(
    zalo_emulator: ZaloEmulator, live_bot: InProcessBot
) -> None:
    """The same complete submission as on Telegram (see test_wizard_e2e), where every answer is typed."""
    vy = ZaloPerson(zalo_emulator, "Mai Thị Vy")
    await register(vy, "MAU002", "Mai Thị Vy")
    await submit_initiative(vy)
    await vy.tap("Dừng", await vy.expect("Bước 1/4", "Nơi công tác"))
    await vy.expect("mo-ta-sang-kien")
    meter = EffortMeter(vy)
    await fill_up_to_summary(vy)
    summary = await vy.expect("Tóm tắt sáng kiến", "1. 📨 Gửi sáng kiến")
    assert "\n2. " in summary.text and "\n4. " not in summary.text, "the fields are not numbered, only 3 options"
    await vy.send("gửi")  # the option's first word is enough
    number = int((await vy.expect("Đã gửi sáng kiến")).text.split("#", 1)[1].split()[0])
    await vy.expect(f"mo-ta-sang-kien-{number}.docx")
    assert meter.read() == Effort(typed=20, taps=0, bot_messages=23)


async def test_a_photo_over_the_limit_is_refused_and_never_becomes_an_empty_attachment(
    zalo_emulator: ZaloEmulator, live_bot: InProcessBot, live_database: Database
) -> None:
    """Found by an attacker's pass: a photo just over the Zalo channel's own 10 MB passed the wizard's 20 MB
    check with no file id, an attachment nothing could open. Both limits are now the attachment limit."""
    lam = ZaloPerson(zalo_emulator, "Đinh Văn Lâm")
    await register(lam, "MAU002", "Đinh Văn Lâm")
    await fill_up_to_summary(lam)
    await lam.tap("Sửa một mục", await lam.expect("Tóm tắt sáng kiến"))
    await lam.tap("Tệp đính kèm", await lam.expect("Sửa mục nào"))
    await lam.expect("Gửi ảnh minh hoạ", "Zalo chỉ chuyển ảnh tới bot", "mỗi ảnh ≤ 20 MB")
    await lam.send_photo(b"\x89PNG" + b"0" * (20 * 1024 * 1024))
    await lam.expect("Tệp lớn hơn 20 MB")
    big = b"\x89PNG" + bytes(range(256)) * (12 * 1024)  # 3 MB: arrives in many chunks, kept whole
    await lam.send_photo(big)
    await lam.expect("Đã nhận ảnh (3/10)")
    [draft] = await live_database.initiatives_of(lam.user_id)
    assert len(draft.attachments) == 3 and all(a.file_id for a in draft.attachments)
    async with live_database.sessions() as session:
        kept = await session.scalar(select(StoredFile.content).where(StoredFile.token == draft.attachments[-1].file_id))
    assert kept == big


async def test_a_bare_number_both_lists_have_asks_which_one_is_meant(
    emulator: TelegramEmulator, zalo_emulator: ZaloEmulator, admin: Person, live_database: Database
) -> None:
    """A chair picking a reason when another card arrives: «1» is in both lists, so it acts on neither."""
    chair = await invite_chair(admin, ZaloPerson(zalo_emulator, "Chủ Tịch Hai Danh Sách"), "MAU013", "Chủ Tịch Hai")
    author = Person(emulator, "Lò Văn Hai")
    await register(author, "MAU013", "Lò Văn Hai")
    first = await submit_initiative(author)
    await chair.expect(f"Sáng kiến #{first} chờ xác nhận", "3. ❌ Từ chối")
    await chair.send(f"3 {first}")
    reasons = await chair.expect(f"Từ chối sáng kiến #{first}", "1. ")
    reason_one = re.search(r"^1\. (.+)$", reasons.text, re.M)[1]
    second = await submit_initiative(author)
    await chair.expect(f"Sáng kiến #{second} chờ xác nhận")
    await chair.send("1")
    await chair.expect("Số 1 có ở hai danh sách", f"«1 {second}»", f"gõ «1» lần nữa để chọn «{reason_one}»")
    assert {(await live_database.initiative(n)).status for n in (first, second)} == {Status.SUBMITTED}
    await chair.send("1")  # asked again: the question being answered
    await chair.expect(f"Đã từ chối sáng kiến #{first}")
    assert (await live_database.initiative(second)).status == Status.SUBMITTED
    await chair.send("9")  # in neither list: said so, nothing decided
    await chair.expect("Không có danh sách nào đang chờ câu trả lời «9»")
    await chair.send("1 99999")  # a card that is not there (an officer's walk got «Bot chưa hiểu»)
    await chair.expect("Không có danh sách nào đang chờ câu trả lời «1 99999»", "số gõ kèm chưa đúng")

    # The waiting cards shown together: a bare «1» could be any card's, so it asks; «1 <id>» acts on that one.
    third = await submit_initiative(author)
    await chair.expect(f"Sáng kiến #{third} chờ xác nhận")
    await chair.send("chờ xác nhận")
    await chair.expect(f"Sáng kiến #{second} chờ xác nhận")
    await chair.expect(f"Sáng kiến #{third} chờ xác nhận")
    await chair.send("xac nhan ho so")  # an option's words, in both cards: which card (it was «chưa hiểu»)
    await chair.expect("đang xem nhiều sáng kiến", f"«1 {second}» cho #{second}", f"«1 {third}» cho #{third}")
    await chair.send("1")
    await chair.expect("đang xem nhiều sáng kiến", f"«1 {second}» cho #{second}", f"«1 {third}» cho #{third}")
    assert {(await live_database.initiative(n)).status for n in (second, third)} == {Status.SUBMITTED}
    await chair.send(f"1 {second}")
    await chair.expect(f"Đã xác nhận hồ sơ sáng kiến #{second}")
    assert (await live_database.initiative(third)).status == Status.SUBMITTED
    async with live_database.sessions() as session:  # its card, shown twice (notice, /pending), told once
        told = await session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.initiative_id == second, OutboxMessage.purpose == "review_edit"))  # fmt: skip
    assert told == 1

    # Another command leaves the reason's question: its list no longer takes a bare «1» (it rejected #third).
    await chair.send(f"3 {third}")
    await chair.expect(f"Từ chối sáng kiến #{third}", "1. ")
    await chair.send("/export")
    await chair.expect("Excel")
    await chair.send("1")
    await chair.expect("Danh sách mới nhất không có số 1", f"«1 {third}»")  # told how to answer the card
    assert (await live_database.initiative(third)).status == Status.SUBMITTED

    # An option's words under a notice, once no question is pending: that option (it was «Bot chưa hiểu»).
    zalo_author = ZaloPerson(zalo_emulator, "Lò Thị Zalo")
    await register(zalo_author, "MAU013", "Lò Thị Zalo")
    fourth = await submit_initiative(zalo_author)
    await answer(zalo_author, "Nơi công tác", "dừng")  # the author profile, asked after the first submission
    await zalo_author.expect("Hồ sơ tác giả của đồng chí còn trống")
    await chair.expect(f"Sáng kiến #{fourth} chờ xác nhận")
    await chair.send(f"2 {fourth}")
    await chair.expect(f"Yêu cầu bổ sung sáng kiến #{fourth}")
    await chair.send("1")
    await chair.expect(f"Đã gửi yêu cầu bổ sung sáng kiến #{fourth}")
    await zalo_author.expect(f"#{fourth}", "Sửa và gửi lại")
    await zalo_author.send("sua va gui lai")
    await zalo_author.expect("Tóm tắt sáng kiến")


async def test_a_file_sent_on_zalo_at_the_files_step_is_told_what_zalo_carries(
    zalo_emulator: ZaloEmulator, live_bot: InProcessBot
) -> None:
    tep = ZaloPerson(zalo_emulator, "Hà Thị Tệp")
    await register(tep, "MAU002", "Hà Thị Tệp")
    await fill_up_to_summary(tep, files=False)
    await tep.send_unsupported()  # a PDF: Zalo gives the bot no file
    await tep.expect("Zalo chưa chuyển tệp", "chụp ảnh tài liệu", "/link", "Gửi ảnh minh hoạ")


async def test_on_zalo_an_english_reader_gets_the_hints_in_english(
    emulator: TelegramEmulator, zalo_emulator: ZaloEmulator, admin: Person
) -> None:
    """What Zalo adds to a message (how to answer, the menu in words) is in the message's language, a notice's
    too: «👉 Trả lời bằng số» ended every English prompt."""
    chair = await invite_chair(admin, ZaloPerson(zalo_emulator, "Grace Zalo"), "MAU015", "Nguyễn Grace Zalo")
    await chair.send("/lang en")
    await chair.expect("English selected", "☰ Type an item: To verify (0) · ")  # the count as the menu shows it
    author = Person(emulator, "Lò Thị Gạo")
    await register(author, "MAU015", "Lò Thị Gạo")
    number = await submit_initiative(author)
    card = await chair.expect(f"Initiative #{number}: dossier to verify", f"👉 Answer «1 {number}»")
    assert "Trả lời" not in card.text and "👉" in card.text, card.text


async def test_on_zalo_the_units_are_listed_by_their_whole_names(
    zalo_emulator: ZaloEmulator, live_bot: InProcessBot, live_database: Database
) -> None:
    """A button on a phone is cut to the width of the chat (Telegram's shows «[MẪU] Bệnh viện Đa… – cơ sở 2");
    a numbered list wraps, so Zalo names every unit whole."""
    dung = ZaloPerson(zalo_emulator, "Lưu Thị Dung")
    await dung.send("xin chào")
    await dung.expect("Chọn công đoàn cơ sở")
    await dung.send("benh vien da khoa")
    found = await dung.expect("Tìm «benh vien da khoa»", "2. [MẪU] Bệnh viện Đa khoa tỉnh – cơ sở 2\n")
    assert "…" not in found.plain_text, found.plain_text
    await dung.send("2")
    await dung.expect("CĐCS: [MẪU] Bệnh viện Đa khoa tỉnh – cơ sở 2", "Nhập họ và tên")


async def test_greetings_thanks_and_menu_typed_are_answered_not_searched_or_misunderstood(
    zalo_emulator: ZaloEmulator, live_bot: InProcessBot
) -> None:
    """Found by a phone walk: a second «xin chào» was searched as a unit's name («Không có CĐCS nào khớp»), and
    «cảm ơn», «menu» after registering got «Bot chưa hiểu»."""
    chao = ZaloPerson(zalo_emulator, "Đàm Thị Chào")
    await chao.send("xin chào")
    await chao.expect("Chọn công đoàn cơ sở")
    await chao.send("Xin chào!")
    await chao.expect("Để bắt đầu, đồng chí cho bot biết mình thuộc công đoàn cơ sở nào")
    await chao.expect("Chọn công đoàn cơ sở (CĐCS) của đồng chí")  # the list again
    assert "Không có CĐCS nào khớp" not in " ".join(chao.bot_texts()), "a greeting is no unit's name"
    await chao.send("MAU002")
    await chao.tap("Bệnh viện Đa khoa tỉnh", await chao.expect("Tìm «MAU002»"))
    # (by webhook, two messages sent at once may arrive in either order: she reads the question first)
    await chao.expect("CĐCS: [MẪU] Bệnh viện Đa khoa tỉnh", "Nhập họ và tên")
    await chao.send("chào bạn")  # nor a person's
    await chao.expect("Chào đồng chí! Đồng chí nhập họ và tên đầy đủ của mình")
    await chao.send("Đàm Thị Chào")
    await chao.expect("Đăng ký xong")
    await chao.send("cam on")
    await chao.expect("Cảm ơn đồng chí!", "☰ Gõ một mục")
    await chao.send("chào bot")
    await chao.expect("Chào đồng chí Đàm Thị Chào!")
    await chao.send("menu")
    await chao.expect("Menu của đồng chí", "☰ Gõ một mục: Sáng kiến mới")
    await chao.send("help")  # commands typed without their «/», as an officer's walk did
    told = await chao.expect("Hướng dẫn", "/dulieu")
    assert "chưa hiểu" not in told.text, told.text
    await chao.send("cong nhan")
    await chao.expect("Không có sáng kiến nào đang chờ đồng chí ghi quyết định công nhận")


async def test_on_zalo_the_details_number_only_what_a_number_answers(
    emulator: TelegramEmulator, zalo_emulator: ZaloEmulator, admin: Person
) -> None:
    """«📄 Chi tiết» numbered its fields «1. Tên sáng kiến…» above the options «1. ✅ Xác nhận hồ sơ»: on Zalo, where
    «1 N» answers an option, two lists of numbers in one message."""
    chair = await invite_chair(admin, ZaloPerson(zalo_emulator, "Phan Chi Tiết"), "MAU017", "Phan Văn Chi Tiết")
    author = Person(emulator, "Lò Văn Khải")
    await register(author, "MAU017", "Lò Văn Khải")
    number = await submit_initiative(author)
    await chair.tap("Chi tiết", await chair.expect(f"Sáng kiến #{number} chờ xác nhận"))
    details = await chair.expect(f"Chi tiết sáng kiến #{number}", "Tên sáng kiến:")
    numbered = [line for line in details.text.splitlines() if line[:1].isdigit() and ". " in line[:4]]
    assert numbered == ["1. ✅ Xác nhận hồ sơ", "2. ✏️ Cần bổ sung", "3. ❌ Từ chối"], details.text
    # the author's files went through Telegram: Zalo cannot carry them, and the page shows them
    assert (
        "Tệp bao-cao.pdf, Ảnh 1 được gửi qua kênh khác, bot không chuyển sang Zalo được. Đồng chí xem các tệp ấy "
        "trên trang xác nhận" in details.text
    ), details.text
    await chair.send("5")  # the card's «📝 Đơn & Mô tả», typed after the details' own list of three
    await chair.expect("Danh sách mới nhất không có số 5", f"gõ «5 {number}»")
    await chair.send(f"5 {number}")
    await chair.expect(f"don-yeu-cau-cong-nhan-sang-kien-{number}.docx")
    await chair.send("/hoso")
    await chair.tap("Sửa hồ sơ", await chair.expect("Hồ sơ tác giả"))
    await chair.expect("Bước 1/5", "Họ và tên")
    await chair.send("giữ nguyên")  # the name kept, with the button's words
    await chair.expect("Bước 2/5")
    await chair.send("5")  # typed to a question answered in words: the step's answer, not a hint about the card
    await chair.expect("Câu trả lời hơi ngắn (1 ký tự)")
