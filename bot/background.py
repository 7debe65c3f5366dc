"""A background loop that stops cleanly: the shape shared by the outbox worker and the scheduler.

It runs one pass, then waits until woken or until `poll_seconds` pass. Stopping never cancels a pass in
the middle of a database transaction (a cancelled rollback leaves a broken pooled connection and an error
in the log): `stop()` asks the loop to finish its current pass and return, and cancels it only if it has
not returned within the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class BackgroundLoop:
    def __init__(self, name: str, step: Callable[[], Awaitable[bool]], poll_seconds: float) -> None:
        """`step` runs one pass and returns True when more work is waiting (then it runs again at once)."""
        self.name = name
        self.poll_seconds = poll_seconds
        self._step = step
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    @property
    def stopping(self) -> bool:
        """True once a stop was asked for: long passes check it and leave their remaining work for later."""
        return self._stopping

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> asyncio.Task[None]:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=self.name)
        return self._task

    async def _run(self) -> None:
        while not self._stopping:
            try:
                more = await self._step()
            except Exception:
                log.exception("%s pass failed", self.name)
                more = False
            if more or self._stopping:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def stop(self, grace: float = 30.0) -> None:
        """Let the current pass finish (at most `grace` seconds), then return."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        done, _ = await asyncio.wait({task}, timeout=grace)
        if not done:
            log.warning("%s did not stop within %.0f s; cancelling it", self.name, grace)
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
