"""The security audit's findings, each reproduced as the attack it was, through the real transport, and now
refused. (The review page's attachment attack is in test_review_page_browser.py: it needs Chromium.)"""

from __future__ import annotations

import io
import json
import re
import zipfile

import aiohttp
import pytest
import pytest_asyncio
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import select

from bot.sandbox.telegram_emulator import TelegramEmulator
from bot.sandbox.zalo_emulator import ZaloEmulator
from storage.models import AuditEvent, ChatGroup, Identity, LinkAttempt, MemberRole, Role, Status, StoredFile
from tests.harness import (
    ADMIN_ID,
    TELEGRAM_WEBHOOK_SECRET,
    ZALO_WEBHOOK_SECRET,
    Database,
    GroupChat,
    InProcessBot,
    Person,
    ZaloPerson,
    accept_chair_invite,
    answer,
    enter_for_members,
    fill_up_to_summary,
    invite_chair,
    link_code_of,
    register,
    submit_initiative,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def admin(emulator: TelegramEmulator, live_bot: InProcessBot) -> Person:
    admin = Person(emulator, "Quản Trị Tỉnh", user_id=ADMIN_ID)
    await register(admin, "MAU004", "Quản Trị Tỉnh")
    return admin


async def link_code(person: Person) -> str:
    await person.send("/link")
    return link_code_of(await person.expect("LIENKET"))


def wrong(code: str, attempt: int) -> str:
    return f"{(int(code) + 1 + attempt) % 1_000_000:06d}"


async def test_guessing_link_codes_is_bounded_per_account_and_a_right_code_still_needs_its_owners_yes(
    emulator: TelegramEmulator, zalo_emulator: ZaloEmulator, admin: Person, live_database: Database
) -> None:
    """Found: the wrong-code counter lived in the conversation's data, which /start replaced; 21 guesses
    went through and the right code made the attacker the admin. Then: 20 wrong codes typed by anyone locked
    every live code, so a few accounts could stop everyone from linking. Now a right code only asks its owner."""
    code = await link_code(admin)
    attacker = ZaloPerson(zalo_emulator, "Kẻ Dò Mã")
    for attempt in range(5):
        await attacker.send(f"LIENKET {wrong(code, attempt)}")
        await attacker.expect("không đúng hoặc đã hết hạn")
    await attacker.send("/start")  # used to reset the counter
    await attacker.expect("Chọn công đoàn cơ sở")
    await attacker.send(f"LIENKET {code}")
    await attacker.expect("sai mã quá nhiều lần")

    # Spread over many accounts, wrong codes lock nothing: the code still works, and its owner is asked.
    for number in range(3):
        helper = ZaloPerson(zalo_emulator, f"Kẻ Dò Mã {number}")
        for attempt in range(5):
            await helper.send(f"LIENKET {wrong(code, 10 + 5 * number + attempt)}")
            await helper.expect("không đúng hoặc đã hết hạn")
    last = ZaloPerson(zalo_emulator, "Kẻ Dò Mã Cuối")
    await last.send(f"LIENKET {code}")
    await last.expect("Đã nhận mã", "chọn «✅ Đúng là tôi»")
    question = await admin.expect("Tài khoản Zalo «Kẻ Dò Mã Cuối» vừa nhập mã liên kết của đồng chí",
                                  "(kể cả quyền quản trị viên)")  # fmt: skip
    rows = [[b["text"] for b in row] for row in question.reply_markup["inline_keyboard"]]
    assert rows == [["✅ Đúng là tôi"], ["❌ Không phải tôi"]], "one a row: «❌ Không phả…» was cut"
    stranger = Person(emulator, "Người Lạ Bấm Hộ")
    await register(stranger, "MAU004", "Người Lạ Bấm Hộ")
    yes = question.button("Đúng là tôi")["callback_data"]
    anchor = [m for m in emulator.chat(stranger.user_id) if m.from_bot][-1]
    await emulator.user_presses(stranger.user_id, anchor, yes)  # a forged "yes" from another member
    await stranger.expect("Nút này thuộc một tin nhắn cũ")
    await admin.tap("Không phải tôi", question)
    await admin.expect("Đã từ chối", "Zalo «Kẻ Dò Mã Cuối» không được liên kết")
    await last.expect("Người lấy mã liên kết đã không đồng ý liên kết")
    await emulator.user_presses(admin.user_id, question, yes)  # answered already: "yes" now links nobody
    await admin.expect("không còn hiệu lực")
    await last.send(f"LIENKET {code}")
    await last.expect("không đúng hoặc đã hết hạn")

    admin_member = await live_database.member_of(admin.user_id)
    async with live_database.sessions() as session:
        accounts = (await session.scalars(select(Identity).where(Identity.member_id == admin_member.id))).all()
        attempts = (await session.scalars(select(LinkAttempt))).all()
        refusals = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "link_refused"))).all()
        guesser = await session.scalar(select(Identity).where(Identity.platform_user_id == str(last.user_id)))
    assert [a.platform for a in accounts] == ["telegram"], "no attacker became the admin"
    assert sum(not a.succeeded for a in attempts) == 21 and sum(a.succeeded for a in attempts) == 1
    # The audit names the account by its row, not by its platform id (which erasure removes).
    assert [(r.actor_member_id, r.reason) for r in refusals] == [(admin_member.id, f"identity {guesser.id}")]

    # Seen over a shoulder: an impostor under the owner's name types the code first. When the owner types it
    # too, the code is cancelled, both are told, and a "yes" to the impostor's question links nobody.
    seen = await link_code(admin)
    impostor = ZaloPerson(zalo_emulator, "Quản Trị Tỉnh")
    await impostor.send(f"LIENKET {seen}")
    await impostor.expect("Đã nhận mã")
    trap = await admin.expect("Tài khoản Zalo «Quản Trị Tỉnh» vừa nhập mã liên kết")
    own = ZaloPerson(zalo_emulator, "Quản Trị Tỉnh")
    await own.send(f"LIENKET {seen}")
    await own.expect("vừa được một tài khoản khác nhập trước, nên đã bị huỷ")
    await admin.expect("vừa được hai tài khoản khác nhau nhập, nên đã bị huỷ")
    await admin.tap("Đúng là tôi", trap)
    await admin.expect("không còn hiệu lực")
    assert await live_database.member_of(impostor.user_id) is None

    # The owner makes a new code, links their own Zalo account and says yes on Telegram.
    fresh = await link_code(admin)
    await own.send(f"LIENKET {fresh}")
    await admin.tap("Đúng là tôi", await admin.expect("Tài khoản Zalo «Quản Trị Tỉnh» vừa nhập mã", "lúc "))
    await admin.expect("Đã liên kết tài khoản Zalo «Quản Trị Tỉnh» với hồ sơ của đồng chí")
    await own.expect("Đã liên kết", "Quản Trị Tỉnh")
    assert (await live_database.member_of(own.user_id)).full_name == "Quản Trị Tỉnh"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chair(emulator: TelegramEmulator, admin: Person) -> Person:
    return await invite_chair(admin, Person(emulator, "Chủ Tịch Kiểm Tra"), "MAU002", "Chủ Tịch Kiểm Tra")


async def test_a_chair_cannot_read_a_members_unsubmitted_draft(
    emulator: TelegramEmulator, chair: Person, live_database: Database
) -> None:
    """Found: forged `rv:<draft>:d` / `:w` showed a chair the draft and its Word form with the date of birth."""
    writer = Person(emulator, "Trần Thị Bản Nháp")
    await register(writer, "MAU002", "Trần Thị Bản Nháp")
    await writer.send("/new")
    await answer(writer, "điều kiện tham gia", tap="Đúng, đủ cả 3")
    await answer(writer, "Tên sáng kiến", "Bí mật chưa gửi: sổ tay điện tử")
    await writer.expect("thuộc loại nào")
    [draft] = await live_database.initiatives_of(writer.user_id)
    start = emulator.seq
    last = [m for m in emulator.chat(chair.user_id) if m.from_bot][-1]
    for action in ("d", "w", "a", "g"):
        await emulator.user_presses(chair.user_id, last, f"rv:{draft.id}:{action}")
        await chair.expect("không có quyền")
    await chair.send(f"/history {draft.id}")
    await chair.expect("không có quyền")
    await chair.send(f"/docx {draft.id}")
    await chair.expect("không có quyền")
    await chair.settle()
    seen = [m for m in emulator.chat(chair.user_id) if m.from_bot and m.seq > start]
    assert not any("Bí mật chưa gửi" in m.plain_text or m.document for m in seen), "nothing of the draft shown"
    assert (await live_database.initiative(draft.id)).status == Status.DRAFT


async def test_a_chair_cannot_take_over_a_group_the_admin_linked_to_the_province(
    emulator: TelegramEmulator, admin: Person, chair: Person, live_database: Database
) -> None:
    group = GroupChat(emulator, "Nhóm toàn tỉnh")
    emulator.add_bot_to_group(admin.user_id, group.chat_id)
    await group.send(admin, "/linkgroup tinh")
    await group.expect("toàn đơn vị")
    await group.send(chair, "/linkgroup MAU002")
    await group.expect("Chỉ quản trị viên mới đổi được liên kết của nhóm")
    async with live_database.sessions() as session:
        stored = await session.scalar(select(ChatGroup).where(ChatGroup.chat_id == str(group.chat_id)))
        refused = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "refused", AuditEvent.reason.like("/linkgroup over%"))
        )
    assert stored.is_province and stored.branch_id is None
    assert refused is not None


async def test_on_zalo_a_review_card_arriving_mid_wizard_does_not_take_the_chairs_bare_number(
    emulator: TelegramEmulator, zalo_emulator: ZaloEmulator, admin: Person, live_database: Database
) -> None:
    """Found: the card became the chat's latest menu, so the chair's "1" meant for the wizard approved it. Now a
    bare number both lists have asks which one is meant; asked again, it answers the wizard."""
    chair = await invite_chair(admin, ZaloPerson(zalo_emulator, "Chủ Tịch Zalo"), "MAU003", "Chủ Tịch Zalo")
    await chair.send("/new")
    await answer(chair, "điều kiện tham gia", tap="Đúng, đủ cả 3")
    await answer(chair, "Tên sáng kiến", "Sáng kiến riêng của chủ tịch")
    await chair.expect("thuộc loại nào")
    author = Person(emulator, "Tác Giả Chi Nhánh Ba")
    await register(author, "MAU003", "Tác Giả Chi Nhánh Ba")
    number = await submit_initiative(author)
    await chair.expect(f"Sáng kiến #{number} chờ xác nhận hồ sơ", f"«1 {number}»")
    await chair.send("1")  # in both lists: which one is asked (test_zalo_e2e), and nothing is decided
    await chair.expect("Số 1 có ở hai danh sách", f"«1 {number}»")
    assert (await live_database.initiative(number)).status == Status.SUBMITTED
    await chair.send("1")
    await chair.expect("Lĩnh vực áp dụng")  # the wizard's next question: "1" chose the first type
    assert (await live_database.initiative(number)).status == Status.SUBMITTED
    [own] = await live_database.initiatives_of(chair.user_id)
    assert own.type_code == "1.1"
    await chair.send(f"1 {number}")  # the card, answered with its number
    await chair.expect(f"#{number}")
    assert (await live_database.initiative(number)).status != Status.SUBMITTED


async def test_what_people_send_is_cleaned_at_the_door_and_exports_keep_working(
    emulator: TelegramEmulator, admin: Person, live_database: Database
) -> None:
    """Found: U+FFFF in any answer broke every later export; zero-width and bidi characters counted toward
    minimum lengths and were stored; "=HYPERLINK(…)" became a formula in the workbook."""
    member = Person(emulator, "Lê Văn Sạch")
    await register(member, "MAU005", "Lê Văn Sạch")
    await fill_up_to_summary(member)
    summary = await member.expect("Tóm tắt sáng kiến")
    await member.tap("Sửa một mục", summary)
    await member.tap("✏️ Tên sáng kiến", await member.expect("Sửa mục nào", edited=True))
    await member.expect("Tên sáng kiến", edited=True)
    await member.send("\u200b" * 30 + "Ab\u202e")

    await member.expect("hơi ngắn (2 ký tự)")
    await member.send('=HYPERLINK("http://evil.example","Bấm")\uffff\u202e\u0007 sổ tay')
    await member.tap("Gửi sáng kiến", await member.expect("Tóm tắt sáng kiến"))
    number = int((await member.expect("Đã gửi sáng kiến")).plain_text.split("#", 1)[1].split()[0])
    stored = await live_database.initiative(number)
    assert stored.title == '=HYPERLINK("http://evil.example","Bấm") sổ tay'

    await admin.send("/export")
    workbook = load_workbook(io.BytesIO(await admin.expect_file(".xlsx")))
    sheet = workbook["Sáng kiến"]
    [cell] = [row[1] for row in sheet.iter_rows(min_row=2) if row[0].value == number]
    assert sheet.cell(1, 2).value == "Tên sáng kiến"
    assert (cell.value, cell.data_type) == (stored.title, "s"), "text, not a formula"


async def test_numbers_ids_and_bodies_that_used_to_crash_get_a_clean_refusal(
    emulator: TelegramEmulator, zalo_emulator: ZaloEmulator, admin: Person, live_bot: InProcessBot
) -> None:
    """Found: "²".isdigit() is True (int() then raised), huge ids overflowed SQLite, a non-ASCII link
    signature raised in compare_digest, a non-Update body or a Zalo date "yesterday" gave HTTP 500."""
    prober = Person(emulator, "Người Thử Số")
    await register(prober, "MAU002", "Người Thử Số")
    await prober.send("/new")
    question = await prober.expect("điều kiện tham gia")
    huge = "9" * 25
    for payload in ("rv:²:d", "rr:1:c:²", f"rv:{huge}:d", f"d:r:{huge}", "d:del:²", "w:²:title:<", "pt:²",
                    f"ch:rm:{huge}", "reg:p:²", "w:1:summary:e²"):  # fmt: skip
        await emulator.user_presses(prober.user_id, question, payload)
        await prober.expect()
    for command in (f"/history {huge}", "/history ²", f"/docx {huge}", f"/entered {huge} x"):
        await prober.send(command)
        await prober.expect()
    await prober.settle()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{live_bot.web_url}/r/ẞẞẞẞ.ẞẞẞ") as reply:
            assert reply.status == 403
        secret = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_WEBHOOK_SECRET}
        for body in ({"hello": "world"}, [1, 2], {"update_id": "x", "message": 5}):
            async with http.post(f"{live_bot.web_url}/webhook/telegram", json=body, headers=secret) as reply:
                assert reply.status == 400, body
    odd = ZaloPerson(zalo_emulator, "Ngày Hôm Qua")
    zalo_emulator.known_chats.add(odd.user_id)  # it wrote to the bot: the platform lets the bot answer
    update = {"event_name": "message.text.received",
              "message": {"from": {"id": odd.user_id, "display_name": "Ngày Hôm Qua"}, "chat": {"id": odd.user_id},
                          "message_id": "m-yesterday", "date": "yesterday", "text": "/help"}}  # fmt: skip
    async with aiohttp.ClientSession() as http, http.post(f"{live_bot.web_url}/webhook/zalo", json=update,
                         headers={"X-Bot-Api-Secret-Token": ZALO_WEBHOOK_SECRET}) as reply:  # fmt: skip
        assert reply.status == 200
    await odd.expect("Hướng dẫn")


async def test_spreadsheets_that_unpack_to_gigabytes_or_hold_huge_fields_are_refused(
    emulator: TelegramEmulator, admin: Person
) -> None:
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b" " * (200 * 2**20))  # 200 MB of spaces, ~200 KB packed
    await admin.send_file("chi-tieu.xlsx", bomb.getvalue())
    await admin.expect("Chưa nhập chi-tieu.xlsx", "giải nén ra quá lớn")
    huge_field = "code,name,quota_p1\nMAU900," + "x" * (200 * 1024) + ",3\n"
    await admin.send_file("chi-tieu.csv", huge_field.encode())
    await admin.expect("Chưa nhập chi-tieu.csv", "Không đọc được tệp")
    await admin.send_file("thap-phan.csv", 'code,name,quota_p1\nMAU901,Chi nhánh thập phân,"2,5"\n'.encode())
    await admin.expect("Chưa nhập thap-phan.csv", "Dòng 2", "«2,5» không phải số nguyên")


async def test_a_zalo_photo_lives_as_long_as_its_attachment(
    zalo_emulator: ZaloEmulator, live_bot: InProcessBot, live_database: Database
) -> None:
    """Found: photos sent on Zalo were kept forever and stayed downloadable after their draft was deleted."""
    member = ZaloPerson(zalo_emulator, "Nguyễn Văn Ảnh")
    await register(member, "MAU002", "Nguyễn Văn Ảnh")
    await member.send_photo()  # not in the wizard: kept for a day only
    await member.expect()
    await fill_up_to_summary(member)
    await member.expect("Tóm tắt sáng kiến")
    [draft] = await live_database.initiatives_of(member.user_id)
    tokens = [a.file_id for a in draft.attachments]
    async with live_database.sessions() as session:
        kept = (await session.scalars(select(StoredFile).order_by(StoredFile.id))).all()
    mine = [f for f in kept if f.token in tokens]
    assert len(mine) == 2 and all(f.expires_at is None and f.attachment_id for f in mine)
    async with aiohttp.ClientSession() as http, http.get(f"{live_bot.web_url}/f/{tokens[0]}/anh.jpg") as reply:
        assert reply.status == 200
    await member.send("/drafts")
    await member.tap("Xoá", await member.expect("Bản nháp"))
    await member.tap("Xoá", await member.expect("Xoá bản nháp"))
    await member.expect("Đã xoá")
    async with live_database.sessions() as session:
        left = (await session.scalars(select(StoredFile).where(StoredFile.token.in_(tokens)))).all()
    assert left == []
    async with aiohttp.ClientSession() as http, http.get(f"{live_bot.web_url}/f/{tokens[0]}/anh.jpg") as reply:
        assert reply.status == 404


async def test_a_member_sees_their_data_and_erasure_keeps_only_what_the_campaign_needs(
    emulator: TelegramEmulator, zalo_emulator: ZaloEmulator, chair: Person, live_database: Database
) -> None:
    member = Person(emulator, "Phạm Thị Riêng Tư")
    await register(member, "MAU002", "Phạm Thị Riêng Tư")
    approved = await submit_initiative(member)
    await answer(member, "Bước 1/4", "Khoa Dược, Bệnh viện tỉnh")  # the author profile, asked after it
    await answer(member, "Ngày sinh", "dừng")
    await chair.tap("Xác nhận hồ sơ", await chair.expect(f"Sáng kiến #{approved} chờ xác nhận hồ sơ"))
    await member.expect(f"#{approved}", "được tính vào chỉ tiêu")
    pending = await submit_initiative(member)
    await member.send("/new")
    await answer(member, "điều kiện tham gia", tap="Đúng, đủ cả 3")
    await answer(member, "Tên sáng kiến", "Bản nháp riêng tư chưa gửi")
    await member.send("/cancel")
    await member.expect("Đã tạm dừng")
    sender = Person(emulator, "Lương Văn Gửi")  # another's initiative, not yet counted, names her
    await register(sender, "MAU002", "Lương Văn Gửi")
    named = await submit_initiative(
        sender, title="Bảng phân công trực Tết dùng chung", coauthors="Phạm Thị Riêng Tư 30"
    )
    await member.tap("Đúng, tôi là đồng tác giả", await member.expect("đồng tác giả (30%)", f"#{named}"))
    await member.expect(f"Đã ghi nhận đồng chí là đồng tác giả của sáng kiến #{named}")

    await member.send("/link")
    code = link_code_of(await member.expect("LIENKET"))
    on_zalo = ZaloPerson(zalo_emulator, "Riêng Tư")
    await on_zalo.send(f"LIENKET {code}")
    await member.tap("Đúng là tôi", await member.expect("Tài khoản Zalo «Riêng Tư» vừa nhập mã"))
    await on_zalo.expect("Đã liên kết")

    await member.send("/dulieu")
    summary = await member.expect("Dữ liệu bot lưu về đồng chí", "Phạm Thị Riêng Tư", "Bản nháp riêng tư chưa gửi",
                                  "Tài khoản: Telegram ",
                                  "Hồ sơ tác giả (/hoso): Nơi công tác: Khoa Dược, Bệnh viện tỉnh\n")  # fmt: skip
    data = json.loads(await member.expect_file("du-lieu-ca-nhan.json"))
    assert sorted(a["platform"] for a in data["accounts"]) == ["telegram", "zalo"]
    assert {i["id"] for i in data["initiatives"]} >= {approved, pending}
    assert {a["initiative"] for a in data["author_of"]} >= {approved, pending}
    await member.tap("Yêu cầu xoá dữ liệu", summary)
    await member.tap("Xoá dữ liệu của tôi", await member.expect("Xoá dữ liệu cá nhân?"))
    await member.expect("Đã xoá dữ liệu cá nhân", "sáng kiến đã xoá, 1 sáng kiến được giữ")
    await sender.expect(f"Một đồng tác giả của sáng kiến #{named}", "đã xoá dữ liệu cá nhân", "nay ghi «(đã xoá)»")
    await sender.send(f"/docx {named}")
    request = Document(io.BytesIO(await sender.expect_file(f"don-yeu-cau-cong-nhan-sang-kien-{named}.docx")))
    names = [row.cells[1].text for row in request.tables[0].rows[1:]]
    assert names == ["Lương Văn Gửi", "…………"], "her row left blank to fill by hand, no internal number"

    kept = await live_database.initiative(approved)
    assert kept is not None and kept.status == Status.RECOGNISED
    [own_row] = [author for author in kept.authors if author.full_name == "Phạm Thị Riêng Tư"]
    assert own_row.member_id is None, "the kept initiative names its author but no longer points at the member"
    assert kept.member.full_name.startswith("(đã xoá")
    assert await live_database.initiative(pending) is None
    async with live_database.sessions() as session:
        accounts = (await session.scalars(select(Identity).where(Identity.member_id == kept.member_id))).all()
        erased = await session.scalar(select(AuditEvent).where(AuditEvent.action == "data_erased"))
    assert accounts == [] and erased is not None and erased.actor_member_id == kept.member_id
    await member.send("/start")
    await member.expect("Chọn công đoàn cơ sở")  # a new person to the bot


async def test_nobody_decides_work_that_names_them_nor_makes_himself_chair_with_his_own_invite(
    emulator: TelegramEmulator, admin: Person, chair: Person, live_database: Database
) -> None:
    """Found by an attacker's pass: a chair verified an initiative naming him after answering "not me" to
    the co-author question (the row kept his name, unlinked), or one he entered "for members" with his own
    name among the authors (the officer is not linked to a row he types); and an officer who opened his own
    chair invitation became chair of the unit it was for."""
    member = Person(emulator, "Đỗ Thị Đồng")
    await register(member, "MAU002", "Đỗ Thị Đồng")
    declined = await submit_initiative(member, coauthors="Chủ Tịch Kiểm Tra 60")
    question = await chair.expect("đồng tác giả (60%)", f"sáng kiến #{declined}")
    rows = [[b["text"] for b in row] for row in question.reply_markup["inline_keyboard"]]
    assert rows == [["✅ Đúng, tôi là đồng tác giả"], ["❌ Không phải tôi"]]  # one a row: neither is cut
    await chair.tap("Không phải tôi", question)
    anchor = await chair.expect(f"Đã bỏ liên kết đồng chí khỏi sáng kiến #{declined}")
    # The branch's one chair may not verify it now: nobody else is told, and the sender is not told otherwise.
    await member.expect("cho biết mình không phải đồng tác giả", "Người xác nhận hồ sơ sẽ thấy ghi chú ấy")
    await emulator.user_presses(chair.user_id, anchor, f"rv:{declined}:a")
    await chair.expect("Sáng kiến này có tên đồng chí trong danh sách tác giả")

    entered = await enter_for_members(
        chair, "CHU TICH KIEM TRA 100",  # his own name, without accents
        title="Sổ theo dõi ca trực điện tử cho tổ bảo vệ", type_code="1.2", field="Y tế",
        problem="Sổ giấy ghi ca trực hay thất lạc, khó tra cứu khi cần đối chiếu.",
        solution="Ghi ca trực trên bảng tính dùng chung, mỗi ca một dòng có giờ nhận.",
        place="Tổ bảo vệ của bệnh viện", social="Bàn giao ca rõ ràng, không còn tranh cãi giờ giấc.",
    )  # fmt: skip
    await emulator.user_presses(chair.user_id, anchor, f"rv:{entered}:a")
    await chair.expect("Sáng kiến này có tên đồng chí trong danh sách tác giả")
    await chair.send("/pending")
    waiting = await chair.expect("chờ xác nhận")
    assert f"#{entered}" not in waiting.plain_text and f"#{declined}" not in waiting.plain_text, waiting.plain_text
    listed = re.search(r"Có (\d+) sáng kiến", waiting.plain_text)  # the menu counts what /pending lists
    assert await chair.menu_label("📥") == f"📥 Chờ xác nhận ({listed[1] if listed else 0})"
    for number in (declined, entered):
        stored = await live_database.initiative(number)
        assert stored.status == Status.SUBMITTED and stored.decided_at is None
        assert ("refused", None) in await live_database.audit_actions(number)

    # An unlinked row with his name (another unit's code: nobody registered there by that name): the chair
    # it names gets no card whose buttons would all refuse him, and the member learns no chair can take it.
    named = await submit_initiative(member, coauthors="Chủ Tịch Kiểm Tra 30 MAU003")
    await member.expect("CĐCS chưa có chủ tịch nào")
    await chair.settle()
    assert not any(f"Sáng kiến #{named} chờ xác nhận" in text for text in chair.bot_texts())

    await admin.send("/invite_chair MAU003")
    link = (await admin.expect("Đường dẫn mời làm")).plain_text.split("?start=", 1)[1].split()[0]
    await admin.send(f"/start {link}")
    await admin.expect("Đây là lời mời do chính đồng chí tạo")
    meant = Person(emulator, "Chủ Tịch Được Mời")
    await accept_chair_invite(meant, link, "Chủ Tịch Được Mời")  # the invitation was still good for him
    admin_member = await live_database.member_of(admin.user_id)
    async with live_database.sessions() as session:
        admin_roles = (await session.scalars(select(MemberRole).where(MemberRole.member_id == admin_member.id))).all()
    assert all(role.role != Role.CHAIR for role in admin_roles), "the invitation made someone else chair"


async def test_a_chair_removed_while_entering_for_members_hands_nothing_to_the_branch(
    emulator: TelegramEmulator, admin: Person, live_database: Database
) -> None:
    """Found by an attacker's pass: the right to enter for members was checked at /nhapho only, so a chair
    removed meanwhile went on and submitted in the branch's name."""
    officer = await invite_chair(admin, Person(emulator, "Cán Bộ Sắp Thôi"), "MAU005", "Cán Bộ Sắp Thôi")
    await officer.send("/nhapho")
    await officer.expect("Nhập sáng kiến hộ đoàn viên", "điều kiện tham gia")
    await officer.send("có")
    await answer(officer, "Tên sáng kiến", "Bảng phân ca tự động cho tổ điều dưỡng")
    await admin.send("/chairs MAU005")
    await admin.tap("Gỡ Cán Bộ Sắp Thôi", await admin.expect("Cán Bộ Sắp Thôi"))
    await admin.tap("🗑 Gỡ", await admin.expect("Gỡ Cán Bộ Sắp Thôi khỏi vai trò chủ tịch"))
    await admin.expect("Đã gỡ Cán Bộ Sắp Thôi", edited=True)
    await officer.send("1.2")
    await officer.expect("Chỉ chủ tịch CĐCS (cho CĐCS của mình) và quản trị viên mới nhập sáng kiến hộ")
    await officer.send("Y tế")
    await officer.expect("Bot chưa hiểu ý đồng chí")  # the entry stopped with the role
    [draft] = await live_database.initiatives_of(officer.user_id)
    assert draft.status == Status.DRAFT and draft.type_code is None, "the answer after the removal is not taken"
