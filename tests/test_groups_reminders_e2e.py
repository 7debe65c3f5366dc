"""Groups and scheduled reminders through the real transport, with the bot's clock moved by the test.

The clock starts on Wednesday 20/04/2022 10:00 (phase 1 ends 31/05/2022) and only moves forward; the
tests run in order, as one campaign month: groups are linked, the weekly digest goes out (once, even
across a restart), an idle draft and a waiting review are nudged, quiet hours postpone, the phase
countdown runs, a group becomes a supergroup, another removes the bot, and two bot processes share
the work.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from bot.sandbox.telegram_emulator import TelegramEmulator
from storage.models import ChatGroup, OutboxMessage, OutboxStatus, ReminderRun
from tests.harness import (
    ADMIN_ID,
    Database,
    GroupChat,
    InProcessBot,
    Person,
    answer,
    eventually,
    invite_chair,
    local,
    register,
    submit_initiative,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


class Cast:
    def __init__(self, admin: Person, chair: Person, member: Person, branch_group: GroupChat, province: GroupChat):
        self.admin, self.chair, self.member = admin, chair, member
        self.branch_group, self.province = branch_group, province


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cast(emulator: TelegramEmulator, live_bot: InProcessBot) -> Cast:
    admin = Person(emulator, "Quản Trị Tỉnh", user_id=ADMIN_ID)
    await register(admin, "MAU004", "Quản Trị Tỉnh")
    chair = await invite_chair(admin, Person(emulator, "Lê Thị Chủ Tịch"), "MAU002", "Lê Thị Chủ Tịch")
    member = Person(emulator, "Nguyễn Văn Nhóm")
    await register(member, "MAU002", "Nguyễn Văn Nhóm")
    return Cast(admin, chair, member, GroupChat(emulator, "CĐ Bệnh viện — cả nhóm"), GroupChat(emulator, "Toàn tỉnh"))


async def move_clock(bot: InProcessBot, when: dt.datetime) -> int:
    """Move the bot's clock and let the scheduler finish this moment's pass; returns what that pass queued
    (0 when the background pass, woken by the clock, got there first: tick() returns only once the
    periods due now are claimed and committed by someone)."""
    bot.clock.set(when)
    assert bot.runtime is not None
    return await bot.runtime.scheduler.tick()


async def outbox_rows(database: Database, purpose: str, chat_id: int | None = None) -> list[OutboxMessage]:
    async with database.sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.purpose == purpose)
        if chat_id is not None:
            query = query.where(OutboxMessage.chat_id == str(chat_id))
        return list((await session.scalars(query.order_by(OutboxMessage.id))).all())


async def stored_group(database: Database, chat_id: int) -> ChatGroup | None:
    async with database.sessions() as session:
        return await session.scalar(select(ChatGroup).where(ChatGroup.chat_id == str(chat_id)))


async def test_groups_are_recorded_linked_by_role_and_ignore_chatter(
    emulator: TelegramEmulator, cast: Cast, live_database: Database
) -> None:
    group = cast.branch_group
    emulator.add_bot_to_group(cast.chair.user_id, group.chat_id)
    await group.expect("Chào cả nhóm", "/linkgroup")
    recorded = await stored_group(live_database, group.chat_id)
    assert recorded is not None and recorded.active and recorded.title == group.title
    assert recorded.branch_id is None and not recorded.is_province

    await group.send(cast.member, "Chào mọi người, tuần này ai gửi sáng kiến chưa?")
    await group.send(cast.member, "/new")
    invitation = await group.expect("tin nhắn riêng")
    assert "?start=nhom" in invitation.plain_text
    await group.send(cast.member, "/linkgroup")
    await group.expect("không có quyền")
    assert len(group.bot_texts()) == 3, "chatter gets no answer, and the wizard never runs in a group"

    await cast.chair.send("/linkgroup")  # in his private chat, as the help lists it: where to type it
    await cast.chair.expect("Lệnh /linkgroup gõ trong nhóm Zalo/Telegram của CĐCS", "«Thêm thành viên» → tìm tên bot")
    await group.send(cast.chair, "/linkgroup khong co dau")  # words that name no unit: what to type instead
    await group.expect("Không có CĐCS mã «khong co dau»", "vài từ trong tên đơn vị")
    await group.send(cast.chair, "/linkgroup benh vien")  # words of his unit's name: it, among all that hold them
    await group.expect("Đã liên kết nhóm với [MẪU] Bệnh viện Đa khoa tỉnh")
    await group.send(cast.member, "/new")
    invitation = await group.expect("tin nhắn riêng")
    assert "?start=b_MAU002" in invitation.plain_text, "a branch group invites straight into its branch"
    await group.send(cast.member, "/progress")
    await group.expect("Tiến độ Giai đoạn 1", "[MẪU] Bệnh viện Đa khoa tỉnh", "Được công nhận: 0/2", "Chờ xác nhận: 0")
    await group.send(cast.member, "/progress MAU009")  # another unit: the group's own, and where to see others
    await group.expect("[MẪU] Bệnh viện Đa khoa tỉnh", "Trong nhóm, /progress cho tiến độ của đơn vị mà nhóm theo dõi")
    await group.send(cast.member, "/unlinkgroup")  # refused as what it is: no «sáng kiến không tồn tại»
    refused = await group.expect("dành cho chủ tịch CĐCS và quản trị viên")
    assert "sáng kiến" not in refused.plain_text, refused.plain_text

    province = cast.province
    emulator.add_bot_to_group(cast.admin.user_id, province.chat_id)
    await province.expect("Chào cả nhóm")
    await province.send(cast.chair, "/linkgroup tinh")
    await province.expect("không có quyền")
    await province.send(cast.chair, "/linkgroup MAU003")
    await province.expect("không có quyền")
    await province.send(cast.admin, "/linkgroup tinh")
    first = await province.expect("Đã liên kết nhóm với toàn đơn vị")
    assert "Trước đây" not in first.plain_text
    await province.send(cast.member, "/progress")
    await province.expect("Công đoàn Viên chức tỉnh Phú Thọ", "Chưa CĐCS nào có sáng kiến được công nhận")
    await province.send(cast.admin, "/linkgroup MAU003")  # a link replaced is said, not done silently
    await province.expect("Đã liên kết nhóm với", "Trước đây nhóm liên kết với toàn đơn vị")
    await province.send(cast.admin, "/linkgroup tinh")
    await province.expect("Đã liên kết nhóm với toàn đơn vị", "Trước đây nhóm liên kết với [MẪU]")

    linked = await stored_group(live_database, group.chat_id)
    assert linked is not None and linked.branch_id is not None and linked.linked_by_member_id is not None
    province_row = await stored_group(live_database, province.chat_id)
    assert province_row is not None and province_row.is_province and province_row.branch_id is None


async def test_a_chair_links_his_group_by_a_name_another_unit_bears_whole(
    emulator: TelegramEmulator, cast: Cast, live_database: Database
) -> None:
    """«benh vien da khoa tinh» is the whole name of MAU002, and every word of his MAU022's («… – cơ sở 2»): a
    chair of MAU022 means his own (he was refused: the other unit's name, which he does not chair)."""
    second = await invite_chair(cast.admin, Person(emulator, "Đinh Văn Cơ Sở"), "MAU022", "Đinh Văn Cơ Sở")
    group = GroupChat(emulator, "CĐ Bệnh viện cơ sở 2")
    emulator.add_bot_to_group(second.user_id, group.chat_id)
    await group.expect("Chào cả nhóm")
    await group.send(second, "/linkgroup benh vien da khoa tinh")
    await group.expect("Đã liên kết nhóm với [MẪU] Bệnh viện Đa khoa tỉnh – cơ sở 2")
    linked = await stored_group(live_database, group.chat_id)
    assert linked is not None and linked.branch_id is not None
    await group.send(second, "/unlinkgroup")  # the digests below are the other groups'
    await group.expect("bỏ liên kết")


async def test_weekly_digest_goes_to_each_group_once_even_across_a_restart(
    cast: Cast, live_bot: InProcessBot, live_database: Database
) -> None:
    await move_clock(live_bot, local(2022, 4, 25, 7, 59))
    assert await outbox_rows(live_database, "digest") == [], "not before Monday 08:00"

    await move_clock(live_bot, local(2022, 4, 25, 8, 0, 30))
    digest = await cast.branch_group.expect("Bản tin tiến độ hằng tuần", "[MẪU] Bệnh viện Đa khoa tỉnh")
    assert "Được công nhận: 0/2" in digest.plain_text and "Còn 36 ngày" in digest.plain_text
    await cast.province.expect("Bản tin tiến độ hằng tuần", "Công đoàn Viên chức tỉnh Phú Thọ", "Chậm nhất")

    await live_bot.stop()
    await live_bot.start()
    assert await move_clock(live_bot, local(2022, 4, 25, 8, 10)) == 0
    assert len(await outbox_rows(live_database, "digest")) == 2
    await cast.member.settle()
    assert sum("Bản tin" in text for text in cast.branch_group.bot_texts()) == 1
    async with live_database.sessions() as session:
        runs = (await session.scalars(select(ReminderRun).where(ReminderRun.reminder == "weekly-digest"))).all()
    assert [(run.due_at, run.skipped) for run in runs] == [
        (local(2022, 4, 18, 8, 0), True),  # the baseline written when the bot first started
        (local(2022, 4, 25, 8, 0), False),
    ]


async def test_an_idle_draft_is_nudged_once_with_a_continue_button(
    emulator: TelegramEmulator, cast: Cast, live_bot: InProcessBot, live_database: Database
) -> None:
    writer = Person(emulator, "Trần Thị Nháp")
    await register(writer, "MAU002", "Trần Thị Nháp")
    await writer.send("/new")
    await answer(writer, "điều kiện tham gia", tap="Đúng, đủ cả 3")
    await answer(writer, "Tên sáng kiến", "Sổ tay điện tử cho điều dưỡng")
    await writer.expect("Bước 3/", "thuộc loại nào")

    await move_clock(live_bot, local(2022, 4, 27, 9, 30, 30))  # idle for two days only
    assert await outbox_rows(live_database, "draft_nudge") == []
    await move_clock(live_bot, local(2022, 4, 28, 9, 30, 30))
    nudge = await writer.expect("Sổ tay điện tử cho điều dưỡng", "3 ngày chưa có thêm câu trả lời")
    await writer.tap("Tiếp tục", nudge)
    await writer.expect("Bước 3/", "thuộc loại nào")

    await move_clock(live_bot, local(2022, 4, 29, 9, 30, 30))
    assert len(await outbox_rows(live_database, "draft_nudge", writer.user_id)) == 1, "one nudge per idle spell"


async def test_a_chair_is_nudged_about_reviews_waiting_too_long(
    emulator: TelegramEmulator, cast: Cast, live_bot: InProcessBot, live_database: Database
) -> None:
    author = Person(emulator, "Phạm Văn Gửi")
    await register(author, "MAU002", "Phạm Văn Gửi")
    number = await submit_initiative(author)
    await cast.chair.expect(f"Sáng kiến #{number} chờ xác nhận hồ sơ")
    await submit_initiative(cast.chair)  # his own waits too, for someone else: not counted in his nudge
    chairless = Person(emulator, "Đinh Văn Không Chủ Tịch")
    await register(chairless, "MAU009", "Đinh Văn Không Chủ Tịch")  # a unit with no chair on the bot
    await submit_initiative(chairless)

    await move_clock(live_bot, local(2022, 4, 30, 9, 0, 30))  # Saturday: chairs are left alone
    await move_clock(live_bot, local(2022, 5, 2, 9, 0, 30))
    await cast.chair.expect("Có 1 sáng kiến đã chờ đồng chí xác nhận hồ sơ hơn 2 ngày", "Chờ xác nhận")
    assert len(await outbox_rows(live_database, "review_nudge", cast.chair.user_id)) == 1
    # What no chair may verify (the chair's own, the chairless unit's) the admin is told of, with the units.
    await cast.admin.expect("Có 2 sáng kiến đã chờ xác nhận hồ sơ hơn 2 ngày mà không chủ tịch CĐCS nào",
                            "MAU002 (1), MAU009 (1)", "/pending", "/invite_chair")  # fmt: skip
    assert len(await outbox_rows(live_database, "review_nudge", cast.admin.user_id)) == 1


async def test_quiet_hours_postpone_a_reminder_rather_than_drop_it(
    cast: Cast, live_bot: InProcessBot, live_database: Database
) -> None:
    # The bot was down all Tuesday and comes back at 22:00: Tuesday 09:00's nudge waits for 07:00.
    await move_clock(live_bot, local(2022, 5, 3, 22, 0))
    nudges = await outbox_rows(live_database, "review_nudge", cast.chair.user_id)
    assert len(nudges) == 2
    assert nudges[-1].status == OutboxStatus.PENDING and nudges[-1].next_attempt_at == local(2022, 5, 4, 7, 0)
    await cast.chair.settle()
    assert sum("chờ đồng chí xác nhận hồ sơ hơn" in text for text in cast.chair.bot_texts()) == 1

    await move_clock(live_bot, local(2022, 5, 4, 7, 0, 30))
    await cast.chair.expect("Có 1 sáng kiến đã chờ đồng chí xác nhận hồ sơ hơn 2 ngày")


async def test_phase_countdown_on_the_configured_days_only_and_a_missed_day_is_caught_up(
    cast: Cast, live_bot: InProcessBot, live_database: Database
) -> None:
    await move_clock(live_bot, local(2022, 5, 16, 8, 0, 30))  # 15 days left: not a countdown day
    assert await outbox_rows(live_database, "countdown") == []
    await live_bot.stop()  # down over Tuesday 17/05 08:00, the 14-day countdown
    live_bot.clock.set(local(2022, 5, 18, 9, 0))
    await live_bot.start()
    await cast.branch_group.expect("Còn 13 ngày là hết Giai đoạn 1", "31/05/2022", "[MẪU] Bệnh viện Đa khoa tỉnh")
    await cast.province.expect("Còn 13 ngày là hết", "Công đoàn Viên chức tỉnh Phú Thọ")
    assert await move_clock(live_bot, local(2022, 5, 18, 9, 5)) == 0
    await cast.member.settle()
    assert len(await outbox_rows(live_database, "countdown")) == 2, "one countdown per group, not one per missed day"
    async with live_database.sessions() as session:
        runs = (await session.scalars(select(ReminderRun).where(ReminderRun.reminder == "phase-countdown"))).all()
    sent = [(run.due_at, run.recipients) for run in runs if not run.skipped]
    assert sent[-1] == (local(2022, 5, 17, 8, 0), 2), "the missed countdown day was sent, with today's count"


async def test_a_group_that_became_a_supergroup_is_followed(
    emulator: TelegramEmulator, cast: Cast, live_bot: InProcessBot, live_database: Database
) -> None:
    old_id = cast.branch_group.chat_id
    new_id = old_id - 1_000_000_000_000
    emulator.upgrade_group(old_id, new_id)
    await move_clock(live_bot, local(2022, 5, 24, 8, 0, 30))  # 7 days left
    moved = await emulator.wait_for(new_id, lambda m: "Còn 7 ngày là hết" in m.plain_text)
    assert "[MẪU] Bệnh viện Đa khoa tỉnh" in moved.plain_text
    group = await stored_group(live_database, new_id)
    assert group is not None and group.branch_id is not None and await stored_group(live_database, old_id) is None
    cast.branch_group.chat_id = new_id
    cast.branch_group.cursor = moved.seq


async def test_a_group_that_removed_the_bot_gets_nothing_more(
    emulator: TelegramEmulator, cast: Cast, live_bot: InProcessBot, live_database: Database
) -> None:
    emulator.remove_bot_from_group(cast.admin.user_id, cast.province.chat_id)

    async def recorded_as_inactive() -> bool:
        """the province group is recorded as inactive"""
        group = await stored_group(live_database, cast.province.chat_id)
        return group is not None and not group.active

    await eventually(recorded_as_inactive)
    province = await stored_group(live_database, cast.province.chat_id)
    assert province is not None and province.is_province, "the link is kept, for when the bot is added back"
    before = len(await outbox_rows(live_database, "countdown", cast.province.chat_id))
    await move_clock(live_bot, local(2022, 5, 28, 8, 0, 30))  # 3 days left
    await cast.branch_group.expect("Còn 3 ngày là hết")
    assert len(await outbox_rows(live_database, "countdown", cast.province.chat_id)) == before


async def test_two_bot_processes_send_each_period_once(
    emulator: TelegramEmulator, cast: Cast, live_bot: InProcessBot, live_database: Database
) -> None:
    second = InProcessBot(emulator, live_bot.database_url, live_bot.clock)
    await second.start()
    monday = local(2022, 5, 30, 8, 0, 30)  # the weekly digest, and 1 day left
    try:
        live_bot.clock.set(monday)
        assert live_bot.runtime is not None and second.runtime is not None
        await asyncio.gather(live_bot.runtime.scheduler.tick(), second.runtime.scheduler.tick())
        await cast.branch_group.expect_each("Còn 1 ngày là hết", "Bản tin tiến độ hằng tuần")
        await cast.member.settle()
    finally:
        await second.stop()
    async with live_database.sessions() as session:
        runs = await session.scalar(
            select(func.count()).select_from(ReminderRun).where(ReminderRun.due_at == local(2022, 5, 30, 8, 0))
        )
    assert runs == 2, "one row per period (digest, countdown), whoever claimed it"
    for purpose in ("digest", "countdown"):
        rows = [row for row in await outbox_rows(live_database, purpose) if row.created_at == monday]
        assert [(row.chat_id, row.status) for row in rows] == [(str(cast.branch_group.chat_id), OutboxStatus.SENT)]
