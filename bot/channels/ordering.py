"""Per-person ordering: the updates of one person are handled one at a time, in arrival order.

The channel submits each update's work here *synchronously, in arrival order* (its polling loop and its
webhook route each update as it comes); the work then runs as a task that first waits for the same
person's previous task. Different people run concurrently. (Locks taken inside
per-update tasks are not enough: tasks reach the lock in whatever order their awaits resolve.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)
DRAIN_SECONDS = 10.0  # of a stop's budget (bot/cli.py: `_serve`)


class KeyedSequencer:
    def __init__(self) -> None:
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._running: set[asyncio.Task[None]] = set()

    def submit(self, key: str, work: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        previous = self._tails.get(key)

        async def run() -> None:
            if previous is not None:  # its end, however it ended (a cancellation of this task goes on up)
                await asyncio.wait({previous})
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

    async def drain(self, timeout: float = DRAIN_SECONDS) -> None:
        """Wait for all submitted work (on shutdown); past `timeout`, cancel what is left. A step cancelled
        so rolls back: its update, unclaimed in the inbox, is handled by the next process to start."""
        try:
            async with asyncio.timeout(timeout):
                while self._running:
                    await asyncio.gather(*list(self._running), return_exceptions=True)
        except TimeoutError:
            log.warning("%d updates not handled within %.0f s of the stop: left for the next start",
                        len(self._running), timeout)  # fmt: skip
            for task in list(self._running):
                task.cancel()
            await asyncio.gather(*list(self._running), return_exceptions=True)
