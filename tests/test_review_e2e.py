"""Branch chairs review from their phone: several people through the real bot and the emulator."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
import re

import pytest
import pytest_asyncio
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from bot.sandbox.telegram_emulator import TelegramEmulator
from handlers.events import ROW_CHARS
from storage.models import Author, Branch, Initiative, Member, MemberRole, OutboxStatus, Role, Status
from tests import launcher
from tests.harness import (
    ADMIN_ID,
    ROOT,
    TOKEN,
    BotProcess,
    Database,
    Person,
    answer,
    eventually,
    invite_chair,
    register,
    submit_initiative,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


class Cast:
    """The people of this module: an admin, two chairs of MAU002, a chair of MAU003, an outsider."""

    def __init__(self, admin: Person, chair_one: Person, chair_two: Person, other_chair: Person, outsider: Person):
        self.admin, self.chair_one, self.chair_two = admin, chair_one, chair_two
        self.other_chair, self.outsider = other_chair, outsider


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cast(emulator: TelegramEmulator, bot_under_test: BotProcess) -> Cast:
    admin = Person(emulator, "Quản Trị Tỉnh", user_id=ADMIN_ID)
    await register(admin, "MAU001", "Quản Trị Tỉnh")
    chair_one = await invite_chair(admin, Person(emulator, "Chu Tịch Một"), "MAU002", "Chu Tịch Một")
    chair_two = await invite_chair(admin, Person(emulator, "Phó Chủ Tịch Hai"), "MAU002", "Phó Chủ Tịch Hai")
    other_chair = await invite_chair(admin, Person(emulator, "Chủ Tịch Khác"), "MAU003", "Chủ Tịch Khác")
    outsider = Person(emulator, "Người Ngoài Cuộc")
    await register(outsider, "MAU002", "Người Ngoài Cuộc")
    return Cast(admin, chair_one, chair_two, other_chair, outsider)


def card_of(chair: Person, initiative_id: int):
    for message in reversed(chair.emulator.chat(chair.user_id)):
        if message.from_bot and f"Sáng kiến #{initiative_id} chờ xác nhận" in message.plain_text:
            return message
    raise AssertionError(f"chair {chair.user_id} has no card for #{initiative_id}")


async def test_approve_in_one_tap_tells_the_member_and_updates_every_chair(
    emulator: TelegramEmulator, cast: Cast, database: Database
) -> None:
    hoa = Person(emulator, "Nguyễn Thị Hoa")
    await register(hoa)
    number = await submit_initiative(hoa)

    cards = [await chair.expect(f"Sáng kiến #{number} chờ xác nhận", "Nguyễn Thị Hoa", "Tệp đính kèm: 2")
             for chair in (cast.chair_one, cast.chair_two)]  # fmt: skip
    for card in cards:
        assert [b["text"] for b in card.buttons()] == [
            "✅ Xác nhận hồ sơ", "✏️ Cần bổ sung", "❌ Từ chối", "📄 Chi tiết", "📝 Đơn & Mô tả"
        ]  # fmt: skip
        paired = [b["text"] for row in card.reply_markup["inline_keyboard"] if len(row) == 2 for b in row]
        assert paired and all(len(label) <= ROW_CHARS // 2 for label in paired), paired  # none cut on a phone
    await cast.other_chair.settle()
    assert not any(f"#{number} chờ xác nhận" in text for text in cast.other_chair.bot_texts())
    stale_approve = cards[1].button("Xác nhận hồ sơ")["callback_data"]

    await cast.chair_one.tap("Xác nhận hồ sơ", cards[0])
    await cast.chair_one.expect(f"Đã xác nhận hồ sơ sáng kiến #{number}", "được tính vào chỉ tiêu")
    await hoa.expect(f"Sáng kiến #{number}", "xác nhận (Chu Tịch Một", "được tính vào chỉ tiêu", "congdoanvietnam.org")
    updated = await cast.chair_two.expect(f"Sáng kiến #{number}: hồ sơ đã được xác nhận bởi Chu Tịch Một lúc",
                                          edited=True)  # fmt: skip
    assert updated.message_id == cards[1].message_id and not updated.buttons()
    assert "chờ xác nhận" not in updated.plain_text, "the card's header says the outcome"

    await emulator.user_presses(cast.chair_two.user_id, updated, stale_approve)
    await cast.chair_two.expect(
        f"Sáng kiến #{number} đã được công nhận (Hội đồng sáng kiến, QĐ", "hồ sơ do Chu Tịch Một xác nhận lúc"
    )  # the council recognised it, not the chair

    await cast.chair_one.send("/sangkien")  # decided, it left «Chờ xác nhận»: found again here
    listed = await cast.chair_one.expect("Sáng kiến đã gửi tới CĐCS của đồng chí", f"#{number} ", "✅ Đã công nhận",
                                         "/history SỐ")  # fmt: skip
    assert listed.plain_text.index(f"#{number} ") < listed.plain_text.index("/history SỐ")
    assert "· MAU002" in listed.plain_text, "the unit it was sent to, by its code"
    await cast.other_chair.send("/sangkien")  # another unit's chair: not his unit's
    assert f"#{number} " not in (await cast.other_chair.expect("📚")).plain_text
    await cast.outsider.send("/sangkien")
    await cast.outsider.expect("không có quyền dùng chức năng này", "dành cho chủ tịch CĐCS")

    stored = await database.initiative(number)
    assert stored.status == Status.RECOGNISED and stored.decided_by.full_name == "Chu Tịch Một"
    assert stored.decided_at is not None
    assert [a for a in await database.audit_actions(number) if a[0] == "decided"] == [("decided", "recognised")]

    await hoa.send(f"/history {number}")
    await hoa.expect("Lịch sử sáng kiến", "gửi xác nhận", "Chờ xác nhận → ✅ Đã công nhận", "Chu Tịch Một")
    await hoa.send("/mine")
    mine = await hoa.expect("Đã công nhận")
    await hoa.tap(f"🕘 Lịch sử #{number}", mine)  # found without the command
    trail = await hoa.expect("Lịch sử sáng kiến", "Chờ xác nhận → ✅ Đã công nhận")
    [listed] = [m for m in emulator.chat(hoa.user_id) if m.message_id == mine.message_id]
    assert listed.buttons() == mine.buttons(), "the list keeps its buttons: the dossier's is one tap away still"
    assert "∅" not in trail.plain_text and ": 📝 Nháp" in trail.plain_text, "the first status alone, no «∅ →»"

    # The chair's menu button, with how many wait, tapped (Telegram sends its label as shown).
    waiting_one = await submit_initiative(hoa)
    await cast.chair_two.expect(f"Sáng kiến #{waiting_one} chờ xác nhận")
    waiting = await cast.chair_two.menu_label("📥")
    assert waiting.startswith("📥 Chờ xác nhận (") and "(0)" not in waiting, waiting
    await cast.chair_two.send(waiting)
    await cast.chair_two.expect("sáng kiến chờ xác nhận, cũ nhất trước")
    await cast.chair_two.expect(f"Sáng kiến #{waiting_one} chờ xác nhận")


async def test_the_same_initiative_sent_twice_is_flagged_on_the_chairs_card(
    emulator: TelegramEmulator, cast: Cast, database: Database
) -> None:
    """Sent again (or by another of its authors): the chair's card names the earlier one, when the title and
    the authors' names are the same (accents and case aside); other authors under the same title are not.
    Many earlier copies: the card names the first five and counts the rest."""
    lan = Person(emulator, "Phạm Thị Lan")
    await register(lan, "MAU002", "Phạm Thị Lan")
    title = "Bảng theo dõi vật tư tiêu hao theo từng khoa phòng"
    first = await submit_initiative(lan, title=title, coauthors="Trần Văn Bình 30")
    card = await cast.chair_one.expect(f"Sáng kiến #{first} chờ xác nhận")
    assert "Có thể trùng" not in card.plain_text, card.plain_text
    again = await submit_initiative(lan, title=title.upper(), coauthors="tran van binh 30")
    await cast.chair_one.expect(f"Sáng kiến #{again} chờ xác nhận", f"⚠️ Có thể trùng với sáng kiến #{first} (cùng tên")
    summaries = {number: [t for t in lan.bot_texts() if t.startswith(f"🧾 Tóm tắt sáng kiến #{number}")]
                 for number in (first, again)}  # fmt: skip
    assert "cùng tác giả đã được gửi" not in summaries[first][-1]
    assert f"⚠️ Sáng kiến cùng tên, cùng tác giả đã được gửi trước đó (#{first})" in summaries[again][-1], "told too"
    copies = [await database.copy_initiative(first, status=Status.VERIFIED) for _ in range(4)]
    try:
        many = await submit_initiative(lan, title=title, coauthors="Trần Văn Bình 30")
        named = ", ".join(f"#{number}" for number in (first, again, *copies[:3]))
        flagged = f"trùng với sáng kiến {named} và 1 sáng kiến khác ("
        await cast.chair_one.expect(f"Sáng kiến #{many} chờ xác nhận", flagged)
    finally:  # the copies would top the chairs' lists of what waits for recognition in later tests
        async with database.sessions() as session, session.begin():
            await session.execute(delete(Initiative).where(Initiative.id.in_(copies)))
    others = await submit_initiative(lan, title=title, coauthors="Lê Văn Cường 30")
    card = await cast.chair_one.expect(f"Sáng kiến #{others} chờ xác nhận")
    assert "Có thể trùng" not in card.plain_text, "other authors under the same title are another initiative"
    assert "cùng tác giả đã được gửi" not in [t for t in lan.bot_texts() if f"Tóm tắt sáng kiến #{others}" in t][-1]


async def sent_naming(emulator: TelegramEmulator, sender_name: str, named_name: str, share: int,
                      title: str) -> tuple[Person, Person, int]:  # fmt: skip
    """A member of MAU002 sends an initiative naming another, registered there, as co-author with `share`%."""
    sender, named = Person(emulator, sender_name), Person(emulator, named_name)
    await register(sender, "MAU002", sender_name)
    await register(named, "MAU002", named_name)
    return sender, named, await submit_initiative(sender, title=title, coauthors=f"{named_name} {share}")


async def test_a_co_author_who_says_not_me_is_marked_on_the_card_and_the_chairs_are_told(
    emulator: TelegramEmulator, cast: Cast
) -> None:
    """Found by a phone walk: the sender was told to correct the list, which a sent initiative cannot be, and
    the chairs verified it unaware, the name that denied it credited. Now the card marks it, the chairs are
    told while it waits, and the sender is told how it is corrected (a send-back)."""
    sender, named, number = await sent_naming(emulator, "Phan Thị Gửi", "Lò Văn Khước", 60,
                                              "Phiếu giao ca điện tử cho tổ điều dưỡng")  # fmt: skip
    await named.tap("Không phải tôi", await named.expect("đồng tác giả (60%)", f"sáng kiến #{number}"))
    await named.expect(f"Đã bỏ liên kết đồng chí khỏi sáng kiến #{number}")
    told = await sender.expect("Lò Văn Khước cho biết mình không phải đồng tác giả", f"#{number}")
    assert "kèm ghi chú «không nhận»" in told.plain_text and "chủ tịch sẽ gửi trả («✏️ Cần bổ sung»)" in told.plain_text
    for chair in (cast.chair_one, cast.chair_two):
        await chair.expect(f"⚠️ Sáng kiến #{number}", "đang chờ xác nhận: đồng chí Lò Văn Khước cho biết mình không "
                           "phải đồng tác giả (được ghi 60%)", "chọn «✏️ Cần bổ sung» trên thẻ")  # fmt: skip
    card = [m for m in emulator.chat(cast.chair_one.user_id) if f"Sáng kiến #{number} chờ xác nhận" in m.plain_text]
    await cast.chair_one.tap("Chi tiết", card[-1])
    await cast.chair_one.expect("Lò Văn Khước (60%, ❌ không nhận là tác giả)")


async def test_a_co_author_is_told_of_a_send_back_and_who_mends_it_without_a_button_that_refuses_him(
    emulator: TelegramEmulator, cast: Cast
) -> None:
    """Found by a phone walk: a confirmed co-author got the sender's notice, «✏️ Sửa và gửi lại» included; the
    draft is not his, and the button said «Bản nháp này không còn», which was not true."""
    sender, named, number = await sent_naming(emulator, "Đỗ Thị Gửi Lại", "Mạc Văn Cùng", 30,
                                              "Bảng phân công trực Tết trên điện thoại")  # fmt: skip
    recorded = [m.plain_text for m in emulator.chat(sender.user_id) if "Đã ghi tác giả" in m.plain_text]
    assert (
        "Mạc Văn Cùng ✔ (30%)" in recorded[-1]
        and "✔ người đã đăng ký trên bot: bot hỏi người ấy xác nhận" in (recorded[-1])
    ), "the mark explained"
    await named.tap("Đúng, tôi là đồng tác giả", await named.expect("đồng tác giả (30%)", f"#{number}"))
    await named.expect(f"Đã ghi nhận đồng chí là đồng tác giả của sáng kiến #{number}")
    card = await cast.chair_one.expect(f"Sáng kiến #{number} chờ xác nhận")
    await cast.chair_one.tap("Cần bổ sung", card)
    await cast.chair_one.tap("Mô tả chưa đủ rõ", await cast.chair_one.expect(f"Yêu cầu bổ sung sáng kiến #{number}"))
    notice = await sender.expect(f"Sáng kiến #{number}", "cần bổ sung", "Sửa rồi gửi lại")
    assert [b["text"] for b in notice.buttons()] == ["✏️ Sửa và gửi lại"]
    told = await named.expect(f"#{number}", "có tên đồng chí là đồng tác giả, cần bổ sung", "Mô tả giải pháp chưa đủ",
                              "Đồng chí Đỗ Thị Gửi Lại, người gửi sáng kiến, sẽ sửa và gửi lại")  # fmt: skip
    assert told.buttons() == [], "the draft is the sender's"
    await emulator.user_presses(named.user_id, told, f"d:r:{number}")  # an older notice's button
    await named.expect(f"Sáng kiến #{number} do đồng chí Đỗ Thị Gửi Lại gửi: người gửi sửa và gửi lại")


async def test_a_co_author_registered_without_accents_is_recorded_with_the_accents_typed(
    emulator: TelegramEmulator, cast: Cast, database: Database
) -> None:
    """Found by a phone walk: «Trần Thị Bình 20%» typed was recorded «Tran Thi Binh ✔», the name she kept at
    registration without accents, and printed so on the forms."""
    named = Person(emulator, "Tang Thi Dau")
    await named.send("/start b_MAU002")
    await named.expect("Nhập họ và tên")
    await named.send("tang thi dau")
    await named.tap("Giữ nguyên", await named.expect("chưa có dấu"))
    await named.expect("Đăng ký xong", "Tang Thi Dau")
    sender = Person(emulator, "Hồ Văn Ghi")
    await register(sender, "MAU002", "Hồ Văn Ghi")
    number = await submit_initiative(sender, title="Sổ theo dõi vật tư tiêu hao điện tử", coauthors="Tăng Thị Dậu 20")
    authors = (await database.initiative(number)).authors
    assert [(a.full_name, a.member_id is not None) for a in authors][1:] == [("Tăng Thị Dậu", True)]
    await named.tap("Đúng, tôi là đồng tác giả", await named.expect("đồng tác giả (20%)", f"#{number}"))
    await named.expect(f"Đã ghi nhận đồng chí là đồng tác giả của sáng kiến #{number}")  # her profile copied on
    assert (await database.initiative(number)).authors[1].full_name == "Tăng Thị Dậu", "the accents stay"


async def test_request_changes_then_resubmit_then_reject_with_reasons_verbatim(
    emulator: TelegramEmulator, cast: Cast, database: Database
) -> None:
    lan = Person(emulator, "Đỗ Thị Lan")
    await register(lan, name="Đỗ Thị Lan")
    number = await submit_initiative(lan)
    card = await cast.chair_two.expect(f"Sáng kiến #{number} chờ xác nhận")
    await cast.chair_one.expect(f"Sáng kiến #{number} chờ xác nhận")

    await cast.chair_two.tap("Cần bổ sung", card)
    reasons = await cast.chair_two.expect(f"Yêu cầu bổ sung sáng kiến #{number}", "Chọn lý do")
    labels = [b["text"] for b in reasons.buttons()]
    assert "Mô tả chưa đủ rõ" in labels and "Trùng lặp sáng kiến đã có" not in labels, "what the author can mend"
    assert all(len(label) <= ROW_CHARS for label in labels), f"a phone cuts a longer button: {labels}"
    await cast.chair_two.send("ab")
    await cast.chair_two.expect("hơi ngắn")
    reason = "Cần ghi rõ số liệu trước & sau <khi> áp dụng"
    await cast.chair_two.send(reason)
    await cast.chair_two.expect(f"Đã gửi yêu cầu bổ sung sáng kiến #{number}", f"Lý do: «{reason}»")  # what went
    await cast.chair_two.tap("Mô tả chưa đủ rõ", reasons)  # the picker's, after the typed reason went
    await cast.chair_two.expect(f"Sáng kiến #{number} đã được xử lý")
    await cast.chair_two.settle()
    assert "Mô tả chưa đủ rõ" not in reasons.plain_text, "an old press is not shown as the reason sent"

    notice = await lan.expect(f"Sáng kiến #{number}", "cần bổ sung", f"Lý do: «{reason}»")
    assert (await database.initiative(number)).status == Status.CHANGES_REQUESTED
    await lan.send("/drafts")  # sent back: a draft again, marked, with why, and not deletable
    drafts = await lan.expect("Bản nháp của đồng chí", f"#{number}", f"Cần bổ sung: «{reason}»")
    assert [b["text"] for b in drafts.buttons()] == [f"✏️ Sửa và gửi lại #{number}"]
    await lan.send("/mine")  # and still among what she sent
    mine = await lan.expect("Sáng kiến đã gửi", f"#{number}", "✏️ Cần bổ sung", f"Lý do: «{reason}»")
    assert mine.plain_text.count("Cần bổ sung") == 1, "the status once, then the reason"
    rows = [[b["text"] for b in row] for row in mine.reply_markup["inline_keyboard"]]
    assert rows[:2] == [[f"✏️ Sửa và gửi lại #{number}"], [f"🕘 Lịch sử #{number}"]]  # too long to share a row
    await emulator.user_presses(lan.user_id, drafts, f"d:del:{number}")  # an old delete button: told the truth
    await lan.expect(f"Sáng kiến #{number} đã gửi và được trả lại để bổ sung, nên không xoá được")
    assert (await database.initiative(number)).status == Status.CHANGES_REQUESTED
    await lan.tap("Sửa và gửi lại", notice)
    summary = await lan.expect("Tóm tắt sáng kiến", f"Chủ tịch CĐCS yêu cầu bổ sung: «{reason}»")  # in sight
    await lan.tap("Sửa một mục", summary)
    await lan.tap("✏️ Lợi ích kinh tế", await lan.expect("Sửa mục nào", edited=True))
    await lan.expect("Lợi ích kinh tế", "Đang lưu", edited=True)
    await lan.send("Giảm 30% thời gian xử lý: từ 20 phút xuống 14 phút mỗi hồ sơ.")
    summary = await lan.expect("Tóm tắt sáng kiến", "từ 20 phút xuống 14 phút")
    await lan.tap("Gửi lại sáng kiến", summary)
    await lan.expect(f"Đã gửi lại sáng kiến #{number}")

    again = await cast.chair_one.expect(f"Sáng kiến #{number} chờ xác nhận", "Đã sửa: Lợi ích kinh tế")
    assert again.text.splitlines()[1].startswith("✏️ Gửi lại sau khi bổ sung"), "said under the title, not last"
    await cast.chair_one.tap("Từ chối", again)
    await cast.chair_one.expect(f"Từ chối sáng kiến #{number}")
    await cast.chair_one.send("khong")  # "no": he changed his mind, it is not the author's reason
    undecided = await cast.chair_one.expect(f"Chưa quyết định gì với sáng kiến #{number}")
    assert (await database.initiative(number)).status == Status.SUBMITTED
    await cast.chair_one.tap("Từ chối", undecided)  # the card's buttons were marked pressed: here they are again
    reasons = await cast.chair_one.expect(f"Từ chối sáng kiến #{number}")
    refusals = [b["text"] for b in reasons.buttons()]
    assert "Mô tả chưa đủ rõ" not in refusals, "a reason to refuse, not to mend"
    assert "Chưa có văn bản công nhận" not in refusals, "a verified initiative waits for its decision"
    await cast.chair_one.send("/help")  # another command, the help too, leaves the reason's question: said so
    await cast.chair_one.expect(f"Chưa quyết định gì với sáng kiến #{number}")
    await cast.chair_one.expect("Hướng dẫn")
    await cast.chair_one.send("Xem lại sau")  # words typed later are not the author's reason
    await cast.chair_one.expect("chưa hiểu")
    assert (await database.initiative(number)).status == Status.SUBMITTED
    await cast.chair_one.tap("Trùng lặp", reasons)  # its buttons still work
    done = await cast.chair_one.expect(f"Đã từ chối sáng kiến #{number}", "Lý do: «Trùng lặp với sáng kiến đã có»")
    await lan.expect(f"Sáng kiến #{number}", "không được xác nhận", "Lý do: «Trùng lặp với sáng kiến đã có»",
                     "Nếu chưa đồng ý, đồng chí trao đổi với")  # fmt: skip
    menu = done.menu()
    assert menu and menu[0] == await cast.chair_one.menu_label("📥"), "the decision brings the menu, counted anew"
    outcome = (f"Sáng kiến #{number}: đã từ chối", "Lý do: «Trùng lặp với sáng kiến đã có»")
    for chair in (cast.chair_one, cast.chair_two):  # the cards say why, the deciding chair's own too
        await emulator.wait_for(chair.user_id, lambda m: m.edited and all(f in m.plain_text for f in outcome))

    stored = await database.initiative(number)
    assert (stored.status, stored.decision_reason) == (Status.REJECTED, "Trùng lặp với sáng kiến đã có")
    decided = [a for a in await database.audit_actions(number) if a[0] in ("decided", "submitted")]
    assert decided == [("submitted", "submitted"), ("decided", "changes_requested"), ("submitted", "submitted"),
                       ("decided", "rejected")]  # fmt: skip


async def test_a_resubmission_in_another_language_with_nothing_changed_says_so(
    emulator: TelegramEmulator, cast: Cast, database: Database
) -> None:
    """What changed is compared as the records word it: the answers read in English and then in Vietnamese
    are the same answers (every field was once reported changed)."""
    quang = Person(emulator, "Vũ Minh Quang")
    await register(quang, name="Vũ Minh Quang")
    number = await submit_initiative(quang)
    await cast.chair_two.tap("Cần bổ sung", await cast.chair_two.expect(f"Sáng kiến #{number} chờ xác nhận"))
    await cast.chair_two.tap("Mô tả chưa đủ rõ", await cast.chair_two.expect(f"Yêu cầu bổ sung sáng kiến #{number}"))
    notice = await quang.expect(f"Sáng kiến #{number}", "cần bổ sung")
    await quang.send("/lang en")
    await quang.expect("English selected")
    await quang.tap("Sửa và gửi lại", notice)
    summary = await quang.expect(f"Initiative #{number} summary", "Nothing is changed since you last sent it")
    labels = [b["text"] for b in summary.buttons()]
    assert labels[:2] == ["✏️ Edit an item", "📨 Send again unchanged"], "mending first: Zalo's «1» resent it"
    await quang.tap("Send again", summary)
    await quang.expect(f"Initiative #{number}", "was sent again", "unchanged: the chair's card says so")
    card = await cast.chair_one.expect(f"Sáng kiến #{number} chờ xác nhận", "Gửi lại sau khi bổ sung")
    assert "không sửa mục nào" in card.plain_text and "Đã sửa" not in card.plain_text, card.plain_text
    await cast.chair_one.send("/pending")  # the queue's card of it says so too, not the notice alone
    await cast.chair_one.expect(f"Sáng kiến #{number} chờ xác nhận", "Gửi lại sau khi bổ sung, không sửa mục nào")


async def test_details_resend_the_full_text_and_the_attachments(
    emulator: TelegramEmulator, cast: Cast, database: Database
) -> None:
    minh = Person(emulator, "Lê Quang Minh")
    await register(minh, name="Lê Quang Minh")
    number = await submit_initiative(minh)
    card = await cast.chair_one.expect(f"Sáng kiến #{number} chờ xác nhận")
    await cast.chair_one.tap("Chi tiết", card)
    details = await cast.chair_one.expect(f"Chi tiết sáng kiến #{number}", "Điểm mới: tra cứu tức thì, không nhập lại.")
    assert [b["text"] for b in details.buttons()] == ["✅ Xác nhận hồ sơ", "✏️ Cần bổ sung", "❌ Từ chối"]
    document = await cast.chair_one.expect("bao-cao.pdf")
    assert document.document is not None
    photo = await cast.chair_one.expect("Ảnh")
    assert photo.photo
    kept = next(m for m in emulator.chat(cast.chair_one.user_id) if m.message_id == card.message_id)
    assert kept.button("Xác nhận hồ sơ"), "the card keeps its decision buttons after Details"
    await cast.chair_one.tap("Xác nhận hồ sơ", details)
    await cast.chair_one.expect(f"Đã xác nhận hồ sơ sáng kiến #{number}")


async def test_who_is_not_allowed_is_refused_politely_and_nothing_changes(
    emulator: TelegramEmulator, cast: Cast, database: Database
) -> None:
    tu = Person(emulator, "Vương Văn Tú")
    await register(tu, name="Vương Văn Tú")
    number = await submit_initiative(tu)
    await cast.chair_one.expect(f"Sáng kiến #{number} chờ xác nhận")

    for person in (cast.outsider, cast.other_chair, tu):
        anchor = await _anchor(person)
        for action in ("a", "c", "r", "d"):
            await emulator.user_presses(person.user_id, anchor, f"rv:{number}:{action}")
        await emulator.user_presses(person.user_id, anchor, f"rr:{number}:r:0")
        for _ in range(5):
            await person.expect("Đồng chí không có quyền")
        await person.settle()
    await cast.outsider.send("/pending")
    await cast.outsider.expect("Đồng chí không có quyền")
    await cast.outsider.send("/invite_chair MAU002")
    await cast.outsider.expect("Đồng chí không có quyền")
    await cast.chair_one.send("/invite_chair")  # a CĐCS chair: not the usage, then a refusal, but who does invite
    await cast.chair_one.expect("Chủ tịch CĐCS được quản trị viên hoặc cán bộ đơn vị cấp trên mời")
    await cast.other_chair.send(f"/history {number}")
    await cast.other_chair.expect("Đồng chí không có quyền")

    stored = await database.initiative(number)
    assert stored.status == Status.SUBMITTED and stored.decided_at is None
    refusals = sum(action == "refused" for action, _ in await database.audit_actions(number))
    assert refusals == 16, "3 people × 5 presses, and /history, each refused and audited once"
    await tu.send(f"/history {number}")  # the author does not read others' refused presses as his refusal
    trail = await tu.expect("Lịch sử sáng kiến")
    assert "bị từ chối" not in trail.plain_text, trail.plain_text
    await cast.chair_one.send(f"/history {number}")  # his chair does: who tried what is hers to know
    await cast.chair_one.expect("Lịch sử sáng kiến", "thao tác bị từ chối")

    anchor = await _anchor(cast.admin)
    await emulator.user_presses(cast.admin.user_id, anchor, f"rv:{number}:a")
    await cast.admin.expect(f"Đã xác nhận hồ sơ sáng kiến #{number}")
    assert (await database.initiative(number)).decided_by.full_name == "Quản Trị Tỉnh"


async def _anchor(person: Person):
    await person.send("/help")
    return await person.expect("Hướng dẫn")


async def test_simultaneous_presses_make_exactly_one_decision(
    emulator: TelegramEmulator, cast: Cast, database: Database
) -> None:
    vy = Person(emulator, "Hà Thị Vy")
    await register(vy, name="Hà Thị Vy")
    rounds = 5
    for _ in range(rounds):
        number = await submit_initiative(vy)
        one, two = card_of_after(cast.chair_one, number), card_of_after(cast.chair_two, number)
        first, second = await asyncio.gather(one, two)
        data_one = first.button("Xác nhận hồ sơ")["callback_data"]
        data_two = second.button("Từ chối")["callback_data"]
        await emulator.user_presses(cast.chair_one.user_id, first, data_one)
        await emulator.user_presses(cast.chair_two.user_id, second, data_one)
        await emulator.user_presses(cast.chair_one.user_id, first, data_one)
        await emulator.user_presses(cast.chair_two.user_id, second, data_two)
        await cast.chair_one.settle()
        await cast.chair_two.settle()
        decided = [a for a in await database.audit_actions(number) if a[0] == "decided"]
        assert decided == [("decided", "recognised")], decided
        outcomes = [t for c in (cast.chair_one, cast.chair_two) for t in c.bot_texts()]
        assert sum(t.startswith(f"✅ Đã xác nhận hồ sơ sáng kiến #{number} «") for t in outcomes) == 1
        # the other chair's press, the double tap and the late reject all learn who decided
        assert sum(f"Sáng kiến #{number} đã được công nhận (" in t for t in outcomes) == 3
        await vy.expect(f"Sáng kiến #{number} «", "được tính vào chỉ tiêu")


async def card_of_after(chair: Person, number: int):
    return await chair.emulator.wait_for(chair.user_id, lambda m: f"Sáng kiến #{number} chờ xác nhận" in m.plain_text)


async def test_notifications_survive_a_crash_and_429_and_5xx(
    emulator: TelegramEmulator, cast: Cast, database: Database, bot_under_test: BotProcess
) -> None:
    ngoc = Person(emulator, "Trịnh Bảo Ngọc")
    await register(ngoc, name="Trịnh Bảo Ngọc")
    number = await submit_initiative(ngoc)
    card = await cast.chair_one.expect(f"Sáng kiến #{number} chờ xác nhận")
    # The submission's last reply (the profile's first question) must be delivered before sends to Ngọc fail:
    # failing, it would go to the outbox ahead of the decision, and a chat's messages go out in order.
    await ngoc.expect("Bot hỏi đồng chí 4 thông tin tác giả", "để điền sẵn vào Đơn yêu cầu công nhận")

    emulator.inject_fault("sendMessage", 500, count=10_000, chat_id=ngoc.user_id)
    await cast.chair_one.tap("Xác nhận hồ sơ", card)
    await cast.chair_one.expect(f"Đã xác nhận hồ sơ sáng kiến #{number}")

    async def retry_scheduled() -> bool:
        """the worker tried to deliver the notice, failed, and scheduled a retry"""
        rows = [r for r in await database.outbox(number) if r.purpose == "decision"]
        return bool(rows and rows[0].attempts >= 1 and rows[0].last_error)

    await eventually(retry_scheduled)
    [notice] = [r for r in await database.outbox(number) if r.purpose == "decision"]
    await bot_under_test.kill()
    assert notice.status == OutboxStatus.PENDING
    emulator.clear_faults()
    emulator.inject_fault("sendMessage", 429, retry_after=1, count=2, chat_id=ngoc.user_id)
    await bot_under_test.start()
    await ngoc.expect(f"Sáng kiến #{number}", "được tính vào chỉ tiêu", timeout=40)
    await ngoc.settle()
    assert sum(f"#{number}" in t and "được tính vào chỉ tiêu" in t for t in ngoc.bot_texts()) == 1
    [row] = [r for r in await database.outbox(number) if r.purpose == "decision"]
    assert row.status == OutboxStatus.SENT and row.platform_message_id


async def test_a_member_who_blocked_the_bot_still_gets_the_decision_recorded(
    emulator: TelegramEmulator, cast: Cast, database: Database
) -> None:
    quan = Person(emulator, "Lý Minh Quân")
    await register(quan, name="Lý Minh Quân")
    number = await submit_initiative(quan)
    card = await cast.chair_two.expect(f"Sáng kiến #{number} chờ xác nhận")
    emulator.block_bot(quan.user_id)
    await cast.chair_two.tap("Xác nhận hồ sơ", card)
    await cast.chair_two.expect(f"Đã xác nhận hồ sơ sáng kiến #{number}")

    async def recorded_as_blocked() -> bool:
        """the decision's notice is recorded as refused by a member who blocked the bot"""
        rows = [r for r in await database.outbox(number) if r.purpose == "decision"]
        return bool(rows) and rows[0].status == OutboxStatus.BLOCKED

    await eventually(recorded_as_blocked)
    assert (await database.initiative(number)).status == Status.RECOGNISED
    [row] = [r for r in await database.outbox(number) if r.purpose == "decision"]
    assert "blocked" in row.last_error


async def test_cli_invitation_and_an_admin_removing_a_chair(
    emulator: TelegramEmulator, cast: Cast, database: Database, bot_under_test: BotProcess
) -> None:
    environment = {**os.environ, "DATABASE_URL": bot_under_test.database_url, "TELEGRAM_BOT_TOKEN": TOKEN,
                   "TELEGRAM_API_URL": emulator.url, "SANGKIEN_CONFIG": str(ROOT / "config.toml")}  # fmt: skip
    result = await asyncio.to_thread(launcher.sangkien, ["invite-chair", "MAU004"], environment)
    assert result.returncode == 0, result.stderr
    output = result.stdout
    assert "https://t.me/sangkien_test_bot?start=c_" in output
    token = output.split("?start=", 1)[1].split()[0]

    hung = Person(emulator, "Mai Văn Hùng")
    await register(hung, "MAU004", "Mai Văn Hùng")
    await hung.send(f"/start {token}")
    await hung.expect("Đồng chí đã trở thành chủ tịch CĐCS", "Sở Y tế")
    await hung.send(f"/start {token}")
    await hung.expect("không còn hiệu lực")
    await hung.send("/start")
    await hung.expect("Chào đồng chí Mai Văn Hùng", "Đồng chí là chủ tịch CĐCS [MẪU] Sở Y tế:")
    both_channels = {**environment, "ZALO_BOT_TOKEN": "1:zalo-token-for-the-cli"}
    second = await asyncio.to_thread(launcher.sangkien, ["invite-chair", "MAU005"], both_channels)
    assert "Zalo (type or paste this line to the bot): /start c_" in second.stdout, second.stdout  # no links there
    await hung.send(f"/start {second.stdout.split('?start=', 1)[1].split()[0]}")
    await hung.expect("Đồng chí đã trở thành chủ tịch CĐCS")
    await hung.send("/start")
    await hung.expect("Chào đồng chí Mai Văn Hùng", "Đồng chí là chủ tịch của 2 CĐCS")

    await cast.admin.send("/chairs MAU004")
    listing = await cast.admin.expect("Chủ tịch CĐCS (1)", "Mai Văn Hùng")  # MAU004's alone
    await cast.admin.tap("Gỡ Mai Văn Hùng (MAU004)", listing)
    asked = await cast.admin.expect("Gỡ Mai Văn Hùng khỏi vai trò chủ tịch CĐCS")
    assert [b["text"] for b in asked.buttons()][1] == "🗑 Gỡ", "the safe choice first (Zalo's «1»)"
    await cast.admin.tap("Giữ nguyên", asked)
    await cast.admin.expect("Đã giữ nguyên", edited=True)  # the question, answered in place
    await cast.admin.expect("Chủ tịch CĐCS (1)", "Mai Văn Hùng")  # and the list again, where he was
    await hung.send("/pending")
    await hung.expect("Không có sáng kiến nào chờ xác nhận")  # still a chair: one tap alone removes nobody
    await cast.admin.send("/chairs MAU004")
    await cast.admin.tap("Gỡ Mai Văn Hùng (MAU004)", await cast.admin.expect("Chủ tịch CĐCS (1)"))
    await cast.admin.tap("🗑 Gỡ", await cast.admin.expect("Gỡ Mai Văn Hùng khỏi vai trò chủ tịch CĐCS"))
    await cast.admin.expect("Đã gỡ Mai Văn Hùng", "Đồng chí ấy đã được báo", "/chairs", "không còn chủ tịch nào",
                            "0 sáng kiến đang chờ", "/invite_chair MAU004", edited=True)  # fmt: skip
    await cast.admin.expect("Chưa có chủ tịch CĐCS nào")  # MAU004's list again: empty now
    told = await hung.expect("Đồng chí không còn là chủ tịch CĐCS", "Sở Y tế", "quản trị viên đã gỡ")
    assert told.menu()[0].startswith("📥 Chờ xác nhận"), "he still chairs MAU005"
    await cast.admin.send("/chairs dai hoc hung vuong")  # a name that several units' names hold: which?
    await cast.admin.expect("Không có CĐCS mã «dai hoc hung vuong»", "MAU005", "MAU025")
    await cast.admin.send("/chairs truong dai hoc hung vuong")  # a unit's whole name, typed as people do
    await cast.admin.tap("Gỡ Mai Văn Hùng (MAU005)", await cast.admin.expect("Chủ tịch CĐCS (1)"))
    await cast.admin.tap("🗑 Gỡ", await cast.admin.expect("Gỡ Mai Văn Hùng khỏi vai trò chủ tịch CĐCS"))
    told = await hung.expect("Đồng chí không còn là chủ tịch CĐCS")
    assert told.menu()[0] == "📝 Sáng kiến mới" and not any("Chờ xác nhận" in x for x in told.menu())
    await hung.send("/pending")
    await hung.expect("Đồng chí không có quyền")


async def test_an_invited_chair_who_registers_in_another_branch_stays_invited_and_the_inviter_is_told(
    emulator: TelegramEmulator, cast: Cast, database: Database
) -> None:
    """She chose her own unit while registering: the invitation was silently lost, and nobody was told."""
    await cast.admin.send("/invite_chair MAU007")
    link = (await cast.admin.expect("Đường dẫn mời làm")).plain_text.split("?start=", 1)[1].split()[0]
    tham = Person(emulator, "Hà Thị Thắm")
    await tham.send(f"/start {link}")
    await tham.tap("Chọn CĐCS khác", await tham.expect("Nhập họ và tên", "Sở Tư pháp"))
    await tham.send("cao dang y te")
    await tham.tap("Trường Cao đẳng Y tế Phú Thọ", await tham.expect("Tìm «cao dang y te»"))
    await tham.expect("Nhập họ và tên", "Trường Cao đẳng Y tế Phú Thọ")
    await tham.send("Hà Thị Thắm")
    await tham.expect("Đăng ký xong", "Trường Cao đẳng Y tế Phú Thọ")
    await tham.expect("Đồng chí đã trở thành chủ tịch CĐCS", "Sở Tư pháp")
    await cast.admin.expect("Hà Thị Thắm đã nhận lời mời và là chủ tịch CĐCS [MẪU] Sở Tư pháp")
    member = await database.member_of(tham.user_id)
    async with database.sessions() as session:
        held = select(MemberRole.role, Branch.code).join(Branch, Branch.id == MemberRole.branch_id)
        roles = (await session.execute(held.where(MemberRole.member_id == member.id))).all()
    assert {(role.value, code) for role, code in roles} == {("member", "MAU008"), ("chair", "MAU007")}
    await cast.admin.send("/invite_chair so tu phap")  # by the unit's name; the chair it has is said
    await cast.admin.expect("Đường dẫn mời làm chủ tịch CĐCS [MẪU] Sở Tư pháp",
                            "đã có chủ tịch dùng bot: Hà Thị Thắm", "/chairs MAU007")  # fmt: skip


async def test_the_chairs_list_comes_a_page_at_a_time(
    emulator: TelegramEmulator, cast: Cast, database: Database
) -> None:
    async with database.sessions() as session, session.begin():
        units = (await session.scalars(select(Branch).where(Branch.code.like("MAU1%")).limit(9))).all()
        for number, unit in enumerate(units):
            member = Member(full_name=f"Chủ Tịch Trang {number}", branch_id=unit.id, created_at=dt.datetime.now(dt.UTC))
            member.roles = [MemberRole(role=Role.CHAIR, branch_id=unit.id)]
            session.add(member)
    await cast.admin.send("/chairs")
    first = await cast.admin.expect("Chủ tịch CĐCS (", "trang 1/", "Gõ /chairs kèm mã CĐCS",
                                    "Mời chủ tịch mới: gõ /invite_chair")  # fmt: skip
    removes = [b["text"] for b in first.buttons() if b["text"].startswith("🗑 Gỡ")]
    assert len(removes) == 8 and "Trang trước" not in str(first.buttons()), first.buttons()
    await cast.admin.tap("Trang sau", first)
    second = await cast.admin.expect("trang 2/", edited=True)
    assert second.message_id == first.message_id, "the page turns in place"
    assert not {b["text"] for b in second.buttons()} & set(removes), "other chairs on page 2"
    await cast.admin.tap("Trang trước", second)
    await cast.admin.expect("trang 1/", edited=True)


async def test_a_chair_records_the_recognition_decision_when_approving(
    emulator: TelegramEmulator, cast: Cast, database: Database
) -> None:
    son = Person(emulator, "Kiều Văn Sơn")
    await register(son, name="Kiều Văn Sơn")
    number = await submit_initiative(son, recognised=False)
    card = await cast.chair_one.expect(f"Sáng kiến #{number} chờ xác nhận", "Chưa có quyết định công nhận")
    await cast.chair_one.tap("Xác nhận hồ sơ", card)
    done = await cast.chair_one.expect(f"Đã xác nhận hồ sơ sáng kiến #{number}", "được tính khi có quyết định")
    await son.expect(f"Hồ sơ sáng kiến #{number}", "đã được CĐCS xác nhận", "khi có quyết định công nhận")
    assert (await database.initiative(number)).status == Status.VERIFIED, "verified, waiting for recognition"
    await cast.chair_one.tap("Ghi quyết định công nhận", done)
    kind = await cast.chair_one.expect(f"Sáng kiến #{number}", "được công nhận bởi ai")
    await cast.chair_one.tap("Thủ trưởng", kind)
    await cast.chair_one.expect("Gõ số và ngày quyết định")
    await cast.chair_one.send("45/QĐ-CĐCS 15/03/2021")
    await cast.chair_one.expect("trước 01/09/2021", "Gõ số và ngày quyết định")
    await cast.chair_one.send("45/QĐ-CĐCS 15/03/2022")
    saved = await cast.chair_one.expect("Đã ghi quyết định công nhận", "45/QĐ-CĐCS ngày 15/03/2022",
                                        "được tính vào chỉ tiêu")  # fmt: skip
    await son.expect(f"sáng kiến #{number}", "Chu Tịch Một đã ghi quyết định công nhận", "Đã công nhận")
    stored = await database.initiative(number)
    assert (stored.recognition_kind, stored.recognition_decision_no) == ("head", "45/QĐ-CĐCS")
    assert stored.recognition_date.isoformat() == "2022-03-15" and stored.status == Status.RECOGNISED
    assert ("recognition_recorded", "recognised") in await database.audit_actions(number)
    # The decision's reply offers a button, so the menu's waiting count was not renewed: the reply says it.
    await cast.chair_one.send("/pending")
    listed = re.search(r"Có (\d+) sáng kiến", (await cast.chair_one.expect("chờ xác nhận")).plain_text)
    said = f"Còn {listed[1]} sáng kiến chờ đồng chí xác nhận" if listed else "Không còn sáng kiến nào chờ đồng chí"
    assert said in done.plain_text, done.plain_text

    await son.send(f"/congnhan {number}")  # the author may not replace what the chair recorded (nor move its phase)
    await son.expect(f"Sáng kiến #{number} đã có quyết định công nhận", "45/QĐ-CĐCS", "báo chủ tịch CĐCS")
    await cast.chair_one.tap("Sửa quyết định vừa ghi", saved)  # a wrong number or date, mended at once
    await cast.chair_one.expect("được công nhận bởi ai", "Đã ghi: Thủ trưởng", "Ghi lại sẽ thay")
    await cast.chair_one.send("ai đó")
    await cast.chair_one.expect("cần chọn một trong các mục", "được công nhận bởi ai")
    await cast.chair_one.send("hoi dong")  # the option's first words, typed without accents
    await cast.chair_one.expect("Gõ số và ngày quyết định của Hội đồng sáng kiến")
    await cast.chair_one.send("bỏ qua")  # as the date's refusal offers: nothing recorded, the question left
    await cast.chair_one.expect(f"Đã dừng. Sáng kiến #{number} giữ quyết định đã ghi: Thủ trưởng", "45/QĐ-CĐCS")
    await cast.chair_one.send(f"/congnhan {number}")
    await cast.chair_one.tap("Hội đồng", await cast.chair_one.expect("được công nhận bởi ai"))
    await cast.chair_one.send("/cancel")  # it said «không ở giữa bước nào», and the next text was recorded
    await cast.chair_one.expect(f"Đã dừng. Sáng kiến #{number} giữ quyết định đã ghi: Thủ trưởng", "45/QĐ-CĐCS")
    await cast.chair_one.send("46/QĐ-HĐSK 16/03/2022")
    await cast.chair_one.expect("chưa hiểu")
    assert (await database.initiative(number)).recognition_decision_no == "45/QĐ-CĐCS"
    await cast.chair_one.send(f"/congnhan {number}")
    await cast.chair_one.tap("Hội đồng", await cast.chair_one.expect("được công nhận bởi ai"))
    old_question = await cast.chair_one.expect("Gõ số và ngày quyết định của Hội đồng sáng kiến")
    await cast.chair_one.send("/back")  # the kind asked again, as /back does everywhere
    await cast.chair_one.tap("Hội đồng", await cast.chair_one.expect("được công nhận bởi ai"))
    await cast.chair_one.expect("Gõ số và ngày quyết định của Hội đồng sáng kiến")
    await cast.chair_one.send("46/QĐ-HĐSK 16/03/2022")
    await cast.chair_one.expect("Đã ghi quyết định công nhận", "46/QĐ-HĐSK", "được tính vào chỉ tiêu")
    assert (await database.initiative(number)).recognition_decision_no == "46/QĐ-HĐSK"
    await cast.chair_one.tap("Dừng", old_question)  # an old question's stop: it neither says «chưa ghi» nor stops
    await cast.chair_one.expect("Nút này thuộc một tin nhắn cũ")
    assert not any("Đã dừng, chưa ghi" in text for text in cast.chair_one.bot_texts()[-2:])


async def test_a_chair_who_blocked_the_bot_does_not_stop_the_other_chair(
    emulator: TelegramEmulator, cast: Cast, database: Database
) -> None:
    emulator.block_bot(cast.chair_two.user_id)
    try:
        thu = Person(emulator, "Đinh Thị Thu")
        await register(thu, name="Đinh Thị Thu")
        number = await submit_initiative(thu)
        card = await cast.chair_one.expect(f"Sáng kiến #{number} chờ xác nhận")
        await cast.chair_one.tap("Xác nhận hồ sơ", card)
        await thu.expect(f"Sáng kiến #{number} «", "được tính vào chỉ tiêu")

        async def statuses() -> dict[str, set[OutboxStatus]]:
            found: dict[str, set[OutboxStatus]] = {}
            for row in await database.outbox(number):
                found.setdefault(row.chat_id, set()).add(row.status)
            return found

        async def blocked_chair_recorded() -> bool:
            """the chair who blocked the bot is recorded as such"""
            return (await statuses()).get(str(cast.chair_two.user_id)) == {OutboxStatus.BLOCKED}

        async def other_chair_served() -> bool:
            """every notice to the other chair is delivered (the outbox may still be on the last one)"""
            return (await statuses()).get(str(cast.chair_one.user_id)) == {OutboxStatus.SENT}

        await eventually(blocked_chair_recorded)
        await eventually(other_chair_served)
        assert (await database.initiative(number)).status == Status.RECOGNISED
    finally:
        emulator.blocked.discard(cast.chair_two.user_id)


def sheet_column(content: bytes, sheet: str, header: str) -> list:
    """A column's values under its header (the summary sheet's table starts after a title block)."""
    rows = list(load_workbook(io.BytesIO(content))[sheet].iter_rows(values_only=True))
    top = next(number for number, row in enumerate(rows) if header in row)
    index = rows[top].index(header)
    return [row[index] for row in rows[top + 1 :] if row[index] is not None]


async def test_word_forms_after_submission_on_request_and_from_the_card(
    emulator: TelegramEmulator, cast: Cast, database: Database
) -> None:
    nga = Person(emulator, "Tạ Thị Nga")
    await register(nga, name="Tạ Thị Nga")
    number = await submit_initiative(nga)
    # The first submission asks the author's profile, once; the forms follow it, filled from it.
    await answer(nga, "Bước 1/4", "Bệnh viện Đa khoa tỉnh Phú Thọ")
    await answer(nga, "Ngày sinh", "31/2/1985")
    await answer(nga, "không có ngày 31", "12/5")
    await answer(nga, "sinh ngày 12/5 năm nào? Đồng chí gõ đủ ngày/tháng/năm, ví dụ 12/5/1985", "12/5/1985")
    await answer(nga, "Chức danh", "Bác sĩ")
    await answer(nga, "Trình độ chuyên môn", tap="Thạc sĩ")
    await nga.expect("Đã lưu hồ sơ tác giả", "Nơi công tác: Bệnh viện Đa khoa tỉnh Phú Thọ", "Ngày sinh: 12/05/1985")
    request = Document(io.BytesIO(await nga.expect_file(f"don-yeu-cau-cong-nhan-sang-kien-{number}.docx")))
    assert any("ĐƠN YÊU CẦU CÔNG NHẬN SÁNG KIẾN" in p.text for p in request.paragraphs)
    assert [c.text for c in request.tables[0].rows[1].cells][:6] == [
        "1", "Tạ Thị Nga", "12/05/1985", "Bệnh viện Đa khoa tỉnh Phú Thọ", "Bác sĩ", "Thạc sĩ"]  # fmt: skip
    description = Document(io.BytesIO(await nga.expect_file(f"mo-ta-sang-kien-{number}.docx")))
    assert any(p.text.startswith("1. Tên sáng kiến: Số hoá quy trình") for p in description.paragraphs)
    second = await submit_initiative(nga)
    await nga.expect_file(f"don-yeu-cau-cong-nhan-sang-kien-{second}.docx")  # asked once only
    await nga.send("/hoso")
    await nga.tap("Sửa hồ sơ", await nga.expect("Hồ sơ tác giả", "Họ và tên: Tạ Thị Nga", "Chức danh: Bác sĩ"))
    await answer(nga, "Bước 1/5", "Tạ Thị Nga Ly")  # the name too, where it is printed from: a slip mended
    await answer(nga, "Nơi công tác", "/skip")  # typed as people do, not only tapped
    await answer(nga, "Ngày sinh", "bo qua")  # not read as a date
    await answer(nga, "Chức danh", "Bác sĩ chuyên khoa I")
    await answer(nga, "Trình độ chuyên môn", "dừng")
    await nga.expect("Đã lưu hồ sơ tác giả", "Họ và tên: Tạ Thị Nga Ly", "Chức danh: Bác sĩ chuyên khoa I",
                     "Trình độ chuyên môn: Thạc sĩ")  # fmt: skip
    stored = await database.initiative(second)
    author = stored.authors[0]
    assert (author.full_name, author.job_title, author.workplace) == (
        "Tạ Thị Nga Ly", "Bác sĩ chuyên khoa I", "Bệnh viện Đa khoa tỉnh Phú Thọ")  # fmt: skip
    assert (await database.member_of(nga.user_id)).full_name == "Tạ Thị Nga Ly"
    await nga.send(f"/history {second}")
    await nga.expect(f"#{second}", "đổi họ tên")  # the chair's view of it shows the change too
    await nga.send("/hoso")
    await nga.tap("Sửa hồ sơ", await nga.expect("Họ và tên: Tạ Thị Nga Ly"))
    await answer(nga, "Bước 1/5", "ta thi nga")  # no accent: asked once, as at registration (the forms print it)
    await answer(nga, "«Ta Thi Nga» chưa có dấu", "ta thi nga")  # the same again: kept
    await answer(nga, "Nơi công tác", "/back")
    await nga.expect("Bước 1/5", "Ta Thi Nga")
    await nga.send("Tạ Thị Nga")
    await answer(nga, "Nơi công tác", "/cancel")  # stopped by the command: what was answered still reaches the forms
    await nga.expect("Đã dừng", "làm tiếp: gõ /hoso")
    assert (await database.initiative(second)).authors[0].full_name == "Tạ Thị Nga"

    await nga.send(f"/docx {number}")
    await nga.expect_file(f"don-yeu-cau-cong-nhan-sang-kien-{number}.docx")
    await nga.expect_file(f"mo-ta-sang-kien-{number}.docx")
    card = await cast.chair_one.expect(f"Sáng kiến #{number} chờ xác nhận")
    await cast.chair_one.tap("Đơn & Mô tả", card)
    await cast.chair_one.expect_file(f"mo-ta-sang-kien-{number}.docx")
    await cast.chair_one.settle()
    kept = next(m for m in emulator.chat(cast.chair_one.user_id) if m.message_id == card.message_id)
    assert kept.button("Xác nhận hồ sơ"), "the card keeps its decision buttons after the forms"
    for outsider, told in (
        (cast.outsider, "xin quản trị viên đường dẫn mời"),
        (cast.other_chair, "không thuộc các đơn vị đồng chí phụ trách"),
    ):  # not to ask for his invite
        await outsider.send(f"/docx {number}")
        await outsider.expect("Đồng chí không có quyền", told)


async def _recognising_body(database: Database, initiative_id: int, body: str | None) -> str | None:
    """Give the initiative's unit this recognising body (the dossier's first addressee); the one it had."""
    async with database.sessions() as session, session.begin():
        initiative = await session.get(Initiative, initiative_id, options=[selectinload(Initiative.branch)])
        kept, initiative.branch.recognising_body = initiative.branch.recognising_body, body
        return kept


async def test_the_dossier_is_completed_in_the_chat_and_printed_on_the_forms(
    emulator: TelegramEmulator, cast: Cast, database: Database
) -> None:
    hung = Person(emulator, "Đinh Văn Hùng")
    await register(hung, name="Đinh Văn Hùng")
    number = await submit_initiative(hung)  # co-author typed: Trần Văn Bình 30
    await answer(hung, "Bước 1/4", "/back")  # the first question: said so, and asked again
    await hung.expect("Đây đã là mục đầu tiên")
    await answer(hung, "Bước 1/4", tap="Dừng")  # no profile today: the forms come at once
    stopped = await hung.expect("Hồ sơ tác giả của đồng chí còn trống", "/hoso")
    assert "Đã lưu" not in stopped.plain_text, "nothing was saved: not said to be"
    await hung.expect_file(f"don-yeu-cau-cong-nhan-sang-kien-{number}.docx")
    forms_message = await hung.expect(f"Mô tả sáng kiến #{number}")
    assert [b["text"] for b in forms_message.buttons()] == ["📝 Hoàn thiện hồ sơ"]  # no web address: no page
    body = "Hội đồng sáng kiến Trung tâm Kiểm soát bệnh tật và Y tế dự phòng tỉnh Phú Thọ"  # longer than a button
    kept_body = await _recognising_body(database, number, body)
    try:
        await hung.tap("Hoàn thiện hồ sơ", forms_message)
        addressees = await hung.expect("Bước 1/9")
        labels = [b["text"] for b in addressees.buttons()]
        assert labels[0] == "Hội đồng sáng kiến Trung tâm Kiểm soát bệnh tật và Y tế dự…", "cut between words"
        await hung.tap("Hội đồng sáng kiến Trung tâm", addressees)
        await answer(hung, "Trần Văn Bình", "Bệnh viện Đa khoa tỉnh; 31/2/1988; Bác sĩ")  # the tap was taken
    finally:
        await _recognising_body(database, number, kept_body)
    await answer(hung, "Tháng 2/1988 không có ngày 31", "Bệnh viện Đa khoa tỉnh, 3/4/1988, Bác sĩ, dai hoc")  # commas
    read = "Đã ghi cho Trần Văn Bình:\nNơi công tác: Bệnh viện Đa khoa tỉnh\nNgày sinh: 03/04/1988\nChức danh: Bác sĩ"
    await answer(hung, read + "\nTrình độ chuyên môn: Đại học\n\nBước 3/9", tap="Tác giả đồng thời là chủ đầu tư")
    await answer(hung, "Mục đích", "Rút ngắn thời gian tiếp nhận hồ sơ.")
    await answer(hung, "Khả năng áp dụng", "/back")  # the question before, as in the wizard
    await hung.expect("Bước 4/9", "Mục đích", "Đang lưu: Rút ngắn thời gian tiếp nhận hồ sơ.")  # the answer kept
    await hung.send("giữ nguyên")
    await answer(hung, "Khả năng áp dụng", "khong")  # skipped: nothing to say
    await answer(hung, "Điều kiện cần thiết", "Máy quét mã vạch.")
    await answer(hung, "Bước 7/9", "không")  # «no», where «Không có» is offered: that answer, not a blank
    await answer(hung, "Ý kiến của nơi đã áp dụng", tap="Dừng")
    await hung.expect(f"Đã lưu hồ sơ sáng kiến #{number}")
    request = Document(io.BytesIO(await hung.expect_file(f"don-yeu-cau-cong-nhan-sang-kien-{number}.docx")))
    texts = [p.text for p in request.paragraphs]
    stored = await database.initiative(number)
    assert stored.addressee == body, "the whole name behind the shortened button"
    assert f"Kính gửi: {stored.addressee}" in texts
    assert any(t.endswith("chủ đầu tư tạo ra sáng kiến): Tác giả đồng thời là chủ đầu tư") for t in texts)
    assert "- Những điều kiện cần thiết để áp dụng sáng kiến: Máy quét mã vạch." in texts
    assert "+ Khả năng áp dụng của giải pháp: ……………………………………………………" in texts, "skipped: left blank"
    assert [c.text for c in request.tables[0].rows[2].cells] == [
        "2", "Trần Văn Bình", "03/04/1988", "Bệnh viện Đa khoa tỉnh", "Bác sĩ", "Đại học", "30%"]  # fmt: skip
    description = Document(io.BytesIO(await hung.expect_file(f"mo-ta-sang-kien-{number}.docx")))
    assert "- Mục đích của giải pháp: Rút ngắn thời gian tiếp nhận hồ sơ." in [p.text for p in description.paragraphs]
    assert (stored.investor, stored.purpose, stored.conditions, stored.confidential) == (
        "Tác giả đồng thời là chủ đầu tư", "Rút ngắn thời gian tiếp nhận hồ sơ.", "Máy quét mã vạch.",
        "Không có")  # fmt: skip
    assert stored.applicability is None and stored.appliers is None
    # Resumable: the answers are shown again, and a stranger cannot open someone else's dossier.
    await hung.tap("Hoàn thiện hồ sơ")  # under the new description
    again = await hung.expect("Bước 1/9", "Đang lưu: Hội đồng sáng kiến", "hoặc chọn ✔️ Giữ nguyên")
    assert [b["text"] for b in again.buttons()][-2:] == ["✔️ Giữ nguyên", "✖️ Dừng"], "a saved answer is kept"
    await hung.send("giữ nguyên")  # the button's words, typed: kept, not taken as the addressee
    await answer(hung, "Bước 2/9", tap="Dừng")
    await hung.expect(f"Hồ sơ sáng kiến #{number} không có mục nào thay đổi")  # the same forms are not sent again
    assert (await database.initiative(number)).addressee == body
    await hung.send(f"/docx {number}")  # the forms again, when asked: their writer gets the buttons again
    await hung.expect_file(f"mo-ta-sang-kien-{number}.docx")
    explained = hung.last_with_buttons()  # with what the forms are for, and what the button does
    assert "dùng khi đề nghị công nhận sáng kiến; CĐCS xác nhận hồ sơ không cần chờ" in explained.plain_text
    await hung.tap("Hoàn thiện hồ sơ")
    await hung.expect("Bước 1/9")
    await hung.send("/cancel")
    await hung.expect("Đã dừng", f"làm tiếp: gõ /docx {number} rồi chọn «📝 Hoàn thiện hồ sơ»")
    own = [m for m in emulator.chat(cast.outsider.user_id) if m.from_bot][-1]  # a forged press in their chat
    await emulator.user_presses(cast.outsider.user_id, own, f"ds:go:{number}")
    await cast.outsider.expect("không có quyền")
    # The same co-author named on the next initiative: the details written for him come with his name.
    second = await submit_initiative(hung, title="Phiếu hẹn giờ khám bằng tin nhắn", coauthors="tran van binh 30")
    bình = (await database.initiative(second)).authors[1]
    assert (bình.workplace, bình.birth_date, bình.job_title, bình.qualification) == (
        "Bệnh viện Đa khoa tỉnh", dt.date(1988, 4, 3), "Bác sĩ", "Đại học")  # fmt: skip


async def test_exports_by_role_and_marking_portal_entry(
    emulator: TelegramEmulator, cast: Cast, database: Database
) -> None:
    yen = Person(emulator, "Hồ Thị Yến")
    await register(yen, name="Hồ Thị Yến")
    number = await submit_initiative(yen)
    card = await cast.chair_one.expect(f"Sáng kiến #{number} chờ xác nhận")
    await cast.chair_one.tap("Xác nhận hồ sơ", card)
    notice = await yen.expect(f"Sáng kiến #{number} «", "được tính vào chỉ tiêu")

    await cast.chair_one.send("/export")
    report = await cast.chair_one.expect_file("sang-kien-MAU002-")
    assert "Báo cáo Excel: 1 CĐCS; lọc: mọi sáng kiến đã gửi." in cast.chair_one.bot_texts()[-1]
    assert set(sheet_column(report, "Sáng kiến", "CĐCS")) == {"[MẪU] Bệnh viện Đa khoa tỉnh"}
    assert number in sheet_column(report, "Sáng kiến", "Mã")
    assert "Hồ Thị Yến (100%)" not in sheet_column(report, "Nhập Cổng", "Tác giả (tỷ lệ đóng góp)")
    titles_to_enter = sheet_column(report, "Nhập Cổng", "Tên sáng kiến")
    assert len(titles_to_enter) == sum(
        1 for s in sheet_column(report, "Sáng kiến", "Trạng thái") if s == "Đã công nhận"
    )

    await cast.other_chair.send("/export")
    other = await cast.other_chair.expect_file(".xlsx")
    assert number not in sheet_column(other, "Sáng kiến", "Mã"), "a chair never receives another branch's rows"
    await cast.admin.send("/export đã công nhận")
    province = await cast.admin.expect_file(".xlsx")
    assert number in sheet_column(province, "Sáng kiến", "Mã")
    assert len([code for code in sheet_column(province, "Tổng hợp theo CĐCS", "Mã CĐCS") if code]) == 160
    await yen.send("/export")
    await yen.expect("Đồng chí không có quyền")
    await cast.admin.send("/export giai-doan-9")
    await cast.admin.expect("Không hiểu «giai-doan-9»")
    await cast.admin.send("/export Chưa")  # said back as typed, not folded («chua»)
    await cast.admin.expect("Không hiểu «Chưa»")
    await cast.admin.send("/export 31/5/2022-1/3/2022")  # reversed: an empty report that would look signable
    await cast.admin.expect("Ngày đầu 31/05/2022 sau ngày cuối 01/03/2022", "/export 01/03/2022-31/05/2022")

    await yen.tap("Đã nhập lên Cổng", notice)
    await yen.expect(f"sáng kiến #{number}", "đã được nhập lên Cổng")
    assert (await database.initiative(number)).status == Status.REPORTED
    await cast.chair_one.send(f"/entered {number} SK-2022-0456")
    await cast.chair_one.expect("chưa thể đánh dấu đã nhập Cổng")
    await yen.send("/mine")
    await yen.expect("Đã nhập Cổng")
    await cast.chair_one.send("/export")
    after = await cast.chair_one.expect_file(".xlsx")
    index = sheet_column(after, "Sáng kiến", "Mã").index(number)
    assert sheet_column(after, "Sáng kiến", "Trạng thái")[index] == "Đã nhập Cổng"
    assert sheet_column(after, "Sáng kiến", "Nhập Cổng")[index] == "Đã nhập"


async def test_pending_shows_the_oldest_twenty_he_may_decide_and_counts_them_all(
    cast: Cast, database: Database
) -> None:
    """More waiting than one /pending shows: the title counts them all (as the menu does), and the twenty cards
    are the oldest the chair may decide. The oldest of all names him: it is neither counted nor takes a place."""
    outsider = await database.member_of(cast.outsider.user_id)
    queued = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)  # older than anything else waiting in the module
    async with database.sessions() as session, session.begin():
        rows = [
            Initiative(
                member_id=outsider.id, branch_id=outsider.branch_id, credited_branch_id=outsider.branch_id,
                status=Status.SUBMITTED, current_step="summary", title=f"Sáng kiến xếp hàng số {n}", type_code="1.1",
                field="Y tế", submitted_at=queued + dt.timedelta(hours=n), attachments=[],
                authors=[Author(position=1, share_percent=100, branch_id=outsider.branch_id,
                                full_name="Phó Chủ Tịch Hai" if n == 0 else "Người Ngoài Cuộc")],
            )
            for n in range(22)
        ]  # fmt: skip
        session.add_all(rows)
        await session.flush()
        numbers = [row.id for row in rows]
    try:
        before = len(cast.chair_two.emulator.chat(cast.chair_two.user_id))
        await cast.chair_two.send("/pending")
        title = await cast.chair_two.expect("chờ xác nhận", "dưới đây là 20 sáng kiến")
        waiting = int(title.plain_text.split("Có ", 1)[1].split()[0])
        await cast.chair_two.expect(f"Sáng kiến #{numbers[20]} chờ xác nhận", timeout=60)  # the last, ~1 a second
        await cast.chair_two.settle()
        cards = [m.plain_text for m in cast.chair_two.emulator.chat(cast.chair_two.user_id)[before:] if m.from_bot]
        shown = [n for n in numbers if any(f"Sáng kiến #{n} chờ xác nhận" in text for text in cards)]
        assert shown == numbers[1:21], shown
        assert waiting >= 21 and await cast.chair_two.menu_label("📥") == f"📥 Chờ xác nhận ({waiting})"
    finally:
        async with database.sessions() as session, session.begin():
            await session.execute(delete(Initiative).where(Initiative.id.in_(numbers)))


async def test_notices_are_worded_in_their_readers_language(
    emulator: TelegramEmulator, cast: Cast, database: Database
) -> None:
    """The card was written in its author's language and the author's notice in the chair's."""
    grace = await invite_chair(cast.admin, Person(emulator, "Grace Chair"), "MAU006", "Nguyễn Grace")
    await grace.send("/lang en")
    await grace.expect("English selected")
    nhung = Person(emulator, "Đào Thị Nhung")
    await register(nhung, "MAU006", "Đào Thị Nhung")
    number = await submit_initiative(nhung)
    card = await grace.expect(f"Initiative #{number}: dossier to verify")
    await grace.tap("Verify dossier", card)
    await nhung.expect(f"Sáng kiến #{number}", "đã được CĐCS xác nhận")  # in Vietnamese, though Grace acted in English
    # A preset reason is stored as the records word it, and each reader reads it in their own language.
    second = await submit_initiative(nhung)
    card = await grace.expect(f"Initiative #{second}: dossier to verify")
    await grace.tap("Reject", card)
    await grace.tap("Duplicates an existing one", await grace.expect(f"Reject initiative #{second}"))
    await grace.expect(f"Initiative #{second}", "rejected. The author will get the reason")
    await nhung.expect(f"Sáng kiến #{second}", "Lý do: «Trùng lặp với sáng kiến đã có»")
    await emulator.wait_for(
        grace.user_id, lambda m: m.edited and "Reason: «Duplicates an existing initiative»" in m.plain_text
    )
    assert (await database.initiative(second)).decision_reason == "Trùng lặp với sáng kiến đã có"
    await nhung.send(f"/history {second}")
    await nhung.expect("Lịch sử sáng kiến", "«Trùng lặp với sáng kiến đã có»")
