"""Admin broadcasts through the real transport: write → audience → preview → confirm → delivery report.

The emulator enforces Telegram's sending limits (30 messages/s, 20/min per group) and answers 429 beyond
them: a broadcast to a few hundred chats must cause none.
"""

from __future__ import annotations

import pytest
import pytest_asyncio
from sqlalchemy import select, update

from bot.sandbox.telegram_emulator import TelegramEmulator
from storage import queries
from storage.models import Branch, BranchQuota, Broadcast, Identity, OutboxMessage
from tests.harness import ADMIN_ID, Database, GroupChat, InProcessBot, Person, invite_chair, local, register

pytestmark = pytest.mark.asyncio(loop_scope="module")
CROWD = 300


class Cast:
    def __init__(self, admin: Person, chair: Person, member: Person, hospital: GroupChat, school: GroupChat):
        self.admin, self.chair, self.member = admin, chair, member
        self.hospital, self.school = hospital, school


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cast(emulator: TelegramEmulator, live_bot: InProcessBot) -> Cast:
    admin = Person(emulator, "Quản Trị Tỉnh", user_id=ADMIN_ID)
    await register(admin, "MAU004", "Quản Trị Tỉnh")
    chair = await invite_chair(admin, Person(emulator, "Lê Thị Chủ Tịch"), "MAU002", "Lê Thị Chủ Tịch")
    member = Person(emulator, "Nguyễn Văn Thành Viên")
    await register(member, "MAU002", "Nguyễn Văn Thành Viên")
    hospital, school = GroupChat(emulator, "Nhóm Bệnh viện"), GroupChat(emulator, "Nhóm Trường")
    for group, code in ((hospital, "MAU002"), (school, "MAU005")):
        emulator.add_bot_to_group(admin.user_id, group.chat_id)
        await group.expect("Chào cả nhóm")
        await group.send(admin, f"/linkgroup {code}")
        await group.expect("Đã liên kết nhóm")
    return Cast(admin, chair, member, hospital, school)


async def broadcasts(database: Database) -> list[Broadcast]:
    async with database.sessions() as session:
        return list((await session.scalars(select(Broadcast).order_by(Broadcast.id))).all())


async def test_only_admins_may_broadcast(emulator: TelegramEmulator, cast: Cast, live_database: Database) -> None:
    await cast.chair.send("/broadcast")
    await cast.chair.expect("chỉ dành cho quản trị viên")
    await cast.member.send("/broadcast")
    refused = await cast.member.expect("chỉ dành cho quản trị viên")
    for forged in ("bc:a:members", "bc:ok", "bc:behind"):
        await emulator.user_presses(cast.member.user_id, refused, forged)
        await cast.member.expect("chỉ dành cho quản trị viên")
    assert await broadcasts(live_database) == []


async def test_broadcast_to_the_groups_of_chosen_branches_keeps_the_text_through_a_typo(
    emulator: TelegramEmulator, cast: Cast, live_database: Database
) -> None:
    admin = cast.admin
    await admin.send("/broadcast")
    first_step = await admin.expect("Gửi thông báo", "Gõ nội dung")
    await admin.send("ab")
    await admin.expect("hơi ngắn")
    text = "Hạn nộp sáng kiến giai đoạn 1 là 31/5. Các CĐCS <đôn đốc> đoàn viên gửi sớm!"
    await admin.send(text)
    await admin.tap("Nhóm của một số CĐCS", await admin.expect("Gửi tới ai?"))
    await admin.expect("Gõ mã các CĐCS")
    await admin.send("MAU002, KHONGCO")
    await admin.expect("Không có CĐCS mã: KHONGCO", "Gõ mã các CĐCS")
    await admin.send("benh vien da khoa")  # a name, not codes: the codes it may mean are shown
    await admin.expect("Có phải đồng chí muốn tìm", "• [MẪU] Bệnh viện Đa khoa tỉnh — MAU002", "Gõ mã các CĐCS")
    await admin.send("mau002 mau014")
    preview = await admin.expect("Xem trước", text, "nhóm của CĐCS MAU002, MAU014 (⚠️ MAU014 chưa liên kết nhóm",
                                 "nên sẽ không nhận được thông báo)", "1 nơi nhận", "gửi ngay")  # fmt: skip
    send = preview.button("Gửi tới 1 nơi nhận")["callback_data"]
    await admin.tap("Gửi tới 1 nơi nhận", preview)
    await admin.expect("đang được gửi tới 1 nơi nhận")

    received = await cast.hospital.expect("Thông báo từ Công đoàn Viên chức tỉnh Phú Thọ", text)
    assert "<đôn đốc>" in received.plain_text, "the admin's text is shown verbatim, never as markup"
    report = await admin.expect("Báo cáo gửi thông báo", "Đã gửi: 1/1", "Đã chặn bot: 0", "Không gửi được: 0")
    assert report is not None
    await emulator.user_presses(admin.user_id, preview, send)  # a second tap from a slow phone
    await admin.expect("Lựa chọn đó đã cũ")
    said_before = len(admin.bot_texts())
    await admin.tap("Huỷ thông báo", first_step)  # the first step's, still there: the notice is not recalled
    await admin.expect("Lựa chọn đó đã cũ", "đã được gửi")
    await admin.settle()
    assert not first_step.buttons() and "Huỷ" not in first_step.plain_text  # not marked as cancelled
    assert not any("Đã huỷ thông báo" in text for text in admin.bot_texts()[said_before:])
    await cast.member.settle()
    assert not any(text in t for t in cast.school.bot_texts()), "other branches' groups are not written to"
    stored = await broadcasts(live_database)
    assert [(b.text, b.audience, b.recipients) for b in stored] == [(text, "branches:MAU002,MAU014", 1)]
    assert stored[0].reported_at is not None

    # A unit's whole name where codes are asked: that unit (found by a phone walk: «Không có CĐCS mã: Bệnh, viện»).
    await admin.send("/broadcast")
    await admin.send("Nhắc các CĐCS gửi báo cáo tháng.")
    await admin.tap("Nhóm của một số CĐCS", await admin.expect("Gửi tới ai?"))
    await admin.send("benh vien da khoa tinh")
    named = await admin.expect("Xem trước", "nhóm của CĐCS MAU002")
    assert "Không có CĐCS mã" not in named.plain_text
    await admin.tap("Huỷ", named)
    await admin.expect("Đã huỷ thông báo")


async def test_broadcast_to_every_member_reports_who_blocked_the_bot(
    emulator: TelegramEmulator, cast: Cast, live_database: Database
) -> None:
    quitter = Person(emulator, "Đoàn Văn Chặn")
    await register(quitter, "MAU003", "Đoàn Văn Chặn")
    emulator.block_bot(quitter.user_id)
    admin = cast.admin
    await admin.send("/broadcast")
    await admin.send("Chúc mừng các CĐCS đã hoàn thành chỉ tiêu!")
    await admin.tap("Tất cả đoàn viên", await admin.expect("Gửi tới ai?"))
    preview = await admin.expect("Xem trước", "tất cả đoàn viên đã đăng ký", "4 nơi nhận")
    rows = [[b["text"] for b in row] for row in preview.reply_markup["inline_keyboard"]]
    assert rows[1:3] == [["✏️ Sửa nội dung"], ["👥 Đổi người nhận"]]  # one a row: «👥 Đổi người …» was cut
    first_send = preview.button("Gửi tới 4 nơi nhận")["callback_data"]
    sent_before = len(await broadcasts(live_database))
    await admin.tap("Sửa nội dung", preview)
    await admin.send("Chúc mừng các CĐCS đã vượt chỉ tiêu giai đoạn 1!")
    second = await admin.expect("Xem trước", "vượt chỉ tiêu", "4 nơi nhận")  # the audience kept, not asked again
    await emulator.user_presses(admin.user_id, preview, first_send)  # the first preview's send: not this notice
    await admin.expect("Lựa chọn đó đã cũ")
    assert len(await broadcasts(live_database)) == sent_before
    await admin.tap("Gửi tới 4 nơi nhận", second)
    for person in (cast.chair, cast.member, admin):
        await person.expect("vượt chỉ tiêu giai đoạn 1")
    await admin.expect("Báo cáo gửi thông báo", "Đã gửi: 3/4", "Đã chặn bot: 1", "Không gửi được: 0")
    assert not any("vượt chỉ tiêu" in text for text in cast.hospital.bot_texts())

    async with live_database.sessions() as session:
        blocked = await session.scalar(
            select(Identity.blocked_at).where(Identity.platform_user_id == str(quitter.user_id))
        )
    assert blocked is not None, "the bot remembers who blocked it, and stops writing to them"
    await admin.send("/broadcast")
    await admin.send("Nhắc lại: hạn nộp 31/5.")
    await admin.tap("Tất cả đoàn viên", await admin.expect("Gửi tới ai?"))
    await admin.tap("Huỷ", await admin.expect("Xem trước", "3 nơi nhận"))
    await admin.expect("Đã huỷ thông báo")
    await admin.send("/broadcast")
    await admin.expect("Gõ nội dung")
    await admin.send("Nhắc hạn nộp. " * 250)  # too long: what to do with a notice (it has no attachments step)
    too_long = await admin.expect("Thông báo quá dài (3499 ký tự). Tối đa 3000 ký tự")
    assert "tệp đính kèm" not in too_long.plain_text, too_long.plain_text
    await admin.send("huy")  # the cancel word typed, as elsewhere: not a notice for every member
    await admin.expect("Đã huỷ thông báo")
    assert not any("Gửi tới ai?" in text for text in admin.bot_texts()[-2:])


async def test_a_broadcast_confirmed_at_night_waits_for_the_morning(
    cast: Cast, live_bot: InProcessBot, live_database: Database
) -> None:
    live_bot.clock.set(local(2022, 4, 21, 22, 30))
    admin = cast.admin
    await admin.send("/broadcast")
    await admin.send("Sáng mai họp trực tuyến lúc 8 giờ.")
    await admin.tap("Tất cả chủ tịch", await admin.expect("Gửi tới ai?"))
    preview = await admin.expect("Xem trước", "tất cả chủ tịch CĐCS", "gửi lúc 07:00 22/04/2022")
    await admin.tap("Gửi tới 1 nơi nhận", preview)
    await admin.expect("đang được gửi tới 1 nơi nhận", "sau giờ yên lặng")
    async with live_database.sessions() as session:
        row = await session.scalar(select(OutboxMessage).where(OutboxMessage.purpose == "broadcast",
                                                               OutboxMessage.chat_id == str(cast.chair.user_id))
                                   .order_by(OutboxMessage.id.desc()))  # fmt: skip
    assert row is not None and row.next_attempt_at == local(2022, 4, 22, 7, 0) and row.sent_at is None
    await cast.chair.settle()
    assert not any("họp trực tuyến" in text for text in cast.chair.bot_texts())

    live_bot.clock.set(local(2022, 4, 22, 7, 0, 30))
    await cast.chair.expect("Sáng mai họp trực tuyến lúc 8 giờ.")
    await admin.expect("Báo cáo gửi thông báo", "Đã gửi: 1/1")


async def test_a_broadcast_to_hundreds_of_chats_stays_within_telegrams_limits(
    emulator: TelegramEmulator, cast: Cast, live_database: Database
) -> None:
    """Members are added straight to the database (registering 300 people by chat would take minutes)."""
    first_id = 700_000 + (0 if "sqlite" in live_database.engine.url.drivername else 10_000)
    async with live_database.sessions() as session, session.begin():
        branch = await session.scalar(select(Branch).where(Branch.code == "MAU006"))
        assert branch is not None
        for user_id in range(first_id, first_id + CROWD):
            emulator.add_user(user_id, first_name=f"Đoàn viên {user_id}")
            identity = await queries.get_or_create_identity(session, "telegram", str(user_id), str(user_id), "", "vi")
            await queries.register_member(session, identity, f"Đoàn Viên Số {user_id}", branch)
    rate_limited_before = emulator.rate_limited
    admin = cast.admin
    await admin.send("/broadcast")
    await admin.send("Tuần lễ sáng kiến bắt đầu từ hôm nay.")
    await admin.tap("Tất cả đoàn viên", await admin.expect("Gửi tới ai?"))
    total = CROWD + 3
    await admin.tap(f"Gửi tới {total} nơi nhận", await admin.expect("Xem trước", f"{total} nơi nhận"))
    await admin.expect("Báo cáo gửi thông báo", f"Đã gửi: {total}/{total}", timeout=60)
    for user_id in (first_id, first_id + CROWD // 2, first_id + CROWD - 1):
        assert any("Tuần lễ sáng kiến" in m.plain_text for m in emulator.chat(user_id) if m.from_bot)
    assert emulator.rate_limited == rate_limited_before == 0, f"over Telegram's limits: {emulator.rate_limited_sends}"


async def test_progress_offers_to_remind_the_chairs_of_the_units_behind_their_quota(
    emulator: TelegramEmulator, cast: Cast, live_database: Database
) -> None:
    """Every sample unit has a quota and nothing recognised here, except MAU005, whose quota is taken away:
    it is behind nothing, so its chair is left out."""
    done = await invite_chair(cast.admin, Person(emulator, "Vũ Văn Đạt Chỉ Tiêu"), "MAU005", "Vũ Văn Đạt Chỉ Tiêu")
    async with live_database.sessions() as session, session.begin():
        mau005 = select(Branch.id).where(Branch.code == "MAU005").scalar_subquery()
        await session.execute(update(BranchQuota).where(BranchQuota.branch_id == mau005).values(quota=0))
    admin = cast.admin
    await admin.send("/progress")
    progress = await admin.expect("Chậm nhất")
    await admin.tap("Nhắc CĐCS chưa đạt chỉ tiêu", progress)
    await admin.expect("Nhắc các CĐCS chưa đạt chỉ tiêu", "Người nhận: chủ tịch các CĐCS chưa đạt", "Gõ nội dung")
    text = "Các CĐCS chưa đạt chỉ tiêu đề nghị đôn đốc đoàn viên gửi sáng kiến trước 31/5."
    await admin.send(text)
    preview = await admin.expect("Xem trước", text, "chủ tịch của 159 CĐCS chưa đạt chỉ tiêu", "1 nơi nhận")
    await admin.tap("Gửi tới 1 nơi nhận", preview)
    await cast.chair.expect(text)
    await admin.expect("Báo cáo gửi thông báo", "Đã gửi: 1/1")
    await done.settle()
    assert not any(text in t for t in done.bot_texts()), "a unit with no quota to reach is not reminded"
    stored = (await broadcasts(live_database))[-1]
    assert (stored.text, stored.audience, stored.recipients) == (text, "behind", 1)
