"""Benchmark: full submission conversations through the Bot API emulator, beside a bare echo bot.

Both bots run as their own processes against the same emulator in the same run. Prints conversation
steps per second and p50/p95 step latency (a step = one member action until the bot's next question),
the ratio to the echo baseline and the bot's CPU time per step; on SQLite, then on a throwaway PostgreSQL (or
BENCH_POSTGRES_URL; BENCH_DATABASE_URL: that database only). Not a pass/fail test. Run: `make
bench-submission` (BENCH_ARGS: --members N, --rounds N, --sqlite-only, --profile FILE).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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


async def echo_journey(emulator: TelegramEmulator, person: TimedPerson, steps: int) -> None:
    for number in range(steps):
        person._acted()
        await emulator.user_sends(person.user_id, f"echo {number} {person.user_id}", token=ECHO_TOKEN)
        await person.expect(f"echo {number} {person.user_id}")


@dataclass
class Round:
    """One bot's members, all at once: their step latencies and the bot process's CPU time."""

    latencies: list[float]
    elapsed: float
    cpu_ms_per_step: float


async def timed_round(pid: int, people: list[TimedPerson], journey: Callable[[TimedPerson], Awaitable[None]]) -> Round:
    cpu = cpu_seconds(pid)
    started = time.perf_counter()
    await asyncio.gather(*(journey(p) for p in people))
    elapsed = time.perf_counter() - started
    latencies = [x for p in people for x in p.latencies]
    return Round(latencies, elapsed, (cpu_seconds(pid) - cpu) * 1000 / len(latencies))


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


def summarise(name: str, rounds: list[Round]) -> tuple[float, float, float]:
    ordered = sorted(x for r in rounds for x in r.latencies)
    p50 = statistics.median(ordered) * 1000
    p95 = ordered[int(len(ordered) * 0.95) - 1] * 1000
    elapsed = sum(r.elapsed for r in rounds)
    rate = len(ordered) / elapsed
    print(
        f"{name:<22} {len(ordered):>6} steps {elapsed:7.2f} s {rate:8.1f} steps/s"
        f"   p50 {p50:6.1f} ms   p95 {p95:6.1f} ms"
    )
    return rate, p50, p95


async def run(members: int, rounds: int, profile: str | None, sqlite_only: bool) -> None:
    """On SQLite, then on PostgreSQL (bench/data.on_each_database); BENCH_DATABASE_URL: on that one only.
    `profile`: py-spy's stacks of the bot on the first database."""

    async def measure(label: str, url: str) -> None:
        await run_on(url, members, rounds, None if label == "PostgreSQL" else profile)

    if os.environ.get("BENCH_DATABASE_URL"):
        await measure("", os.environ["BENCH_DATABASE_URL"])
        return
    await on_each_database(measure, "bench.db", ("SQLite", "PostgreSQL"), sqlite_only=sqlite_only)


async def run_on(database_url: str, members: int, rounds: int, profile: str | None) -> None:
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
        steps = len(warm[0].latencies)
        echo_warm = [TimedPerson(emulator, f"Echo khởi động {i}") for i in range(WARMUP_JOURNEYS)]
        await asyncio.gather(*(echo_journey(emulator, p, steps) for p in echo_warm))
        profiler = start_profiler(bot.process.pid, profile)
        bot_rounds: list[Round] = []
        echo_rounds: list[Round] = []
        for number in range(rounds):  # alternated, so both bots meet the machine's same moods (other tenants)
            people = [TimedPerson(emulator, f"Thành viên {number}.{i}") for i in range(members)]
            bot_rounds.append(await timed_round(bot.process.pid, people, submission_journey))
            echo_people = [TimedPerson(emulator, f"Echo {number}.{i}") for i in range(members)]
            echo_rounds.append(await timed_round(echo.pid, echo_people,
                                                 functools.partial(echo_journey, emulator, steps=steps)))  # fmt: skip
        await stop_profiler(profiler)

        backend = database_url.split(":")[0]
        print(f"\n{members} members at once, {steps} steps each (register, wizard, submit), {rounds} rounds of each"
              f" bot in turn; database {backend}")  # fmt: skip
        bot_rate, bot_p50, bot_p95 = summarise("Sáng kiến Bot", bot_rounds)
        echo_rate, echo_p50, echo_p95 = summarise("bare aiogram echo", echo_rounds)
        print(
            f"{'ratio bot/echo':<22} throughput {bot_rate / echo_rate:5.2f}×   "
            f"p50 {bot_p50 / echo_p50:5.2f}×   p95 {bot_p95 / echo_p95:5.2f}×"
        )
        bot_ms = statistics.median(r.cpu_ms_per_step for r in bot_rounds)
        echo_ms = statistics.median(r.cpu_ms_per_step for r in echo_rounds)
        each = "  ".join(
            f"{b.cpu_ms_per_step:.2f}/{e.cpu_ms_per_step:.2f}" for b, e in zip(bot_rounds, echo_rounds, strict=True)
        )
        print(
            f"CPU per step (median of rounds): bot {bot_ms:.2f} ms (target ≤ 5 ms, {1000 / bot_ms:.0f} steps/s per"
            f" core)   echo {echo_ms:.2f} ms   ratio {bot_ms / echo_ms:.1f}×   (rounds, bot/echo ms: {each})"
        )
        print(f"  (after {WARMUP_JOURNEYS} unmeasured journeys each; the bot's first {warm_steps} steps, cold, took "
              f"{warm_cpu * 1000 / warm_steps:.2f} ms each)")  # fmt: skip
    finally:
        await bot.kill()
        echo.kill()
        await echo.wait()
        await emulator.stop()


WARMUP_JOURNEYS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=20, help="members going through the wizard at once")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds of each bot, taken in turn")
    parser.add_argument("--profile", metavar="FILE", help="write py-spy's collapsed stacks of the bot to FILE")
    parser.add_argument("--sqlite-only", action="store_true")
    arguments = parser.parse_args()
    asyncio.run(run(arguments.members, arguments.rounds, arguments.profile, arguments.sqlite_only))


if __name__ == "__main__":
    main()
