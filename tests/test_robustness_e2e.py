"""Nothing a person sends can crash the bot, reach someone else's draft, or lose what they typed."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.sandbox.telegram_emulator import TelegramEmulator
from storage.models import BotProcess as BotProcessRow
from storage.models import InboxUpdate, ProcessedUpdate
from tests.harness import ADMIN_ID, TITLE, TOKEN, BotProcess, Database, Person, answer, eventually, register

pytestmark = pytest.mark.asyncio(loop_scope="module")

FORGED_PAYLOADS = [
    "w:1:title:x", "w:abc:title:<", "w:999999:summary:go", "w::::", "w", "d:r:-1", "d:del:99999",
    "d:delok:1", "reg:p:-5", "reg:p:99999", "reg:b:NOPE", "reg:me", "zzz", "w:1:summary:e999", "d:new:extra",
]  # fmt: skip


async def test_forged_buttons_and_odd_messages_get_answers_and_change_nothing(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    victim = Person(emulator, "Nạn Nhân Một")
    await register(victim, name="Nạn Nhân Một")
    await victim.send("/new")
    await answer(victim, "điều kiện tham gia", tap="Đúng, đủ cả 3")
    await victim.expect("Bước 2/16")
    await victim.send(TITLE)
    await victim.expect("Bước 3/16")
    [victims_draft] = await database.initiatives_of(victim.user_id)

    attacker = Person(emulator, "Kẻ Lạ")
    await attacker.send("/start b_" + "X" * 5000)
    await attacker.expect("Không tìm thấy CĐCS có mã «" + "X" * 32 + "»")
    await register(attacker, name="Kẻ Lạ Mặt")
    # Without a draft of their own, then in the middle of one: each forged press gets exactly one answer.
    await attacker.send("/drafts")
    no_drafts = await attacker.expect("chưa có bản nháp")
    without_draft = [p for p in FORGED_PAYLOADS if p.startswith("w")] + [f"w:{victims_draft.id}:title:<"]
    answered_before = len(attacker.bot_texts())
    for payload in without_draft:
        await emulator.user_presses(attacker.user_id, no_drafts, payload)
        await attacker.expect()
    await attacker.settle()
    assert len(attacker.bot_texts()) - answered_before == len(without_draft) + 1  # and the /help probe of settle()
    await attacker.send("/new")
    question = await attacker.expect("Bước 1/16")
    payloads = [
        *FORGED_PAYLOADS,
        f"w:{victims_draft.id}:title:<",
        f"d:r:{victims_draft.id}",
        f"d:delok:{victims_draft.id}",
    ]
    answered_before = len(attacker.bot_texts())
    for payload in payloads:
        await emulator.user_presses(attacker.user_id, question, payload)
        await attacker.expect()  # its answer (a refusal, or the question again)
    texts = ("/" + "a" * 300, "/skip", "<script>alert(1)</script>", "🤖" * 3000, "\u0000\u0007")
    for text in texts:
        await attacker.send(text)
        await attacker.expect()
    await attacker.send_sticker()
    await attacker.expect()
    await attacker.settle()
    answers = len(attacker.bot_texts()) - answered_before
    assert answers == len(payloads) + len(texts) + 1 + 1, "exactly one answer to each press and message"
    await attacker.send("/start@sangkien_test_bot")  # in the middle of a new initiative: where they were
    resumed = await attacker.expect("Bước 1/16", "điều kiện tham gia")
    assert "#None" not in resumed.plain_text and "đang mô tả dở một sáng kiến mới" in resumed.plain_text

    [still_there] = await database.initiatives_of(victim.user_id)
    assert (still_there.title, still_there.status, still_there.current_step) == (TITLE, "draft", "type")
    await victim.send("/drafts")
    await victim.expect("Bản nháp của đồng chí (1)", TITLE)


async def test_vietnamese_by_default_whatever_the_telegram_language_and_lang_switches(
    emulator: TelegramEmulator, bot_under_test: BotProcess
) -> None:
    anh = Person(emulator, "Hoàng Văn Anh")
    emulator.users[anh.user_id]["language_code"] = "en"
    await anh.send("/start")
    await anh.expect("Chọn công đoàn cơ sở")
    await anh.send("/lang en")
    await anh.expect("English selected")
    await anh.send("/start")
    await anh.expect("Choose your grassroots union branch")
    await anh.send("/lang vi")
    await anh.expect("Đã chọn tiếng Việt")
    await anh.send("/lang")  # alone: which one is in use, and how to choose (it once said «Đã chọn tiếng Việt»)
    await anh.expect("Bot đang dùng tiếng Việt", "/lang en")


async def test_the_running_bots_own_log_never_holds_its_token(
    emulator: TelegramEmulator, bot_under_test: BotProcess
) -> None:
    """Found: only a log handler the test built itself was checked. Here the running bot's file download
    fails (the file server answers 502) and aiohttp's error quotes the file URL, which holds the token: the
    bot's log, as it was written, has the line with the token redacted."""
    admin = Person(emulator, "Quản Trị Nhật Ký", user_id=ADMIN_ID)
    await register(admin, "MAU004", "Quản Trị Nhật Ký")
    emulator.failing_downloads = True
    try:
        await admin.send_file("chi-tieu.csv", "code,name,quota_p1\nA1,Đơn vị A,1\n".encode())
        await admin.expect("Không tải được tệp")
    finally:
        emulator.failing_downloads = False
    log = bot_under_test.log_path.read_text(errors="replace")
    assert "could not download" in log and "<redacted>" in log, "the failure was logged, with its URL"
    assert TOKEN not in log and TOKEN.split(":", 1)[1] not in log


async def test_an_update_a_crash_caught_before_it_was_handled_is_handled_at_the_next_start(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    """Telegram forgets an update once the bot has polled past it: the bot keeps each batch in its inbox
    first. Here the bot is killed with "/help" kept but not handled (as a kill between the two leaves
    it); the next start answers it — and one kept by an earlier version (aiogram's names: "from_user"), and
    leaves alone one it cannot read without stopping."""
    person = Person(emulator, "Lê Thị Hồi Phục")
    await register(person, "MAU004", "Lê Thị Hồi Phục")
    await bot_under_test.kill()
    user = emulator.users[person.user_id]
    chat = {"id": person.user_id, "type": "private", "first_name": user["first_name"]}
    update = {"update_id": 990_001, "message": {
        "message_id": 990_001, "from": user, "chat": chat, "date": int(time.time()), "text": "/help",
        "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}}  # fmt: skip
    unreadable = {"update_id": 990_002, "message": {"message_id": 990_002, "text": "/help"}}  # no chat
    earlier_form = {"update_id": 990_003, "callback_query": {  # a button pressed
        "id": "990003", "from_user": user, "chat_instance": "1", "data": "reg:b:MAU004",
        "message": {"message_id": 1, "chat": chat, "date": "2026-12-03T08:00:00Z", "text": "Chọn CĐCS"}}}  # fmt: skip
    async with database.sessions() as session, session.begin():
        for kept in (update, unreadable, earlier_form):
            session.add(InboxUpdate(platform="telegram", update_key=str(kept["update_id"]), payload=json.dumps(kept),
                                    received_at=dt.datetime.now(dt.UTC)))  # fmt: skip
    await bot_under_test.start()
    await person.expect("Hướng dẫn", "/dulieu")
    await person.expect("Đồng chí đã đăng ký rồi")

    async with database.sessions() as session:
        claimed = set(await session.scalars(select(ProcessedUpdate.update_key)))
    assert {"990001", "990003"} <= claimed, "handled once, and claimed: the next start will not handle them again"
    assert "990002" not in claimed


async def test_a_reply_telegram_keeps_refusing_arrives_through_the_outbox(
    emulator: TelegramEmulator, bot_under_test: BotProcess
) -> None:
    """Every attempt of the direct reply fails (Telegram answers 502 four times): the person is waiting
    for it, so it is not dropped but left to the outbox, which delivers it."""
    person = Person(emulator, "Phan Văn Kiên")
    await register(person, "MAU004", "Phan Văn Kiên")
    emulator.inject_fault("sendMessage", 502, count=4, chat_id=person.user_id)
    await person.send("/help")
    await person.expect("Hướng dẫn", "/dulieu", timeout=60)
    assert sum("Hướng dẫn" in text for text in person.bot_texts()) == 1


async def test_when_a_steps_first_reply_is_left_to_the_outbox_the_next_waits_behind_it(
    emulator: TelegramEmulator, bot_under_test: BotProcess
) -> None:
    """Found by the soak: the welcome failed (four 502s) and went to the outbox, while the question after it
    was sent at once — the person read "Nhập họ và tên" before the welcome. The step's replies keep their order."""
    person = Person(emulator, "Lê Thị Thứ Tự")
    emulator.inject_fault("sendMessage", 502, count=4, chat_id=person.user_id)
    await person.send("/start b_MAU004")
    await person.expect("Nhập họ và tên", timeout=60)
    texts = person.bot_texts()
    assert [i for i, text in enumerate(texts) if "Chào mừng" in text] == [0], texts
    assert sum("Nhập họ và tên" in text for text in texts) == 1, texts


async def test_an_answer_a_kill_caught_between_its_step_and_its_send_arrives_after_the_restart(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    """The step committed, then the bot was killed while sending its answer (the send never arrived): the
    answer was journalled in the step's transaction, and the next process delivers it, once."""
    person = Person(emulator, "Đỗ Thị Tiếp Nối")
    await register(person, "MAU004", "Đỗ Thị Tiếp Nối")
    sending = emulator.hold_sends(person.user_id)
    await person.send("/help")
    await asyncio.wait_for(sending.wait(), timeout=15)
    await bot_under_test.kill()
    emulator.release_sends(person.user_id)
    await database.journal_grace_passed(person.user_id)  # not waited for: 15 s of the suite
    await bot_under_test.start()
    await person.expect("Hướng dẫn", "/dulieu", timeout=60)
    assert sum("Hướng dẫn" in text for text in person.bot_texts()) == 1


async def test_answers_sent_directly_leave_nothing_for_the_outbox(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    """A journalled answer is deleted once sent: if it stayed, the outbox would send it again."""
    person = Person(emulator, "Vũ Văn Gửi Ngay")
    await register(person, "MAU004", "Vũ Văn Gửi Ngay")
    await person.send("/help")
    await person.expect("Hướng dẫn")

    async def nothing_journalled() -> bool:
        return await database.outbox_rows_of(person.user_id) == 0

    await eventually(nothing_journalled)


def children_of(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(stat.parent.name))
    return found


def still_running(pids: set[int]) -> bool:
    return any(Path(f"/proc/{pid}").exists() for pid in pids)


async def test_an_export_is_built_in_a_worker_that_dies_with_a_killed_bot(
    emulator: TelegramEmulator, bot_under_test: BotProcess
) -> None:
    """The workbook is built in a process of its own (the bot's event loop stays free); when the bot is
    killed, that worker does not live on as an orphan holding the database and the bot's output."""
    admin = Person(emulator, "Quản Trị Xuất", user_id=ADMIN_ID)  # known as the admin at the first message
    await admin.send("/export")
    assert (await admin.expect_file(".xlsx", timeout=60)).startswith(b"PK")
    assert bot_under_test.process is not None
    workers = children_of(bot_under_test.process.pid)
    assert len(workers) >= 1, "the export ran in a worker process"
    await bot_under_test.kill()
    deadline = asyncio.get_running_loop().time() + 20
    while still_running(workers):
        assert asyncio.get_running_loop().time() < deadline, "the export worker outlived the killed bot"
        await asyncio.sleep(0.2)
    await bot_under_test.start()  # the module's fixture expects a running bot


async def test_sigterm_stops_the_bot_in_order_and_the_answer_in_hand_still_arrives(
    emulator: TelegramEmulator, bot_under_test: BotProcess, database: Database
) -> None:
    """systemd's stop (SIGTERM) in the middle of sending an answer: the bot finishes it, and leaves nothing
    behind for the next process — no journalled answer to send again, no share of the sending limits held.
    A second SIGTERM while it stops (an impatient operator) changes nothing."""
    person = Person(emulator, "Trịnh Văn Dừng Máy")
    await register(person, "MAU004", "Trịnh Văn Dừng Máy")
    sending = emulator.hold_sends(person.user_id)
    await person.send("/help")
    await asyncio.wait_for(sending.wait(), timeout=15)
    processes_before = await process_rows(database)  # the live bot's, and those of bots killed earlier
    assert bot_under_test.process is not None and bot_under_test.process.pid is not None
    pid = bot_under_test.process.pid
    stopped = asyncio.create_task(bot_under_test.terminate())

    def logged(text: str) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return text in bot_under_test.log_path.read_text(errors="replace")

        check.__doc__ = f"the bot logged {text!r}"
        return check

    await eventually(logged("SIGTERM: stopping"), timeout=15)
    os.kill(pid, signal.SIGTERM)
    await eventually(logged("already stopping"), timeout=15)
    emulator.release_sends(person.user_id)  # that attempt fails; the bot tries again before it exits
    assert await stopped == 0, bot_under_test.log_tail()
    assert sum("Hướng dẫn" in text for text in person.bot_texts()) == 1, "the answer arrived before the exit"
    assert await database.outbox_rows_of(person.user_id) == 0, "nothing journalled for the next process"
    assert await process_rows(database) == processes_before - 1, "its part of the sending limits handed back"
    await bot_under_test.start()  # the module's fixture expects a running bot


async def process_rows(database: Database) -> int:
    async with database.sessions() as session:
        return await session.scalar(select(func.count()).select_from(BotProcessRow)) or 0
