"""A platform's sending limits as leaky buckets (aiolimiter), shared by direct replies and the outbox.

Buckets of capacity 1 refilled at the allowed rate never exceed a sliding-window limit: `rate` per
second overall allows at most 1 + rate messages in any second. Per chat, bulk messages (outbox) keep to
the chat's own limit; a reply to someone who just wrote only waits for the overall bucket.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator

from aiolimiter import AsyncLimiter

MAX_TRACKED_CHATS = 10_000


class SendLimits:
    def __init__(self, overall_per_second: float, private: tuple[float, float], group: tuple[float, float]) -> None:
        self.overall = AsyncLimiter(1, 1 / overall_per_second)
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
