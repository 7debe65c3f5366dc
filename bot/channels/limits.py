"""A platform's sending limits, shared by direct replies and the outbox.

Overall, sends are paced on a fixed grid (`PacedSlots`): `rate` per second allows at most 1 + rate reserved
instants in any second, and a caller woken late (a busy event loop) costs the callers after it nothing, so
a long broadcast runs at the rate asked for. Per chat, bulk messages (outbox) keep to the chat's own limit
with aiolimiter's leaky buckets (bursts allowed); a reply to someone who just wrote only waits for its
overall slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import OrderedDict, deque
from collections.abc import AsyncIterator

from aiolimiter import AsyncLimiter

MAX_TRACKED_CHATS = 10_000


class PacedSlots:
    """Each caller reserves the next free instant, `1 / per_second` after the one before, and sleeps until it;
    then it also waits while the last second already holds `ceil(per_second)` sends (callers that were all
    held up by a busy event loop wake together: they go out one second's worth at a time).

    aiolimiter's bucket of capacity 1 measures from when the last caller actually woke: every late wake-up
    was lost time (a 10,000-chat broadcast took 1.12× the limit-implied time at 28/s, of which 1.07× was the
    rate). Reserved instants are never closer than the interval, and no second holds more than
    `ceil(per_second)` sends as this process sees them."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1 / per_second
        self._next = 0.0
        self._sent: deque[float] = deque(maxlen=math.ceil(per_second))

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        at = max(now, self._next)
        self._next = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)
        # A loop, not an event: the room frees by the clock, and another caller may take it first.
        while len(self._sent) == self._sent.maxlen and loop.time() - self._sent[0] < 1.0:  # noqa: ASYNC110
            await asyncio.sleep(self._sent[0] + 1.0 - loop.time())
        self._sent.append(loop.time())


class SendLimits:
    def __init__(self, overall_per_second: float, private: tuple[float, float], group: tuple[float, float]) -> None:
        self.overall = PacedSlots(overall_per_second)
        self.private, self.group = private, group
        self._chats: OrderedDict[str, AsyncLimiter] = OrderedDict()

    def _chat(self, chat_id: str, is_group: bool) -> AsyncLimiter:
        limiter = self._chats.get(chat_id)
        if limiter is None:
            limiter = self._chats[chat_id] = AsyncLimiter(*(self.group if is_group else self.private))
            if len(self._chats) > MAX_TRACKED_CHATS:
                self._chats.popitem(last=False)
        else:
            self._chats.move_to_end(chat_id)
        return limiter

    @contextlib.asynccontextmanager
    async def slot(self, chat_id: str, *, is_group: bool, bulk: bool) -> AsyncIterator[None]:
        if bulk:
            await self._chat(chat_id, is_group).acquire()
        await self.overall.acquire()
        yield
