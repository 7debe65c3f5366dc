"""A platform's sending limits, shared by direct replies and the outbox.

Overall, Telegram's rule is a count in a sliding second (30 sends): `SendWindow` lets a send go once the
send `count` places before it was answered a second ago — so a late wake-up or a slow request can never
squeeze 31 arrivals into one second, and a send never waits longer than the rule needs (a leaky bucket at
28/s lost every late wake-up: a broadcast took 1.12× the limit-implied time). Zalo publishes no rule: a
bucket of one at 20/s (aiolimiter). Per chat, bulk messages (the outbox) keep to the chat's own limit with
aiolimiter's buckets; a reply to someone who just wrote waits only for the overall limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable

from aiolimiter import AsyncLimiter

MAX_TRACKED_CHATS = 10_000


class SendWindow:
    """At most `count` sends in any `period` seconds at the platform, wherever the network delays them.

    A send arrives between its start and its answer, so send k starts once the answer to send k−count is
    `period` old. On a link with a round trip of r seconds that is `count` sends per (`period` + r) at
    worst (Telegram from Viet Nam, r ≈ 0.05 s: 28.6/s); a guess of when the platform received a send
    instead of its answer would be faster on a slow link, and wrong whenever the loop or the network
    stalls (tried: 429s under load)."""

    def __init__(self, count: int, period: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.count, self.period, self.clock = count, period, clock
        self._answers: deque[asyncio.Future[float]] = deque()  # of the last `count` sends, oldest first
        self._turn = asyncio.Lock()  # first come, first served

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a place in the window; the send happens inside the block, its answer ends it."""
        async with self._turn:
            if len(self._answers) >= self.count:  # left in place until the wait is over: a cancelled wait frees nothing
                answered = await asyncio.shield(self._answers[0])
                await asyncio.sleep(max(0.0, answered + self.period - self.clock()))
                self._answers.popleft()
            answer: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            self._answers.append(answer)
        try:
            yield
        finally:
            answer.set_result(self.clock())


class SteadyRate:
    """A bucket of one refilled at `per_second` (aiolimiter): never a burst."""

    def __init__(self, per_second: float) -> None:
        self._bucket = AsyncLimiter(1, 1 / per_second)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self._bucket.acquire()
        yield


class SendLimits:
    def __init__(
        self, overall: SendWindow | SteadyRate, private: tuple[float, float], group: tuple[float, float]
    ) -> None:
        self.overall = overall
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
        async with self.overall.slot():
            yield
