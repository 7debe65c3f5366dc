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
from collections.abc import AsyncIterator, Awaitable, Callable

from aiolimiter import AsyncLimiter

MAX_TRACKED_CHATS = 10_000
SHORTEST_WAIT = 0.001  # seconds: uvloop's timers' unit


class SendWindow:
    """At most `count` sends in any `period` seconds at the platform, wherever the network delays them.

    A send arrives between its start and its answer, so send k starts once the answer to send k−count is
    `period` old. On a link with a round trip of r seconds that is `count` sends per (`period` + r) at
    worst (Telegram from Viet Nam, r ≈ 0.05 s: 28.6/s). A guess of when the platform received a send
    instead of its answer would be faster on a slow link, and wrong whenever the loop or the network
    stalls (tried: 429s under load) — except past `patience`: a request still unanswered then is dated
    `patience` after its start, so one hung connection holds the others back that long at most.

    One place is one request: the Telegram channel's `SendWindowMiddleware` takes it for each attempt (a
    retry is another arrival; a 429's wait happens outside the window). A `clock` and `sleep` given (tests)
    must agree: a wait lasts until the clock has passed its moment."""

    def __init__(
        self,
        count: int,
        period: float = 1.0,
        patience: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.count, self.period, self.patience, self.clock, self.sleep = count, period, patience, clock, sleep
        self.limit = count  # the platform's; `count` is this process's share of it
        self._sent: deque[tuple[float, asyncio.Future[float]]] = deque()  # the last `count`: start, answer
        self._turn = asyncio.Lock()  # first come, first served

    def share(self, processes: int) -> None:
        """`processes` send for the same bot: this one keeps to its part of the platform's count."""
        self.count = max(1, self.limit // max(1, processes))

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a place in the window; the request happens inside the block, its answer ends it."""
        async with self._turn:
            while len(self._sent) > self.count:  # the count shrank: only the last `count` sends bound the next
                self._sent.popleft()
            if len(self._sent) >= self.count:  # left in place until the wait is over: a cancelled wait frees nothing
                arrived_by = await self._arrival_bound(*self._sent[0])
                await self._sleep_until(arrived_by + self.period)
                self._sent.popleft()
            answer: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            self._sent.append((self.clock(), answer))
        try:
            yield
        finally:
            answer.set_result(self.clock())

    async def _sleep_until(self, moment: float) -> None:
        """uvloop's timers count whole milliseconds, so a wait may end up to one early: what is left is waited
        again, a millisecond at least (a shorter timer would end at once, again and again, spinning the loop)."""
        while (wait := moment - self.clock()) > 0:
            await self.sleep(max(wait, SHORTEST_WAIT))

    async def _arrival_bound(self, started: float, answer: asyncio.Future[float]) -> float:
        """The latest the platform can have received a request: its answer (waited for up to `patience`)."""
        given_up = started + self.patience
        if not answer.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(answer), timeout=max(0.0, given_up - self.clock()))
        return min(answer.result(), given_up) if answer.done() else given_up


class SteadyRate:
    """A bucket of one refilled at `per_second` (aiolimiter): never a burst."""

    def __init__(self, per_second: float) -> None:
        self.per_second = per_second
        self._bucket = AsyncLimiter(1, 1 / per_second)

    def share(self, processes: int) -> None:
        """`processes` send for the same bot: this one keeps to its part of the rate."""
        self._bucket = AsyncLimiter(1, max(1, processes) / self.per_second)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self._bucket.acquire()
        yield


class SendLimits:
    """`overall`: the platform-wide limit, when it is not kept at the request level (Telegram's is)."""

    def __init__(self, overall: SteadyRate | None, private: tuple[float, float], group: tuple[float, float]) -> None:
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
        if self.overall is None:
            yield
            return
        async with self.overall.slot():
            yield
