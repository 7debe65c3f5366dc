"""The outbox worker: delivers notifications written to the `outbox` table, with retries.

Rows are written in the same transaction as the change that caused them (a decision, a submission), so
a crash between the two loses nothing: the next worker to start delivers what is due. A row is leased
before sending (its next attempt moved into the future), so two bot processes never send it twice.
Outcomes are recorded: sent (with the platform's message id, for later edits), blocked (the person
blocked the bot or the account is gone: the decision still stands), failed (given up).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from typing import Protocol

from aiolimiter import AsyncLimiter
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.events import Reply
from storage.models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)
LEASE = dt.timedelta(seconds=60)
MAX_ATTEMPTS = 8
BATCH = 50


class RetryLater(Exception):
    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds = seconds


class Unreachable(Exception):
    """The person blocked the bot, left, or the chat no longer exists: do not try again."""


class Rejected(Exception):
    """The platform refused the message itself (a bug, not a transient failure)."""


class Sender(Protocol):
    platform: str
    # The platform's sending limits: messages per second overall, and (count, seconds) for one chat.
    overall_per_second: float

    def chat_limit(self, chat_id: str) -> tuple[float, float]:
        """How many messages may go to this chat in how many seconds."""

    async def deliver(self, chat_id: str, reply: Reply) -> str:
        """Send and return the platform's message id."""

    async def replace(self, chat_id: str, message_id: str, reply: Reply) -> None:
        """Replace a message sent earlier."""


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(2**attempts, 300))


class OutboxWorker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        senders: dict[str, Sender],
        clock: Callable[[], dt.datetime],
        poll_seconds: float = 2.0,
    ) -> None:
        self.sessions = sessions
        self.senders = senders
        self.clock = clock
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._overall: dict[str, AsyncLimiter] = {}
        self._per_chat: dict[tuple[str, str], AsyncLimiter] = {}

    def _limits(self, platform: str, chat_id: str) -> tuple[AsyncLimiter, AsyncLimiter]:
        """The platform-wide and the per-chat leaky buckets (aiolimiter) a send must pass."""
        if platform not in self._overall:
            self._overall[platform] = AsyncLimiter(self.senders[platform].overall_per_second, 1)
        key = (platform, chat_id)
        if key not in self._per_chat:
            if len(self._per_chat) > 10_000:
                self._per_chat.clear()
            self._per_chat[key] = AsyncLimiter(*self.senders[platform].chat_limit(chat_id))
        return self._overall[platform], self._per_chat[key]

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                delivered = await self.deliver_due()
            except Exception:
                log.exception("outbox pass failed")
                delivered = 0
            if delivered:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def _lease(self) -> list[OutboxMessage]:
        now = self.clock()
        async with self.sessions() as session, session.begin():
            due = (
                await session.scalars(
                    select(OutboxMessage)
                    .where(
                        OutboxMessage.status == OutboxStatus.PENDING,
                        OutboxMessage.next_attempt_at <= now,
                        OutboxMessage.platform.in_(list(self.senders)),
                    )
                    .order_by(OutboxMessage.id)
                    .limit(BATCH)
                )
            ).all()
            leased = []
            for row in due:
                claimed = await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row.id, OutboxMessage.attempts == row.attempts)
                    .values(attempts=row.attempts + 1, next_attempt_at=now + LEASE)
                )
                if claimed.rowcount == 1:
                    row.attempts += 1
                    leased.append(row)
            return leased

    async def deliver_due(self) -> int:
        """Deliver every due row once; returns how many were handled."""
        rows = await self._lease()
        for row in rows:
            await self._deliver(row)
        return len(rows)

    async def _deliver(self, row: OutboxMessage) -> None:
        sender = self.senders[row.platform]
        reply = Reply.from_json(row.payload)
        overall, per_chat = self._limits(row.platform, row.chat_id)
        values: dict[str, object]
        try:
            async with overall, per_chat:
                message_id = await self._send(sender, row, reply)
            values = {"status": OutboxStatus.SENT, "sent_at": self.clock(), "platform_message_id": message_id}
        except RetryLater as error:
            values = {"next_attempt_at": self.clock() + dt.timedelta(seconds=error.seconds), "last_error": str(error)}
            if row.attempts >= MAX_ATTEMPTS:
                values = {"status": OutboxStatus.FAILED, "last_error": str(error)}
        except Unreachable as error:
            values = {"status": OutboxStatus.BLOCKED, "last_error": str(error)}
        except Rejected as error:
            log.error("outbox %s refused by %s: %s", row.id, row.platform, error)
            values = {"status": OutboxStatus.FAILED, "last_error": str(error)}
        except Exception as error:
            log.warning("outbox %s: %s", row.id, error)
            values = {"next_attempt_at": self.clock() + backoff(row.attempts), "last_error": repr(error)}
            if row.attempts >= MAX_ATTEMPTS:
                values = {"status": OutboxStatus.FAILED, "last_error": repr(error)}
        async with self.sessions() as session, session.begin():
            await session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(**values))

    async def _send(self, sender: Sender, row: OutboxMessage, reply: Reply) -> str:
        if row.edit_of_id is None:
            return await sender.deliver(row.chat_id, reply)
        return await self._replace(sender, row, reply)

    async def _replace(self, sender: Sender, row: OutboxMessage, reply: Reply) -> str:
        async with self.sessions() as session:
            original = await session.get(OutboxMessage, row.edit_of_id)
        if original is None or original.status in (OutboxStatus.FAILED, OutboxStatus.BLOCKED):
            raise Unreachable("the message to edit was never delivered")
        if original.status == OutboxStatus.PENDING or original.platform_message_id is None:
            raise RetryLater(2, "the message to edit is not delivered yet")
        await sender.replace(row.chat_id, original.platform_message_id, reply)
        return original.platform_message_id
