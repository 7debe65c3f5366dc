"""Benchmark: `sangkien serve` as one process and as two behind one address, on PostgreSQL.

The emulator pushes every update to one public address (a round-robin proxy here, as nginx would be),
which hands it to one of the `serve` processes; members go through the whole wizard at once. Prints the
steps per second with one process and with two, their ratio, and the exactly-once checks after each run:
every member's submission stored once, every handled update claimed once, and no reply sent twice.
PostgreSQL is a throwaway local cluster (Debian's `postgresql`), or BENCH_POSTGRES_URL. On a 2-core
machine the emulator and the members share the cores with the bot: the ratio says what this machine can
show, not the bound of the design. Not a pass/fail test. Run: `make bench-scale-out` (options: --members).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from aiohttp import ClientSession, web
from sqlalchemy import func, select

from bench.submission import TimedPerson, submission_journey
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
                        folder: Path) -> list[asyncio.subprocess.Process]:  # fmt: skip
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
    async with ClientSession() as http:
        for backend in proxy.backends:
            await _wait_healthy(http, backend)
    bot = emulator.bots[TOKEN]
    deadline = time.monotonic() + 60
    while bot.webhook_url != proxy.url + WEBHOOK_PATH:
        if time.monotonic() > deadline:
            raise TimeoutError("the webhook was never set")
        await asyncio.sleep(0.1)
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


async def one_run(count: int, members: int, emulator: TelegramEmulator, proxy: RoundRobinProxy, database_url: str,
                  folder: Path) -> float:  # fmt: skip
    processes = await start_servers(count, emulator, proxy, database_url, folder)
    try:
        people = [TimedPerson(emulator, f"Thành viên {count}-{i}") for i in range(members)]
        started = time.perf_counter()
        await asyncio.gather(*(submission_journey(p) for p in people))
        elapsed = time.perf_counter() - started
    finally:
        await stop_servers(processes)
    steps = sum(len(p.latencies) for p in people)
    rate = steps / elapsed
    replies = [sum(1 for m in emulator.chat(p.user_id) if m.from_bot) for p in people]
    repeated = sum(_repeats(emulator, p.user_id) for p in people)
    print(f"  {count} process{'es' if count > 1 else ''}: {steps} steps in {elapsed:6.1f} s = {rate:6.1f} steps/s; "
          f"replies per member {min(replies)}–{max(replies)}, a reply repeated {repeated} times")  # fmt: skip
    return rate


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


async def run(members: int) -> None:
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
        one = await one_run(1, members, emulator, proxy, database_url, folder)
        two = await one_run(2, members, emulator, proxy, database_url, folder)
        print(f"  two processes / one: {two / one:.2f}× (target ≥ 1.7×)")
        await exactly_once(database_url, 2 * members, len(emulator.webhook_responses))
    finally:
        await proxy.stop()
        await emulator.stop()
        if server is not None:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=60)
    asyncio.run(run(parser.parse_args().members))


if __name__ == "__main__":
    main()
