"""Benchmark: an admin's broadcast to N private chats against the limit-enforcing emulator.

Telegram allows about 30 messages a second per bot, so N chats take at least N / 30 seconds. The bot's
whole runtime (polling, outbox worker, scheduler) runs in this process against the emulator, which
answers 429 to any send over the limits. The admin drives /broadcast through the chat; the time runs
from the confirming tap to the delivery report. Prints the elapsed time, the limit-implied minimum, their
ratio, and the 429s the emulator had to answer (a well-behaved bot causes none). Not a pass/fail test.
Run: `make bench-broadcast` (options: --chats N, --database URL).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select

from bot.sandbox.telegram_emulator import TELEGRAM_LIMITS, TelegramEmulator
from storage.engine import create_engine
from storage.models import Branch, Identity, Member
from tests.harness import ADMIN_ID, TOKEN, FakeClock, InProcessBot, Person, local, prepare_database, register

FIRST_CHAT = 2_000_000


async def add_members(database_url: str, emulator: TelegramEmulator, count: int) -> None:
    """Registered members with private chats, written in bulk (registering them by chat would take hours)."""
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        branch_id = (await connection.execute(select(Branch.id).where(Branch.code == "MAU002"))).scalar_one()
        chats = range(FIRST_CHAT, FIRST_CHAT + count)
        for user_id in chats:
            emulator.add_user(user_id, first_name=f"Đoàn viên {user_id}")
        members = [{"full_name": f"Đoàn Viên {user_id}", "branch_id": branch_id} for user_id in chats]
        ids = (await connection.execute(insert(Member).returning(Member.id), members)).scalars().all()
        identities = [
            {"platform": "telegram", "platform_user_id": str(user_id), "chat_id": str(user_id), "member_id": member_id,
             "display_name": "", "language": "vi", "flow_data": {}}
            for user_id, member_id in zip(chats, ids, strict=True)
        ]  # fmt: skip
        await connection.execute(insert(Identity), identities)
    await engine.dispose()


async def run(chats: int, database_url: str | None) -> None:
    emulator = TelegramEmulator()
    emulator.add_bot(TOKEN)
    await emulator.start()
    folder = Path(tempfile.mkdtemp(prefix="sangkien-bench-"))
    database_url = database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
    await prepare_database(database_url)
    bot = InProcessBot(emulator, database_url, FakeClock(local(2022, 4, 20, 10)))
    await bot.start()
    try:
        admin = Person(emulator, "Quản Trị Tỉnh", user_id=ADMIN_ID)
        await register(admin, "MAU004", "Quản Trị Tỉnh")
        await add_members(database_url, emulator, chats)
        await admin.send("/broadcast")
        await admin.send("Thông báo thử nghiệm hiệu năng.")
        await admin.tap("Tất cả đoàn viên", await admin.expect("Gửi tới ai?"))
        total = chats + 1
        preview = await admin.expect("Xem trước", f"{total} nơi nhận")
        started = time.perf_counter()
        await admin.tap(f"Gửi tới {total} nơi nhận", preview)
        report = await admin.expect("Báo cáo gửi thông báo", timeout=10 * total / TELEGRAM_LIMITS.per_second + 120)
        elapsed = time.perf_counter() - started
    finally:
        await bot.stop()
        await emulator.stop()
    minimum = total / TELEGRAM_LIMITS.per_second
    print(f"\nbroadcast to {total} private chats; database {database_url.split(':')[0]}")
    print(report.plain_text.replace("\n", " · "))
    ratio = elapsed / minimum
    print(f"elapsed {elapsed:8.1f} s   limit-implied minimum {minimum:8.1f} s   ratio {ratio:5.2f}× (target ≤ 1.05×)")
    print(f"429 answers from the emulator: {emulator.rate_limited} (target 0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chats", type=int, default=10_000, help="members to broadcast to")
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE_URL"), help="SQLAlchemy URL")
    arguments = parser.parse_args()
    asyncio.run(run(arguments.chats, arguments.database))


if __name__ == "__main__":
    main()
