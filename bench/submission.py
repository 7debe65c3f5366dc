"""Benchmark: full submission conversations through the Bot API emulator, beside a bare echo bot.

Both bots run as their own processes against the same emulator in the same run. Prints conversation
steps per second and p50/p95 step latency (a step = one member action until the bot's next question),
the ratio to the echo baseline and the bot's CPU time per step; on SQLite, then on a throwaway PostgreSQL (or
BENCH_POSTGRES_URL; BENCH_DATABASE_URL: that database only). Not a pass/fail test. Run: `make
bench-submission` (BENCH_ARGS: --members N, --sqlite-only, --profile FILE).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.data import on_each_database
from bot.sandbox.telegram_emulator import StoredMessage, TelegramEmulator
from tests.harness import ROOT, TOKEN, BotProcess, Person, fill_up_to_summary, prepare_database, register

ECHO_TOKEN = "4343:echo-baseline"


class TimedPerson(Person):
    """Records, for every action, the time until the bot's answer the script waits for next."""

    def __init__(self, emulator: TelegramEmulator, name: str) -> None:
        super().__init__(emulator, name)
        self.latencies: list[float] = []
        self._acted_at: float | None = None

    def _acted(self) -> None:
        self._acted_at = time.perf_counter()

    async def send(self, text: str) -> StoredMessage:
        self._acted()
        return await super().send(text)

    async def send_document(self, file_name: str, size: int = 120_000, mime: str = "application/pdf") -> None:
        self._acted()
        await super().send_document(file_name, size, mime)

    async def send_photo(self) -> None:
        self._acted()
        await super().send_photo()

    async def tap(self, label_part: str, message: StoredMessage | None = None) -> None:
        self._acted()
        await super().tap(label_part, message)

    async def expect(self, *fragments: str, edited: bool = False, timeout: float = 60.0) -> StoredMessage:
        message = await super().expect(*fragments, edited=edited, timeout=timeout)
        if self._acted_at is not None:
            self.latencies.append(time.perf_counter() - self._acted_at)
            self._acted_at = None
        return message


async def submission_journey(person: TimedPerson) -> None:
    await register(person, name="Nguyễn Thị Hoa")
    await fill_up_to_summary(person)
    summary = await person.expect("Tóm tắt sáng kiến")
    await person.tap("Gửi sáng kiến", summary)
    await person.expect("Đã gửi sáng kiến")


async def echo_journey(person: TimedPerson, steps: int) -> None:
    for number in range(steps):
        await person.send(f"echo {number} {person.user_id}")
        await person.expect(f"echo {number} {person.user_id}")


def start_profiler(pid: int, output: str | None) -> subprocess.Popen[bytes] | None:
    """py-spy sampling the bot while the members run (`--profile FILE`; needs py-spy on PATH)."""
    if output is None:
        return None
    command = ["py-spy", "record", "--pid", str(pid), "--format", "raw", "--output", output, "--nonblocking"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def stop_profiler(profiler: subprocess.Popen[bytes] | None) -> None:
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        await asyncio.to_thread(profiler.wait, 60)


def cpu_seconds(pid: int, *, with_children: bool = False) -> float:
    """User + system CPU time a live process has used so far (from /proc/PID/stat); `with_children`: and its
    descendants', the ended ones (reaped: their time is in the parent's) and the live ones."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if with_children:
        ticks += int(fields[13]) + int(fields[14])
        for child in _children(pid):
            with contextlib.suppress(OSError):  # a child that ended meanwhile
                ticks += round(cpu_seconds(child, with_children=True) * os.sysconf("SC_CLK_TCK"))
    return ticks / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            children.extend(int(child) for child in (task / "children").read_text().split())
    return children


def summarise(name: str, latencies: list[float], elapsed: float) -> tuple[float, float, float]:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p95 = ordered[int(len(ordered) * 0.95) - 1] * 1000
    rate = len(ordered) / elapsed
    print(
        f"{name:<22} {len(ordered):>6} steps {elapsed:7.2f} s {rate:8.1f} steps/s"
        f"   p50 {p50:6.1f} ms   p95 {p95:6.1f} ms"
    )
    return rate, p50, p95


async def run(members: int, profile: str | None, sqlite_only: bool) -> None:
    """On SQLite, then on PostgreSQL (bench/data.on_each_database); BENCH_DATABASE_URL: on that one only.
    `profile`: py-spy's stacks of the bot on the first database."""

    async def measure(label: str, url: str) -> None:
        await run_on(url, members, None if label == "PostgreSQL" else profile)

    if os.environ.get("BENCH_DATABASE_URL"):
        await measure("", os.environ["BENCH_DATABASE_URL"])
        return
    await on_each_database(measure, "bench.db", ("SQLite", "PostgreSQL"), sqlite_only=sqlite_only)


async def run_on(database_url: str, members: int, profile: str | None) -> None:
    emulator = TelegramEmulator()
    emulator.add_bot(TOKEN)
    emulator.add_bot(ECHO_TOKEN, username="echo_bot")
    await emulator.start()
    folder = Path(tempfile.mkdtemp(prefix="sangkien-bench-"))
    await prepare_database(database_url)
    bot = BotProcess(emulator, database_url, folder / "bot.log")
    await bot.start()
    echo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.echo_bot", cwd=ROOT,
        env={**os.environ, "TELEGRAM_BOT_TOKEN": ECHO_TOKEN, "TELEGRAM_API_URL": emulator.url},
    )  # fmt: skip
    await emulator.wait_until_polled(ECHO_TOKEN, 1, timeout=60)
    try:
        assert bot.process is not None
        # A few journeys first, unmeasured: the process's first steps import modules and compile statements
        # once for its lifetime (printed apart below); the figure is a running bot's.
        warm = [TimedPerson(emulator, f"Khởi động {i}") for i in range(WARMUP_JOURNEYS)]
        warm_cpu = cpu_seconds(bot.process.pid)
        await asyncio.gather(*(submission_journey(p) for p in warm))
        warm_cpu = cpu_seconds(bot.process.pid) - warm_cpu
        warm_steps = sum(len(p.latencies) for p in warm)
        people = [TimedPerson(emulator, f"Thành viên {i}") for i in range(members)]
        profiler = start_profiler(bot.process.pid, profile)
        bot_cpu = cpu_seconds(bot.process.pid)
        started = time.perf_counter()
        await asyncio.gather(*(submission_journey(p) for p in people))
        bot_elapsed = time.perf_counter() - started
        bot_cpu = cpu_seconds(bot.process.pid) - bot_cpu
        await stop_profiler(profiler)
        steps = len(people[0].latencies)

        echo_people = [TimedPerson(emulator, f"Echo {i}") for i in range(members)]
        for person in echo_people:
            person.send = _sender(emulator, person)  # type: ignore[method-assign]
        echo_warm = [TimedPerson(emulator, f"Echo khởi động {i}") for i in range(WARMUP_JOURNEYS)]
        for person in echo_warm:
            person.send = _sender(emulator, person)  # type: ignore[method-assign]
        await asyncio.gather(*(echo_journey(p, steps) for p in echo_warm))
        echo_cpu = cpu_seconds(echo.pid)
        started = time.perf_counter()
        await asyncio.gather(*(echo_journey(p, steps) for p in echo_people))
        echo_elapsed = time.perf_counter() - started
        echo_cpu = cpu_seconds(echo.pid) - echo_cpu

        backend = database_url.split(":")[0]
        print(f"\n{members} members at once, {steps} steps each (register, wizard, submit); database {backend}")
        bot_rate, bot_p50, bot_p95 = summarise("Sáng kiến Bot", [x for p in people for x in p.latencies], bot_elapsed)
        echo_rate, echo_p50, echo_p95 = summarise(
            "bare aiogram echo", [x for p in echo_people for x in p.latencies], echo_elapsed
        )
        print(
            f"{'ratio bot/echo':<22} throughput {bot_rate / echo_rate:5.2f}×   "
            f"p50 {bot_p50 / echo_p50:5.2f}×   p95 {bot_p95 / echo_p95:5.2f}×"
        )
        bot_ms = bot_cpu * 1000 / (steps * members)
        echo_ms = echo_cpu * 1000 / (steps * members)
        print(
            f"CPU per step: bot {bot_ms:.2f} ms (target ≤ 5 ms, {1000 / bot_ms:.0f} steps/s per core)"
            f"   echo {echo_ms:.2f} ms   ratio {bot_ms / echo_ms:.1f}×"
        )
        print(f"  (after {WARMUP_JOURNEYS} unmeasured journeys each; the bot's first {warm_steps} steps, cold, took "
              f"{warm_cpu * 1000 / warm_steps:.2f} ms each)")  # fmt: skip
    finally:
        await bot.kill()
        echo.kill()
        await echo.wait()
        await emulator.stop()


WARMUP_JOURNEYS = 3


def _sender(emulator: TelegramEmulator, person: TimedPerson):
    async def send(text: str) -> StoredMessage:
        person._acted()
        return await emulator.user_sends(person.user_id, text, token=ECHO_TOKEN)

    return send


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=20, help="members going through the wizard at once")
    parser.add_argument("--profile", metavar="FILE", help="write py-spy's collapsed stacks of the bot to FILE")
    parser.add_argument("--sqlite-only", action="store_true")
    arguments = parser.parse_args()
    asyncio.run(run(arguments.members, arguments.profile, arguments.sqlite_only))


if __name__ == "__main__":
    main()
