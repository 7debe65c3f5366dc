"""Two processes serving one bot (`sangkien serve` twice behind one address) keep together to Telegram's
limit of 30 messages a second: the emulator answers 429 beyond it, and two processes that each kept to 30
met hundreds in one benchmark run (bot/limit_sharing.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools

import pytest

from bot.sandbox.telegram_emulator import TelegramEmulator
from storage import processes
from tests.harness import FakeClock, InProcessBot, eventually, prepare_database

pytestmark = pytest.mark.asyncio(loop_scope="module")
MEMBERS = range(810_000, 810_090)


async def test_two_processes_send_within_telegrams_limit_together_and_one_alone_has_it_whole(
    emulator: TelegramEmulator, database_url: str
) -> None:
    await prepare_database(database_url)
    clock = FakeClock(dt.datetime(2022, 4, 20, 10, 0, tzinfo=dt.UTC))
    first, second = (InProcessBot(emulator, database_url, clock, webhooks=True) for _ in range(2))
    await first.start()
    await second.start()  # returns once the second serves: the sends follow at once
    try:
        assert first.runtime is not None and second.runtime is not None
        sharings = (first.runtime.sharing, second.runtime.sharing)
        assert [s.processes for s in sharings] == [2, 2], "the second served only once the first had counted it"
        for user_id in MEMBERS:
            emulator.add_user(user_id, first_name=f"Đoàn viên {user_id}")
        refused_before = emulator.rate_limited
        senders = itertools.cycle((first.runtime, second.runtime))
        sends = [next(senders).telegram.bot.send_message(user_id, "Nhắc nộp sáng kiến") for user_id in MEMBERS]
        await asyncio.wait_for(asyncio.gather(*sends), timeout=60)
        assert all(any(m.from_bot for m in emulator.chat(user_id)) for user_id in MEMBERS)
        assert emulator.rate_limited == refused_before, f"together over 30 a second: {emulator.rate_limited_sends}"

        await second.stop()

        async def first_alone() -> bool:
            """the first process counts itself alone once the second stopped"""
            sharings[0].loop.wake()
            return sharings[0].processes == 1

        # before the second's lease could pass: it said it stopped
        await eventually(first_alone, timeout=processes.LEASE.total_seconds() / 2)
    finally:
        await second.stop()
        await first.stop()
