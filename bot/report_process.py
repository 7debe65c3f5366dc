"""Workbooks built in a worker process of their own.

Writing 100,000 rows is seconds of pure-Python work: in a thread of the bot's process it would hold the
interpreter lock against the event loop, and every member's answer would wait its turn (measured in
`make bench-export`). The worker process reads the database itself (read-only connections) and returns
the file's bytes. It is started at the first export (about two seconds of imports) and kept; it lets go
of the bot's output at once (a supervisor reading that pipe waits for every holder to close it) and ends
when the bot does, even a killed one.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor

from handlers.reports import excel
from handlers.reports.excel import ReportRequest
from storage.engine import create_engine, reading_engine, session_factory


class ReportProcess:
    """One worker process for every bot of the deployment (each tenant's builder names its own database)."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def builder(self, database_url: str, schema: str | None = None) -> Callable[[ReportRequest], Awaitable[bytes]]:
        async def build(request: ReportRequest) -> bytes:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_start_worker, initargs=(os.getpid(),))  # fmt: skip
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, _build, database_url, schema, request)

        return build

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _start_worker(bot_pid: int) -> None:
    """In the worker process, first."""
    quiet = os.open(os.devnull, os.O_RDWR)
    for descriptor in (0, 1, 2):
        os.dup2(quiet, descriptor)
    os.close(quiet)
    threading.Thread(target=_end_with_the_bot, args=(bot_pid,), daemon=True).start()


def _end_with_the_bot(bot_pid: int) -> None:
    while os.getppid() == bot_pid:
        time.sleep(1)
    os._exit(0)


def _build(database_url: str, schema: str | None, request: ReportRequest) -> bytes:
    """In the worker process."""
    return asyncio.run(_build_async(database_url, schema, request))


async def _build_async(database_url: str, schema: str | None, request: ReportRequest) -> bytes:
    engine = create_engine(database_url, schema)
    reader = reading_engine(engine)
    try:
        async with session_factory(reader)() as session:
            return await excel.build(session, request)
    finally:
        await reader.dispose()
        await engine.dispose()
