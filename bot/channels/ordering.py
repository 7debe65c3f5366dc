"""Per-person ordering: the updates of one person are handled one at a time, in arrival order.

The channel submits each update's work here *synchronously, in arrival order* (aiogram feeds updates
serially with handle_as_tasks=False and our handlers return at once); the work then runs as a task that
first waits for the same person's previous task. Different people run concurrently. (Locks taken inside
per-update tasks are not enough: tasks reach the lock in whatever order their awaits resolve.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class KeyedSequencer:
    def __init__(self) -> None:
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._running: set[asyncio.Task[None]] = set()

    def submit(self, key: str, work: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        previous = self._tails.get(key)

        async def run() -> None:
            if previous is not None:
                with contextlib.suppress(BaseException):
                    await previous
            try:
                await work()
            except Exception:
                log.exception("work for %s failed", key)

        task = asyncio.create_task(run())
        self._tails[key] = task
        self._running.add(task)
        task.add_done_callback(lambda done: self._finished(key, done))
        return task

    def _finished(self, key: str, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if self._tails.get(key) is task:
            del self._tails[key]

    async def drain(self) -> None:
        """Wait for all submitted work (on shutdown)."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)
