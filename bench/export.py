"""Benchmark: the admin's /export of 100,000 initiatives in 1,000 branches while members go on writing.

The bot runs as its own process against the Bot API emulator (SQLite, or BENCH_DATABASE_URL). Members go
through the wizard again and again, pausing before each answer as people do, half a second to one and a half
(faster, Telegram's one-message-a-second per chat would be what is measured; all alike, the ten members
moved in step and submitted at the same moment every ~23 s, a burst that decided the p95). First the members
alone, then the admin sends /export while they go on. Prints the export's time (command to file), the bot
process's peak memory (VmHWM) and the members' step latency alone, during the first export and during the
next. Targets: < 10 s, < 300 MB, the p95 kept; and the slowest steps during the first with when they began.
Not a pass/fail test. Run: `make bench-export` (options: --initiatives, --branches, --members).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from bench.data import fill
from bench.submission import TimedPerson
from bot.sandbox.telegram_emulator import StoredMessage, TelegramEmulator
from tests.harness import ADMIN_ID, TOKEN, BotProcess, Person, fill_up_to_summary, prepare_database, register

THINK_SECONDS = (0.5, 1.5)  # a moment before each answer, drawn for each: people do not move in step
# The members alone long enough for each to submit once (a round is ~22 steps, ~25 s): a submission builds the
# Word forms, the heaviest step; a 20-second baseline had none, and the first export met the first round.
BASELINE_SECONDS = 45.0
FIRST_BENCH_ID = 10_000  # after the 160 sample branches the members register in


class PacedPerson(TimedPerson):
    """A member who takes a moment before each answer; records (when the step began, its latency)."""

    def __init__(self, emulator: TelegramEmulator, name: str, seed: int) -> None:
        super().__init__(emulator, name)
        self.steps: list[tuple[float, float]] = []
        self.pauses = random.Random(seed)

    async def think(self) -> None:
        await asyncio.sleep(self.pauses.uniform(*THINK_SECONDS))

    async def send(self, text: str) -> StoredMessage:
        await self.think()
        return await super().send(text)

    async def tap(self, label_part: str, message: StoredMessage | None = None) -> None:
        await self.think()
        await super().tap(label_part, message)

    async def send_document(self, file_name: str, size: int = 120_000, mime: str = "application/pdf") -> None:
        await self.think()
        await super().send_document(file_name, size, mime)

    async def send_photo(self) -> None:
        await self.think()
        await super().send_photo()

    async def expect(self, *fragments: str, edited: bool = False, timeout: float = 60.0) -> StoredMessage:
        began = self._acted_at
        message = await super().expect(*fragments, edited=edited, timeout=timeout)
        if began is not None:
            self.steps.append((began, self.latencies[-1]))
        return message


async def keep_writing(person: PacedPerson, stop: asyncio.Event) -> None:
    await register(person, name="Nguyễn Thị Hoa")
    while not stop.is_set():
        await fill_up_to_summary(person)
        summary = await person.expect("Tóm tắt sáng kiến")
        await person.tap("Gửi sáng kiến", summary)
        await person.expect("Đã gửi sáng kiến")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def latency_line(label: str, latencies: list[float]) -> str:
    if not latencies:
        return f"  {label:<34} no steps"
    ordered = sorted(latencies)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return (
        f"  {label:<34} {len(ordered):4d} steps   p50 {statistics.median(ordered) * 1000:6.0f} ms"
        f"   p95 {p95 * 1000:6.0f} ms"
    )


async def run(branches: int, initiatives: int, members: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="sangkien-bench-"))
    database_url = os.environ.get("BENCH_DATABASE_URL", f"sqlite+aiosqlite:///{folder}/export.db")
    await prepare_database(database_url)
    filled = await fill(database_url, branches, initiatives, first_id=FIRST_BENCH_ID, with_authors=True)
    emulator = TelegramEmulator()
    emulator.add_bot(TOKEN)
    await emulator.start()
    bot = BotProcess(emulator, database_url, folder / "bot.log")
    await bot.start()
    assert bot.process is not None
    stop = asyncio.Event()
    people = [PacedPerson(emulator, f"Thành viên {i}", seed=i) for i in range(members)]
    writers = [asyncio.create_task(keep_writing(p, stop)) for p in people]
    try:
        admin = Person(emulator, "Quản trị", user_id=ADMIN_ID)
        await register(admin)
        await asyncio.sleep(BASELINE_SECONDS)  # the members alone: the baseline latency
        rss_before = peak_rss_mb(bot.process.pid)
        asked = time.perf_counter()
        await admin.send("/export")
        workbook = await admin.expect_file(".xlsx", timeout=300)
        done = time.perf_counter()
        asked_again = time.perf_counter()
        await admin.send("/export")  # the worker process is running now: what every later export takes
        await admin.expect_file(".xlsx", timeout=300)
        again = time.perf_counter() - asked_again
        stop.set()
        await asyncio.wait_for(asyncio.gather(*writers), timeout=300)
        steps = [step for person in people for step in person.steps]
        alone = [latency for began, latency in steps if began < asked]
        during = [latency for began, latency in steps if asked <= began < done]
        during_next = [latency for began, latency in steps if asked_again <= began < asked_again + again]
        print(f"\n{initiatives:,} initiatives in {branches:,} branches (filled in {filled:.0f} s); "
              f"{members} members writing; database {database_url.split(':')[0]}")  # fmt: skip
        print(f"  export: {done - asked:6.2f} s for {len(workbook) / 1e6:.1f} MB, the worker process started by it; "
              f"the next: {again:6.2f} s (target < 10 s)")  # fmt: skip
        print(f"  bot peak memory: {peak_rss_mb(bot.process.pid):.0f} MB (before the export {rss_before:.0f} MB; "
              f"target < 300 MB)")  # fmt: skip
        print(latency_line("members' steps, alone", alone))
        print(latency_line("members' steps, during the export", during))
        print(latency_line("members' steps, during the next", during_next))
        slowest = sorted(((latency, began - asked) for began, latency in steps if asked <= began < done), reverse=True)
        print("  the slowest during it (latency @ seconds into the export; several at one moment: a stall):")
        print("   ", "  ".join(f"{latency * 1000:.0f} ms @ {at:.1f} s" for latency, at in slowest[:8]))
    finally:
        for task in writers:
            task.cancel()
        await bot.kill()
        await emulator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--branches", type=int, default=1_000)
    parser.add_argument("--initiatives", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=10, help="members writing during the export")
    arguments = parser.parse_args()
    asyncio.run(run(arguments.branches, arguments.initiatives, arguments.members))


if __name__ == "__main__":
    main()
