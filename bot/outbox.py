"""The outbox worker: delivers notifications written to the `outbox` table, with retries.

Rows are written in the same transaction as the change that caused them (a decision, a submission), so
a crash between the two loses nothing: the next worker to start delivers what is due. A row is leased
before sending (its next attempt moved into the future, a lease token set), so two bot processes never
send it twice: the lease is renewed just before the send and every third of its length while the send
runs (a send may wait long for its slot under the rate limits), a worker whose lease was taken over does
not send, and only the lease's holder records the outcome.
Outcomes are recorded: sent (with the platform's message id, for later edits), blocked (the person
blocked the bot or the account is gone: the decision still stands), failed (given up).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import secrets
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Protocol

from sqlalchemy import ColumnElement, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics
from bot.background import BackgroundLoop
from handlers.events import Reply
from storage import queries, reply_journal
from storage.models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)
LEASE = dt.timedelta(seconds=60)
MAX_ATTEMPTS = 8
BATCH = 100
# Messages to many people at once. Due notices to one person (a review card, a decision) go first.
BULK_PURPOSES = ("broadcast", "digest", "countdown", "draft_nudge", "review_nudge")


class RetryLater(Exception):
    """A transient refusal: try again after `seconds` (`rate_limited`: the platform said 429)."""

    def __init__(self, seconds: float, reason: str, *, rate_limited: bool = False) -> None:
        super().__init__(reason)
        self.seconds, self.rate_limited = seconds, rate_limited


class NotYet(RetryLater):
    """The message to edit is not delivered yet: wait for it without using up an attempt (it has its own;
    when they run out it fails, and then so does the edit)."""


class ChatMoved(Exception):
    """The group became a supergroup with a new chat id: deliver there (and remember it)."""

    def __init__(self, new_chat_id: str) -> None:
        super().__init__(f"chat moved to {new_chat_id}")
        self.new_chat_id = new_chat_id


class Unreachable(Exception):
    """The person blocked the bot, left, or the chat no longer exists: do not try again."""


class Rejected(Exception):
    """The platform refused the message itself (a bug, not a transient failure)."""


class OriginalUndelivered(Exception):
    """An edit of a message that was never delivered: it ends as its message did (blocked or failed), and
    the chat is not marked unreachable for it (the chat may be fine: the message failed for other reasons)."""

    def __init__(self, status: OutboxStatus) -> None:
        super().__init__(f"the message to edit was never delivered ({status.value})")
        self.status = status


class Sender(Protocol):
    """A channel as the outbox sees it. It keeps to its platform's sending limits itself."""

    platform: str

    async def deliver(self, chat_id: str, reply: Reply, *, answer: bool = False) -> str:
        """Send and return the platform's message id. A notice is bulk (within the chat's own limit); an
        `answer` is a step's reply the step's process did not send (storage/reply_journal.py)."""

    async def replace(self, chat_id: str, message_id: str, reply: Reply) -> None:
        """Replace a message sent earlier."""


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(2**attempts, 300))


class OutboxWorker:
    """Leases due rows in batches and delivers them: chats in parallel, each chat's rows in order (a row to be
    tried again holds the chat's later rows back until its next attempt)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        senders: dict[str, Sender],
        clock: Callable[[], dt.datetime],
        poll_seconds: float = 2.0,
        concurrency: int = 16,
        lease: dt.timedelta = LEASE,
        journal: reply_journal.ReplyJournal | None = None,
    ) -> None:
        """`journal`: the runtime's reply journal, whose replies still in flight the worker leaves alone."""
        self.sessions = sessions
        self.journal = journal or reply_journal.ReplyJournal()
        self.senders = senders
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.concurrency = concurrency
        self.lease = lease
        # Called after every pass that delivered something (the broadcast reports hook in here).
        self.after_pass: list[Callable[[], Awaitable[None]]] = []
        self.loop = BackgroundLoop("outbox", self._pass, poll_seconds)

    def wake(self) -> None:
        self.loop.wake()

    async def _pass(self) -> bool:
        delivered = await self.deliver_due()
        if delivered:
            for hook in self.after_pass:
                await hook()
        return delivered > 0 and not self.loop.stopping

    async def _lease(self) -> list[OutboxMessage]:
        """Claim due rows with one conditional UPDATE: a row another process leased first has its next
        attempt in the future, so it no longer matches; each row goes to exactly one worker."""
        now = self.clock()
        async with self.sessions() as session, session.begin():
            due = (
                select(OutboxMessage.id)
                .where(
                    OutboxMessage.status == OutboxStatus.PENDING,
                    OutboxMessage.next_attempt_at <= now,
                    OutboxMessage.platform.in_(list(self.senders)),
                    self.journal.taken_over_elsewhere(),
                )
                .order_by(case((OutboxMessage.purpose.in_(BULK_PURPOSES), 1), else_=0), OutboxMessage.id)
                .limit(BATCH)
            )
            ids = list((await session.scalars(due)).all())
            if not ids:
                return []
            token = secrets.token_hex(16)
            leased = await session.scalars(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id.in_(ids),
                    OutboxMessage.status == OutboxStatus.PENDING,
                    OutboxMessage.next_attempt_at <= now,
                    self.journal.taken_over_elsewhere(),
                )
                .values(attempts=OutboxMessage.attempts + 1, next_attempt_at=now + self.lease, lease_token=token)
                .returning(OutboxMessage)
                .execution_options(synchronize_session=False)
            )
            return sorted(leased.all(), key=lambda row: row.id)

    async def deliver_due(self) -> int:
        """Deliver every due row once; returns how many were handled."""
        if self.loop.stopping:
            return 0
        rows = await self._lease()
        by_chat: dict[tuple[str, str], list[OutboxMessage]] = defaultdict(list)
        for row in rows:
            by_chat[(row.platform, row.chat_id)].append(row)
        gate = asyncio.Semaphore(self.concurrency)

        left: list[int] = []

        async def deliver_chat(chat_rows: list[OutboxMessage]) -> None:
            async with gate:
                for index, row in enumerate(chat_rows):
                    if self.loop.stopping:  # shutting down: the rest goes out with the next process
                        left.append(row.id)
                        continue
                    again_at = await self._deliver(row)
                    if again_at is not None:  # not delivered yet: the chat's later rows wait behind it
                        await self._release([later.id for later in chat_rows[index + 1 :]], at=again_at)
                        return

        await asyncio.gather(*(deliver_chat(chat_rows) for chat_rows in by_chat.values()))
        if left:
            await self._release(left)
        return len(rows) - len(left)

    async def _release(self, ids: list[int], at: dt.datetime | None = None) -> None:
        """Give back leased rows this process will not send now (it is stopping, or a row before them in their
        chat must go first): due again `at` (at once by default), the attempt not counted."""
        if not ids:
            return
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.PENDING)
                .values(attempts=OutboxMessage.attempts - 1, next_attempt_at=at or self.clock())
            )

    def _held(self, row: OutboxMessage) -> ColumnElement[bool]:
        return (OutboxMessage.id == row.id) & (OutboxMessage.lease_token == row.lease_token)

    async def _renew(self, row: OutboxMessage) -> bool:
        """Extend this worker's lease on the row; False if the lease is no longer this worker's."""
        async with self.sessions() as session, session.begin():
            result = await session.execute(
                update(OutboxMessage)
                .where(self._held(row), OutboxMessage.status == OutboxStatus.PENDING)
                .values(next_attempt_at=self.clock() + self.lease)
            )
        return result.rowcount == 1

    async def _send_holding_lease(self, sender: Sender, row: OutboxMessage, reply: Reply) -> str:
        """Send while renewing the lease every third of it, so that nobody else takes the row over."""

        async def keep_renewing() -> None:
            while True:
                await asyncio.sleep(self.lease.total_seconds() / 3)
                await self._renew(row)

        renewing = asyncio.create_task(keep_renewing())
        try:
            return await self._send(sender, row, reply)
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing

    async def _deliver(self, row: OutboxMessage) -> dt.datetime | None:
        """Send the row and record the outcome; when it is to be tried again, the time it is due."""
        sender = self.senders[row.platform]
        reply = Reply.from_json(row.payload)
        values: dict[str, object]
        if not await self._renew(row):
            log.warning("outbox %s: its lease was taken over; not sending it from here", row.id)
            return None
        try:
            message_id = await self._send_holding_lease(sender, row, reply)
            values = {"status": OutboxStatus.SENT, "sent_at": self.clock(), "platform_message_id": message_id}
        except ChatMoved as moved:
            async with self.sessions() as session, session.begin():
                await queries.move_chat(session, row.platform, row.chat_id, moved.new_chat_id)
            row.chat_id = moved.new_chat_id
            values = {"chat_id": moved.new_chat_id, "next_attempt_at": self.clock()}
        except NotYet as error:
            values = {"next_attempt_at": self.clock() + dt.timedelta(seconds=error.seconds), "last_error": str(error),
                      "attempts": row.attempts - 1}  # fmt: skip
        except RetryLater as error:
            values = {"next_attempt_at": self.clock() + dt.timedelta(seconds=error.seconds), "last_error": str(error),
                      "rate_limited": error.rate_limited}  # fmt: skip
            if row.attempts >= MAX_ATTEMPTS:
                values = {"status": OutboxStatus.FAILED, "last_error": str(error)}
        except Unreachable as error:
            async with self.sessions() as session, session.begin():
                await queries.mark_unreachable(session, row.platform, row.chat_id, self.clock())
            values = {"status": OutboxStatus.BLOCKED, "last_error": str(error)}
        except OriginalUndelivered as error:
            log.info("outbox %s: %s", row.id, error)
            values = {"status": error.status, "last_error": str(error)}
        except Rejected as error:
            log.error("outbox %s refused by %s: %s", row.id, row.platform, error)
            values = {"status": OutboxStatus.FAILED, "last_error": str(error)}
        except Exception as error:
            log.warning("outbox %s: %s", row.id, error)
            values = {"next_attempt_at": self.clock() + backoff(row.attempts), "last_error": repr(error)}
            if row.attempts >= MAX_ATTEMPTS:
                values = {"status": OutboxStatus.FAILED, "last_error": repr(error)}
        metrics.DELIVERIES.labels(row.platform, _result(values)).inc()
        values.pop("rate_limited", None)
        async with self.sessions() as session, session.begin():
            recorded = await session.execute(update(OutboxMessage).where(self._held(row)).values(**values))
        if recorded.rowcount != 1:
            log.warning("outbox %s: the outcome was not recorded (the lease was taken over)", row.id)
        if "chat_id" in values:
            self.wake()
        again_at = values.get("next_attempt_at")
        return again_at if "status" not in values and isinstance(again_at, dt.datetime) else None

    async def _send(self, sender: Sender, row: OutboxMessage, reply: Reply) -> str:
        if row.edit_of_id is None:
            return await sender.deliver(row.chat_id, reply, answer=row.purpose == reply_journal.PURPOSE)
        return await self._replace(sender, row, reply)

    async def _replace(self, sender: Sender, row: OutboxMessage, reply: Reply) -> str:
        async with self.sessions() as session:
            original = await session.get(OutboxMessage, row.edit_of_id)
        if original is None or original.status in (OutboxStatus.FAILED, OutboxStatus.BLOCKED):
            raise OriginalUndelivered(original.status if original is not None else OutboxStatus.FAILED)
        if original.status == OutboxStatus.PENDING or original.platform_message_id is None:
            raise NotYet(2, "the message to edit is not delivered yet")
        await sender.replace(original.chat_id, original.platform_message_id, reply)
        return original.platform_message_id


def _result(values: dict[str, object]) -> str:
    """A delivery's outcome for the metrics: sent, blocked, failed, rate_limited or retry."""
    status = values.get("status")
    if status is not None:
        return {OutboxStatus.SENT: "sent", OutboxStatus.BLOCKED: "blocked"}.get(status, "failed")  # type: ignore[arg-type]
    return "rate_limited" if values.get("rate_limited") else "retry"
