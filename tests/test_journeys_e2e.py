"""The members' and chairs' journeys on both channels, from one suite: Telegram (buttons) and Zalo
(numbered options typed as numbers or words). The same handlers serve both; each test runs once per
channel (and once per database), against the Telegram and Zalo emulators.
"""

from __future__ import annotations

import datetime as dt

import aiohttp
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bot.sandbox.telegram_emulator import TelegramEmulator
from bot.sandbox.zalo_emulator import ZaloEmulator, ZaloStoredMessage
from handlers.reports import forms
from storage import reply_journal
from storage.models import Identity, OutboxMessage, Status
from tests.harness import (
    ADMIN_ID,
    METRICS_TOKEN,
    PROBLEM,
    TITLE,
    AnyPerson,
    Database,
    EffortMeter,
    InProcessBot,
    Person,
    ZaloPerson,
    answer,
    invite_chair,
    local,
    register,
    submit_initiative,
)
from tests.test_progress import png_size

pytestmark = pytest.mark.asyncio(loop_scope="module")
CHANNELS = ["telegram", "zalo"]


class People:
    """Makes people on the channel under test."""

    def __init__(self, channel: str, telegram: TelegramEmulator, zalo: ZaloEmulator) -> None:
        self.channel, self.telegram, self.zalo = channel, telegram, zalo

    def new(self, name: str) -> AnyPerson:
        return ZaloPerson(self.zalo, name) if self.channel == "zalo" else Person(self.telegram, name)


@pytest.fixture(params=CHANNELS)
def people(
    request: pytest.FixtureRequest, emulator: TelegramEmulator, zalo_emulator: ZaloEmulator, live_bot: InProcessBot
) -> People:
    return People(request.param, emulator, zalo_emulator)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def admin(emulator: TelegramEmulator, live_bot: InProcessBot) -> Person:
    admin = Person(emulator, "Quản Trị Tỉnh", user_id=ADMIN_ID)
    await register(admin, "MAU004", "Quản Trị Tỉnh")
    return admin


async def test_registration_by_search_and_choice(people: People, live_database: Database) -> None:
    hoa = people.new("Nguyễn Thị Hoa")
    await hoa.send("/start")
    await hoa.expect("Chào mừng đồng chí", "Sáng kiến Bot")
    await hoa.expect("Chọn công đoàn cơ sở")
    await hoa.send("benh vien da khoa")
    found = await hoa.expect("phù hợp")
    await hoa.tap("[MẪU] Bệnh viện Đa khoa tỉnh", found)
    await hoa.expect("Nhập họ và tên")
    await hoa.send("hoa")
    await hoa.expect("ít nhất 2 từ")
    await hoa.send("Nguyễn Thị Hoa")
    await hoa.expect("Đăng ký xong", "Nguyễn Thị Hoa", "[MẪU] Bệnh viện Đa khoa tỉnh")
    member = await live_database.member_of(hoa.user_id)
    assert member is not None and member.branch.code == "MAU002"


async def test_the_wizard_with_bad_answers_keeps_what_was_typed(people: People, live_database: Database) -> None:
    lan = people.new("Trần Thị Lan")
    await register(lan, "MAU002", "Trần Thị Lan")
    await lan.send("/new")
    await answer(lan, "điều kiện tham gia", "có")
    await answer(lan, "Tên sáng kiến", "Ngắn")
    await lan.expect("hơi ngắn", "Bước 2/")
    await lan.send(TITLE)
    question = await lan.expect("Bước 3/", "thuộc loại nào")
    await lan.send("loại gì đó")
    await lan.expect("chọn", "Bước 3/")
    await lan.tap("1.2 Giải pháp quản lý", question)
    await answer(lan, "Lĩnh vực áp dụng", tap="Y tế")
    await lan.send_unsupported()
    await lan.expect("bằng chữ", "Thực trạng")
    await lan.send(PROBLEM)
    await lan.expect("Nội dung giải pháp")
    await lan.tap("Quay lại")
    back = await lan.expect("Thực trạng", "Đang lưu")
    assert PROBLEM[:40] in back.plain_text
    await lan.tap("Giữ nguyên", back)  # the saved answer kept with one tap, not typed again
    await lan.expect("Nội dung giải pháp")
    await lan.tap("Quay lại")
    await lan.expect("Thực trạng", "Đang lưu", "Giữ nguyên")
    if people.channel == "zalo":
        await lan.send("dừng")  # words work where there are no buttons
    else:
        await lan.tap("Dừng")
    await lan.expect("Đã tạm dừng", "vẫn được giữ")
    [draft] = await live_database.initiatives_of(lan.user_id)
    assert (draft.title, draft.type_code, draft.field, draft.problem) == (TITLE, "1.2", "Y tế", PROBLEM)


async def test_a_draft_resumes_at_its_step_after_a_restart(
    people: People, live_bot: InProcessBot, live_database: Database
) -> None:
    minh = people.new("Lê Văn Minh")
    await register(minh, "MAU003", "Lê Văn Minh")
    await minh.send("/new")
    await answer(minh, "điều kiện tham gia", tap="Đúng, đủ cả 3")
    await answer(minh, "Tên sáng kiến", "Phần mềm quản lý hồ sơ đoàn viên trực tuyến")
    await minh.expect("Bước 3/")
    await live_bot.stop()
    await live_bot.start()
    await minh.send("/start")
    resumed = await minh.expect("đang mô tả dở", "Bước 3/", "thuộc loại nào")
    await minh.tap("1.5", resumed)
    await minh.expect("Bước 4/", "Lĩnh vực")


async def test_an_answer_delivered_just_before_a_stop_is_not_sent_again_after_it(
    people: People, live_bot: InProcessBot, live_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delivered answer's journal row is deleted a moment later, with the others delivered meanwhile
    (storage/reply_journal.py); a stop within that moment deletes it, or the next start would send it again."""
    monkeypatch.setattr(reply_journal, "DELETE_DELAY", 600)  # only the stop deletes it
    hai = people.new("Vũ Văn Hải")
    await register(hai, "MAU003", "Vũ Văn Hải")
    await hai.send("/help")
    await hai.expect("Hướng dẫn", "/lang en English")  # the language too: a member found it nowhere

    assert await live_database.outbox_rows_of(hai.user_id) > 0, "the delivered answers wait to be deleted together"
    await live_bot.stop()
    assert await live_database.outbox_rows_of(hai.user_id) == 0
    await live_bot.start()


async def test_submit_then_the_chair_verifies(people: People, admin: Person, live_database: Database) -> None:
    chair = await invite_chair(admin, people.new("Chu Tịch Trường"), "MAU005", "Chu Tịch Trường")
    author = people.new("Đỗ Văn Tác Giả")
    await register(author, "MAU005", "Đỗ Văn Tác Giả")
    number = await submit_initiative(author)
    card = await chair.expect(f"Sáng kiến #{number} chờ xác nhận", "Đỗ Văn Tác Giả")
    if people.channel == "zalo":
        await chair.send(f"xác nhận {number}")  # the card's option by its words and the initiative's number
    else:
        await chair.tap("Xác nhận hồ sơ", card)
    await chair.expect(f"Đã xác nhận hồ sơ sáng kiến #{number}")
    await author.expect(f"Sáng kiến #{number}", "xác nhận (Chu Tịch Trường", "được tính vào chỉ tiêu")
    assert (await live_database.initiative(number)).status == Status.RECOGNISED


async def test_forms_that_cannot_be_made_leave_the_submission_and_say_how_to_ask_again(
    people: People, live_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    author = people.new("Vũ Thị Biểu Mẫu")
    await register(author, "MAU005", "Vũ Thị Biểu Mẫu")
    number = await submit_initiative(author)

    def broken(*_: object) -> bytes:
        raise OSError("no space left on device")

    monkeypatch.setattr(forms, "description", broken)
    await author.send(f"/docx {number}")
    await author.expect(f"Chưa tạo được Đơn và Mô tả sáng kiến #{number}", f"/docx {number}")
    assert (await live_database.initiative(number)).status == Status.SUBMITTED
    monkeypatch.undo()
    await author.send(f"/docx {number}")
    await author.expect(f"Mô tả sáng kiến #{number}")


async def scrape(live_bot: InProcessBot, token: str = METRICS_TOKEN) -> dict[tuple[str, tuple], float]:
    """The /metrics page as {(sample name, sorted labels): value}."""
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http, http.get(f"{live_bot.web_url}/metrics", headers=headers) as reply:
        assert reply.status == 200, await reply.text()
        text = await reply.text()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}  # fmt: skip


def channel_total(samples: dict[tuple[str, tuple], float], name: str, channel: str) -> float:
    return sum(
        value for (sample, labels), value in samples.items() if sample == name and ("channel", channel) in labels
    )


async def test_metrics_count_a_journey_and_need_the_token(
    people: People, admin: Person, live_bot: InProcessBot
) -> None:
    chair = await invite_chair(admin, people.new("Chủ Tịch Đo Đếm"), "MAU006", "Chủ Tịch Đo Đếm")
    before = await scrape(live_bot)
    author = people.new("Phan Văn Đếm")
    meter = EffortMeter(author)
    await register(author, "MAU006", "Phan Văn Đếm")
    number = await submit_initiative(author)
    await chair.expect(f"Sáng kiến #{number} chờ xác nhận")
    await author.send(f"/docx {number}")
    await author.expect(f"Mô tả sáng kiến #{number}")
    effort = meter.read()
    after = await scrape(live_bot)
    channel = people.channel
    handled = channel_total(after, "sangkien_updates_total", channel) - channel_total(
        before, "sangkien_updates_total", channel
    )
    assert handled == effort.typed + effort.taps, "every message and press of the member, once"
    timed = "sangkien_update_seconds_count"
    assert channel_total(after, timed, channel) - channel_total(before, timed, channel) == handled
    sent = "sangkien_deliveries_total"
    assert channel_total(after, sent, channel) > channel_total(before, sent, channel), "the chair's notice went out"
    word = ("sangkien_exports_total", (("kind", "word"),))
    assert ("sangkien_outbox_pending", ()) in after and after.get(word, 0) > before.get(word, 0), "the forms counted"
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            async with http.get(f"{live_bot.web_url}/metrics", headers=headers) as reply:
                assert reply.status == 404


async def test_request_changes_resubmit_then_reject(people: People, admin: Person, live_database: Database) -> None:
    chair = await invite_chair(admin, people.new("Chu Tịch Sáu"), "MAU006", "Chu Tịch Sáu")
    author = people.new("Vũ Thị Sửa")
    await register(author, "MAU006", "Vũ Thị Sửa")
    first = await submit_initiative(author)
    second = await submit_initiative(author)
    await chair.expect(f"Sáng kiến #{first} chờ xác nhận")
    await chair.expect(f"Sáng kiến #{second} chờ xác nhận")
    first_card = next(m for m in reversed(chair.emulator.chat(chair.user_id))
                      if m.from_bot and f"Sáng kiến #{first} chờ xác nhận" in m.plain_text)  # fmt: skip
    await chair.tap("Cần bổ sung", first_card)  # the older card, answered after a newer one arrived
    await chair.expect(f"Yêu cầu bổ sung sáng kiến #{first}")
    await chair.send("Cần ghi rõ số liệu trước và sau khi áp dụng")
    await chair.expect(f"Đã gửi yêu cầu bổ sung sáng kiến #{first}")
    notice = await author.expect(f"Sáng kiến #{first}", "cần bổ sung", "Cần ghi rõ số liệu")
    if people.channel == "zalo":  # Zalo cannot edit the card: its change comes as a message, naming it once
        await chair.settle()
        changed = [text for text in chair.bot_texts() if f"#{first}: đã yêu cầu bổ sung" in text]
        assert changed and all(text.count(f"#{first}") == 1 for text in changed), changed
    assert (await live_database.initiative(second)).status == Status.SUBMITTED
    await author.tap("Sửa và gửi lại", notice)
    summary = await author.expect("Tóm tắt sáng kiến", "chưa sửa mục nào so với lần gửi trước")
    await author.tap("Gửi lại, không sửa gì", summary)  # sent again as it was: said so
    await author.expect(f"Đã gửi lại sáng kiến #{first}", "không sửa mục nào")
    again = await chair.expect(f"Sáng kiến #{first} chờ xác nhận")
    await chair.tap("Từ chối", again)
    reasons = await chair.expect(f"Từ chối sáng kiến #{first}")
    await chair.tap("Trùng lặp", reasons)
    await chair.expect(f"Đã từ chối sáng kiến #{first}")
    await author.expect(f"Sáng kiến #{first}", "không được xác nhận", "Trùng lặp với sáng kiến đã có")
    assert (await live_database.initiative(first)).status == Status.REJECTED
    assert (await live_database.initiative(second)).status == Status.SUBMITTED, "the other card is untouched"


async def test_progress_for_a_member_with_the_chart(people: People) -> None:
    tam = people.new("Hà Văn Tâm")
    await register(tam, "MAU007", "Hà Văn Tâm")
    await tam.send("📊 Tiến độ" if people.channel == "telegram" else "tiến độ")  # the menu, tapped or typed
    await tam.expect("Tiến độ Giai đoạn 1", "Được công nhận: 0/", "ngày")
    chart = await tam.expect("Biểu đồ tiến độ Giai đoạn 1")
    if isinstance(chart, ZaloStoredMessage):  # a photo Zalo fetched from the bot's web app
        content = people.zalo.fetched[chart.message_id]
    else:
        content = people.telegram.files[chart.photo[-1]["file_id"]]
    width, height = png_size(content)
    assert width >= 500 and height >= 400


async def test_an_idle_draft_nudge_reaches_the_member_on_their_channel(
    people: People, live_bot: InProcessBot, live_database: Database
) -> None:
    writer = people.new("Phan Thị Nhắc")
    await register(writer, "MAU008", "Phan Thị Nhắc")
    await writer.send("/new")
    await answer(writer, "điều kiện tham gia", "có")
    await answer(writer, "Tên sáng kiến", "Bảng theo dõi ca trực điện tử")
    await writer.expect("Bước 3/")
    today = live_bot.clock.now.astimezone(live_bot.config.campaign.tz).date()
    in_four_days = today + dt.timedelta(days=4)  # the daily 09:30 run after 3 idle days
    live_bot.clock.set(local(in_four_days.year, in_four_days.month, in_four_days.day, 9, 30, 30))
    nudge = await writer.expect("Bảng theo dõi ca trực điện tử", "chưa có thêm câu trả lời")
    await writer.tap("Tiếp tục", nudge)
    await writer.expect("Bước 3/", "thuộc loại nào")
    async with live_database.sessions() as session:
        rows = (await session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "draft_nudge"))).all()
        platforms = {row.platform for row in rows}
        mine = await session.scalar(select(Identity).where(Identity.platform_user_id == str(writer.user_id)))
    assert mine is not None and mine.platform in platforms
