"""Benchmark: `sangkien serve` as one process and as two behind one address, on PostgreSQL.

The emulator pushes every update to one public address (a round-robin proxy here, as nginx would be),
which hands it to one of the `serve` processes; members go through the whole wizard at once. Prints the
steps per second with one process and with two, their ratio, and the exactly-once checks after each run:
every member's submission stored once, every handled update claimed once, and no reply sent twice.
PostgreSQL is a throwaway local cluster (Debian's `postgresql`), or BENCH_POSTGRES_URL.

The steps per second hide the design's own bound. On a 2-core machine the emulator, the members, the proxy
and PostgreSQL share the cores with the bots (about 30 steps a second here, with one process or two, with 5
members or 60). On any machine, Telegram's 30 messages a second for the bot, which the processes share
(bot/limit_sharing.py), bounds a bot whose steps each send a message. So each run also prints its messages
a second and 429s, the CPU per step of each part, and what two processes carry against one when each has
a core of its own: twice one process's bot CPU per step over the two processes' together.

Then the same two runs with each bot process held to a small share of one core (bench/cpu_cap.py, where the
cgroups are writable): by default the share in which one process carries about 12 steps a second, from its
CPU per step in the uncapped run, so that two processes could carry twice that under Telegram's 30 messages
a second on any machine (a fixed 0.12 of a core let one process near that bound on a fast day). The bots'
own CPU is then the bound, well below the machine's, and the ratio of the steps a second measures what a
second process adds, with everything the processes share (PostgreSQL's locks, the claims, the shared sending
limit) in the way as it would be on a machine with a core for each. That ratio is the one target 4 of issue
14 asks to be ≥ 1.7×.
Not a pass/fail test. Run: `make bench-scale-out` (options: --members, --capped-members, --share).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from aiohttp import ClientSession, web
from sqlalchemy import func, select

from bench.cpu_cap import CpuCaps
from bench.submission import TimedPerson, cpu_seconds, submission_journey
from bot.sandbox.telegram_emulator import TelegramEmulator
from storage.engine import create_engine, session_factory
from storage.models import Initiative, ProcessedUpdate, Status
from tests.harness import ADMIN_ID, ROOT, TELEGRAM_WEBHOOK_SECRET, TOKEN, free_port, prepare_database
from tests.postgres import PostgresServer, postgres_unavailable_reason

WEBHOOK_PATH = "/webhook/telegram"


class RoundRobinProxy:
    """One public address in front of the `serve` processes (what nginx's upstream block does)."""

    def __init__(self) -> None:
        self.backends: list[str] = []
        self._next = itertools.count()
        self.port = free_port()
        self._runner: web.AppRunner | None = None
        self._http: ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._http = ClientSession()
        app = web.Application()
        app.router.add_post(WEBHOOK_PATH, self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._http is not None
        backend = self.backends[next(self._next) % len(self.backends)]
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith("x-telegram")}
        async with self._http.post(backend + WEBHOOK_PATH, data=await request.read(), headers=headers) as answer:
            return web.Response(status=answer.status, body=await answer.read())

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()


async def start_servers(count: int, emulator: TelegramEmulator, proxy: RoundRobinProxy, database_url: str,
                        folder: Path, cap: Cap | None) -> list[asyncio.subprocess.Process]:  # fmt: skip
    processes, proxy.backends = [], []
    for number in range(count):
        port = free_port()
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": emulator.url,
               "DATABASE_URL": database_url, "SANGKIEN_CONFIG": str(ROOT / "config.toml"),
               "SANGKIEN_ADMINS": str(ADMIN_ID), "PUBLIC_URL": proxy.url, "WEB_HOST": "127.0.0.1",
               "WEB_PORT": str(port), "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_WEBHOOK_SECRET}  # fmt: skip
        with (folder / f"serve-{count}-{number}.log").open("ab") as log:
            processes.append(await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "serve", env=env, stdout=log, stderr=log, cwd=ROOT))  # fmt: skip
        proxy.backends.append(f"http://127.0.0.1:{port}")
    try:
        async with ClientSession() as http:
            for backend in proxy.backends:
                await _wait_healthy(http, backend)
        for process in processes if cap is not None else ():  # once started: the start is not what is measured
            cap.caps.cap(process.pid, cap.share)
        bot = emulator.bots[TOKEN]
        deadline = time.monotonic() + 60
        while bot.webhook_url != proxy.url + WEBHOOK_PATH:
            if time.monotonic() > deadline:
                raise TimeoutError("the webhook was never set")
            await asyncio.sleep(0.1)
    except BaseException:
        await stop_servers(processes)
        raise
    return processes


async def _wait_healthy(http: ClientSession, backend: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            async with http.get(backend + "/healthz") as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{backend} never answered /healthz")
        await asyncio.sleep(0.2)


async def stop_servers(processes: list[asyncio.subprocess.Process]) -> None:
    for process in processes:
        process.terminate()
    await asyncio.wait_for(asyncio.gather(*(p.wait() for p in processes)), timeout=60)


@dataclass
class Cap:
    """Each bot process held to `share` of one core (bench/cpu_cap.py)."""

    caps: CpuCaps
    share: float


@dataclass
class Run:
    """One run's steps per second and CPU per step (ms): each bot process's, PostgreSQL's and the load side's."""

    rate: float
    bot_ms: list[float]
    database_ms: float | None
    load_ms: float
    submitted: int  # members who submitted, the warm-up's included (for the exactly-once check)


# Each process first carries a few whole journeys unmeasured: a process's first steps import modules and
# compile statements once for its lifetime, and two processes pay that twice (at 20 members held to a share
# of a core, it was most of the gap between one process's CPU per step and two's).
WARMUP_JOURNEYS_PER_PROCESS = 3


async def one_run(count: int, members: int, emulator: TelegramEmulator, proxy: RoundRobinProxy, database_url: str,
                  folder: Path, postmaster: int | None, cap: Cap | None = None) -> Run:  # fmt: skip
    processes = await start_servers(count, emulator, proxy, database_url, folder, cap)
    try:
        who = "Hội viên" if cap else "Thành viên"  # no namesakes across the runs: the wizard would ask about them
        warm = [TimedPerson(emulator, f"{who} khởi động {count}-{i}")
                for i in range(WARMUP_JOURNEYS_PER_PROCESS * count)]  # fmt: skip
        await asyncio.gather(*(submission_journey(p) for p in warm))
        people = [TimedPerson(emulator, f"{who} {count}-{i}") for i in range(members)]
        cpu_before, refused_before = _cpu(processes, postmaster), emulator.rate_limited
        started = time.perf_counter()
        await asyncio.gather(*(submission_journey(p) for p in people))
        elapsed = time.perf_counter() - started
        cpu_after, refused = _cpu(processes, postmaster), emulator.rate_limited - refused_before
    finally:
        await stop_servers(processes)
    steps = sum(len(p.latencies) for p in people)
    per_step = [(after - before) * 1000 / steps for before, after in zip(cpu_before, cpu_after, strict=True)]
    run = Run(steps / elapsed, per_step[:count], per_step[count] if postmaster else None, per_step[-1],
              members + len(warm))  # fmt: skip
    replies = [sum(1 for m in emulator.chat(p.user_id) if m.from_bot) for p in people]
    sent = sum(1 for p in people for m in emulator.chat(p.user_id) if m.from_bot and not m.edited)  # edits aside
    repeated = sum(_repeats(emulator, p.user_id) for p in people)
    print(f"  {count} process{'es' if count > 1 else ''}: {steps} steps in {elapsed:6.1f} s = {run.rate:6.1f} steps/s, "
          f"{sent / elapsed:4.1f} messages/s (Telegram allows 30, 429 answers: {refused}); "
          f"replies per member {min(replies)}–{max(replies)}, a reply repeated {repeated} times")  # fmt: skip
    database = f"{run.database_ms:.2f} ms" if run.database_ms is not None else "not measured (BENCH_POSTGRES_URL)"
    print(f"    CPU per step: bot {' + '.join(f'{ms:.2f}' for ms in run.bot_ms)} = {sum(run.bot_ms):.2f} ms, "
          f"PostgreSQL {database}, emulator + members + proxy {run.load_ms:.2f} ms")  # fmt: skip
    return run


def _cpu(processes: list[asyncio.subprocess.Process], postmaster: int | None) -> list[float]:
    """CPU seconds so far: each bot process, PostgreSQL (its postmaster and every backend), and this process."""
    bots = [cpu_seconds(p.pid) for p in processes]
    database = [cpu_seconds(postmaster, with_children=True)] if postmaster else []
    own = resource.getrusage(resource.RUSAGE_SELF)
    return [*bots, *database, own.ru_utime + own.ru_stime]


def _postmaster(server: PostgresServer | None) -> int | None:
    """The local cluster's postmaster (the first line of its pid file); None for BENCH_POSTGRES_URL."""
    if server is None or server.data_dir is None:
        return None
    return int((server.data_dir / "postmaster.pid").read_text().split()[0])


def _repeats(emulator: TelegramEmulator, user_id: int) -> int:
    """The same text sent twice in a row to one member: a duplicate reply (the journey never asks twice)."""
    texts = [m.plain_text for m in emulator.chat(user_id) if m.from_bot and not m.edited]
    return sum(1 for a, b in itertools.pairwise(texts) if a == b)


async def exactly_once(database_url: str, members: int, updates: int) -> None:
    engine = create_engine(database_url)
    async with session_factory(engine)() as session:
        submitted = Counter(
            (await session.execute(select(Initiative.member_id).where(Initiative.status == Status.SUBMITTED))).scalars()
        )
        claimed = await session.scalar(select(func.count()).select_from(ProcessedUpdate))
    await engine.dispose()
    print(f"  exactly once: {len(submitted)} members submitted, each {set(submitted.values())} time(s) "
          f"(expected {members}, {{1}}); {claimed} updates claimed of {updates} sent")  # fmt: skip


# The capped runs' aim: one process's CPU carries about this many steps a second, two twice that, both under
# Telegram's 30 messages a second (a step sends about 0.8 message).
CAPPED_STEPS_PER_SECOND = 12.0


def share_for(one_process_ms_per_step: float) -> float:
    """The share of a core in which one process carries about `CAPPED_STEPS_PER_SECOND`."""
    return min(0.5, max(0.02, round(CAPPED_STEPS_PER_SECOND * one_process_ms_per_step / 1000, 3)))


async def run(members: int, capped_members: int, share: float | None) -> None:
    server: PostgresServer | None = None
    database_url = os.environ.get("BENCH_POSTGRES_URL")
    if not database_url:
        reason = postgres_unavailable_reason()
        if reason:
            print(f"PostgreSQL unavailable: {reason}")
            return
        server = PostgresServer.start()
        database_url = server.create_database()
    folder = Path(tempfile.mkdtemp(prefix="sangkien-bench-"))
    await prepare_database(database_url)
    emulator = TelegramEmulator()
    emulator.add_bot(TOKEN)
    await emulator.start()
    proxy = RoundRobinProxy()
    await proxy.start()
    try:
        print(f"\n{members} members at once through the whole wizard, webhooks, PostgreSQL")
        postmaster = _postmaster(server)
        one = await one_run(1, members, emulator, proxy, database_url, folder, postmaster)
        two = await one_run(2, members, emulator, proxy, database_url, folder, postmaster)
        print(f"  two processes / one: {two.rate / one.rate:.2f}× (target ≥ 1.7×), measured on {os.cpu_count()} "
              f"cores that the bots share with PostgreSQL, the emulator, the members and the proxy")  # fmt: skip
        # With a core for each bot process, each carries 1 / (its CPU per step) steps a second: what two
        # processes add over one is then the ratio of a step's whole bot CPU, one process against two.
        one_ms, two_ms = sum(one.bot_ms), sum(two.bot_ms)
        print(f"  with a core for each bot process: two carry {2 * one_ms / two_ms:.2f}× one "
              f"(2 × {one_ms:.2f} / {two_ms:.2f} ms of bot CPU per step; PostgreSQL not the bound)")  # fmt: skip
        submitted = one.submitted + two.submitted
        caps = CpuCaps.open(f"sangkien-bench-{os.getpid()}") if capped_members else "--capped-members 0"
        if isinstance(caps, str):
            print(f"\nno run with each bot process held to a share of a core: {caps}")
        else:
            try:
                share = share or share_for(one_ms)
                cap = Cap(caps, share)
                print(f"\n{capped_members} members at once, each bot process held to {share:.3f} of a core "
                      f"(a cgroup's CPU quota): the bots' CPU is the bound, not the machine's")  # fmt: skip
                one = await one_run(1, capped_members, emulator, proxy, database_url, folder, postmaster, cap)
                two = await one_run(2, capped_members, emulator, proxy, database_url, folder, postmaster, cap)
                print(f"  two processes / one, each held to {share:.3f} of a core: {two.rate / one.rate:.2f}× "
                      f"(target ≥ 1.7×)")  # fmt: skip
                submitted += one.submitted + two.submitted
            finally:
                caps.close()
        await exactly_once(database_url, submitted, len(emulator.webhook_responses))
    finally:
        await proxy.stop()
        await emulator.stop()
        if server is not None:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=60)
    parser.add_argument(
        "--capped-members",
        type=int,
        default=20,
        help="members of the runs with each bot process held to a share of a core (0: none)",
    )
    parser.add_argument(
        "--share",
        type=float,
        default=None,
        help="that share of a core (default: where one process carries about 12 steps a second)",
    )
    arguments = parser.parse_args()
    asyncio.run(run(arguments.members, arguments.capped_members, arguments.share))


if __name__ == "__main__":
    main()
