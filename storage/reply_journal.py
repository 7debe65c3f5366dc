"""The reply journal: a step's replies written to the outbox in the step's own transaction.

A step's effects (a saved answer, a decision) commit before its replies are sent. A process killed in
between would leave the person without the answer they wait for, and the update is already claimed: it
is never handled again. So the replies are journalled as outbox rows in the step's transaction, due only
after `GRACE` and leased to this process. The channel sends them directly, as before, then makes the rows
whose send failed for a passing reason due at once (`Settlement`, which also renews the rows while a slow send
runs); the rows it delivered are deleted together with every other delivered within `DELETE_DELAY`, in one
transaction (`ReplyJournal.delivered`: one a step cost about a tenth of the step's CPU), and at the latest when
the runtime stops (`ReplyJournal.close`). If the process dies first, the outbox
worker of whichever process runs next delivers them once `GRACE` has passed. A process's own worker leaves
alone the rows of the steps it is still handling (`ReplyJournal.in_flight`, `taken_over_elsewhere`), and delivers the
others when due: those of a step whose commit was acknowledged too late (the database went away) or whose
later work failed, which no settlement will ever clear.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from sqlalchemy import ColumnElement, Executable, bindparam, delete, insert, true, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity import (
    AsyncRetrying,
    retry_base,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_delay,
    stop_never,
    wait_exponential,
)

from handlers.events import Reply
from storage.engine import core_transaction, database_unreachable
from storage.models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)
GRACE = dt.timedelta(seconds=15)
# The longest a delivered reply's row waits to be deleted with the others: a process killed within it sends that
# reply again at its next start (as one killed while sending does: a repeated answer rather than a lost one).
DELETE_DELAY = 0.25
PURPOSE = "reply"
# Settlements waiting for the database to come back (kept referenced until they finish).
_RECORDING_LATER: set[asyncio.Task[None]] = set()
_DB_ERRORS = (SQLAlchemyError, OSError)  # asyncpg refuses a connection with a bare OSError
_WHILE_UNREACHABLE = retry_if_exception(database_unreachable)
# A step's statements, built once and run on the connection (Core: none of the ORM's work per statement).
_OUTBOX = OutboxMessage.__table__
_INSERT = insert(_OUTBOX).returning(_OUTBOX.c.id, sort_by_parameter_order=True)
_MINE = (
    _OUTBOX.c.id.in_(bindparam("ids", expanding=True))
    & (_OUTBOX.c.lease_token == bindparam("token"))
    & (_OUTBOX.c.status == OutboxStatus.PENDING)
)  # rows of this process's lease, not delivered yet
_DELETE_DELIVERED = delete(_OUTBOX).where(_MINE)
_DUE_AGAIN = update(_OUTBOX).where(_MINE).values(next_attempt_at=bindparam("due"), lease_token=None)
_RENEW = update(_OUTBOX).where(_MINE).values(next_attempt_at=bindparam("due"))


def journalable(reply: Reply) -> bool:
    """A generated file's bytes are not kept in the database: such a reply is sent directly only."""
    return reply.file is None or reply.file.content is None


class ReplyJournal:
    """This process's journal over one database: one per runtime (several tenants in one process each have
    their own, since their outbox rows are numbered independently)."""

    def __init__(self) -> None:
        # This process's lease on the rows it journals: a worker that takes a row over sets its own token, and
        # from then on this process neither deletes nor reschedules it.
        self.token = secrets.token_hex(16)
        # This process's journalled rows from the journal's write until the channel has settled them (a delivered
        # one until its row is deleted).
        self.in_flight: set[int] = set()
        self._delivered: list[int] = []  # delivered rows waiting to be deleted together
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._deleting: asyncio.Task[None] | None = None
        self._hurry: asyncio.Event | None = None  # set: delete now (made with each deletion's task, in its loop)

    def taken_over_elsewhere(self) -> ColumnElement[bool]:
        """For the outbox worker: rows it may deliver — every row but this process's journalled replies still
        in flight (being sent right here; a failed one is released: its lease cleared, its id forgotten). So a
        clock moved on in a test never makes a reply in flight due here, and a reply no settlement will clear
        is still delivered."""
        if not self.in_flight:
            return true()
        return (
            OutboxMessage.lease_token.is_(None)
            | (OutboxMessage.lease_token != self.token)
            | OutboxMessage.id.not_in(sorted(self.in_flight))
        )

    def forget(self, replies: Sequence[Reply]) -> None:
        """These replies will not be settled here (their step failed after journalling them): once due, this
        process's outbox delivers whichever of them were committed."""
        self.in_flight.difference_update(reply.journal_id for reply in replies if reply.journal_id is not None)

    def delivered(self, sessions: async_sessionmaker[AsyncSession], ids: Sequence[int]) -> None:
        """These rows' replies were sent: their rows are deleted within `DELETE_DELAY`, with the others sent
        meanwhile. They stay in flight until then, so this process's outbox leaves them alone."""
        self._delivered.extend(ids)
        self._sessions = sessions
        if self._deleting is None or self._deleting.done():
            self._hurry = asyncio.Event()
            self._deleting = asyncio.create_task(self._delete_soon(self._hurry))

    async def close(self) -> None:
        """Delete the delivered rows now (the runtime stopping): a restart must not send those replies again.
        Not past `GRACE`: a database still away must not hold the stop forever."""
        if self._hurry is not None:
            self._hurry.set()
        deleting = self._deleting
        if deleting is not None and not deleting.done() and deleting.get_loop() is asyncio.get_running_loop():
            await asyncio.wait([deleting], timeout=GRACE.total_seconds())
        elif self._delivered:  # their task ended with its event loop (a test's): deleted here
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._delete_pending(), GRACE.total_seconds())

    async def _delete_soon(self, hurry: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(hurry.wait(), DELETE_DELAY)
        await self._delete_pending()

    async def _delete_pending(self) -> None:
        while self._delivered:
            ids, self._delivered = self._delivered, []
            await self._delete(ids)

    async def _delete(self, ids: list[int]) -> None:
        """Any database error is tried again for `GRACE`; while the database stays unreachable (a PostgreSQL
        restart), until it is back. The rows stay in flight meanwhile, then are forgotten either way; cancelled,
        they wait for the next deletion."""
        sessions, parameters = self._sessions, {"ids": ids, "token": self.token}
        assert sessions is not None

        async def delete() -> None:
            await _run(sessions, _DELETE_DELIVERED, parameters)

        try:
            try:
                await _patiently(delete, within=GRACE.total_seconds(), retry=retry_if_exception_type(_DB_ERRORS))
            except _DB_ERRORS as error:
                if not database_unreachable(error):
                    raise
                log.warning("the replies' journal was not updated (%s): trying until the database is back",
                            type(error).__name__)  # fmt: skip
                await _patiently(delete, within=None)
        except asyncio.CancelledError:
            self._delivered.extend(ids)
            raise
        except Exception as error:  # whatever it was, the replies may be sent again: say so
            log.warning("the replies' journal was not updated (%r): they may be sent again", error)
        self.in_flight.difference_update(ids)

    async def write(
        self, session: AsyncSession, platform: str, chat_id: str, replies: Sequence[Reply], now: dt.datetime
    ) -> list[Reply]:
        """Journal the replies in the caller's transaction; each journalled reply comes back with its row's id."""
        kept = [reply for reply in replies if journalable(reply)]
        if not kept:
            return list(replies)
        due = now + GRACE
        rows = [{"platform": platform, "chat_id": chat_id, "payload": reply.to_json(), "purpose": PURPOSE,
                 "next_attempt_at": due, "lease_token": self.token, "created_at": now} for reply in kept]  # fmt: skip
        written = (await (await session.connection()).execute(_INSERT, rows)).scalars().all()
        self.in_flight.update(written)
        ids = iter(written)
        return [replace(reply, journal_id=next(ids)) if journalable(reply) else reply for reply in replies]


class Settlement:
    """What became of a step's journalled replies, recorded once the channel has tried to send them all:

        async with Settlement(journal, sessions, replies, clock, outbox_changed) as settlement:
            for reply in replies:
                ...send it, then settlement.sent(reply) or settlement.failed(reply)

    While the block runs the replies' rows are renewed every third of `GRACE`, so a slow send (a long wait
    for its slot under the rate limits) never has the outbox send them as well.
    """

    def __init__(
        self,
        journal: ReplyJournal,
        sessions: async_sessionmaker[AsyncSession],
        replies: Sequence[Reply],
        clock: Callable[[], dt.datetime],
        outbox_changed: Callable[[], None],
    ) -> None:
        self.journal, self.sessions, self.clock, self.outbox_changed = journal, sessions, clock, outbox_changed
        self.replies = replies
        self.ids = [reply.journal_id for reply in replies if reply.journal_id is not None]
        self.done: list[int] = []
        self.retry: list[int] = []
        self._renewing: asyncio.Task[None] | None = None

    def sent(self, reply: Reply) -> None:
        """Delivered, or refused for good (a blocked chat, a bad request): nothing is left to deliver."""
        if reply.journal_id is not None:
            self.done.append(reply.journal_id)

    def failed(self, reply: Reply) -> bool:
        """Not delivered for a passing reason: the outbox takes it over at once. False if not journalled."""
        if reply.journal_id is None:
            return False
        self.retry.append(reply.journal_id)
        return True

    def follows_a_failed_one(self, reply: Reply) -> bool:
        """An earlier reply of the step was left to the outbox: this one goes after it there (the outbox keeps
        a chat's order), so the person never reads the step's answers out of order. The caller skips sending."""
        if not self.retry or reply.journal_id is None:
            return False
        self.retry.append(reply.journal_id)
        return True

    async def __aenter__(self) -> Settlement:
        if self.ids:
            self._renewing = asyncio.create_task(self._keep_renewing())
        return self

    async def __aexit__(self, kind: type[BaseException] | None, *_: object) -> None:
        """Record what became of the replies, even when sending stopped on an error (what was delivered must
        not be sent again): the delivered rows go to the journal's next deletion; with a failed one, the rows
        are updated here. The other replies are forgotten at once: the outbox delivers them when due."""
        handed_over: set[int] = set()
        try:
            if self._renewing is not None:
                self._renewing.cancel()
                await asyncio.gather(self._renewing, return_exceptions=True)
            if self.retry:
                if await self._record():
                    handed_over = set(self.ids)
            elif self.done:
                self.journal.delivered(self.sessions, self.done)
                handed_over = set(self.done)
        finally:
            self.journal.forget([reply for reply in self.replies if reply.journal_id not in handed_over])

    def _leased(self, ids: list[int], **values: object) -> dict[str, object]:
        """The parameters of `_MINE`: these rows, if still leased to this process and not delivered."""
        return {"ids": ids, "token": self.journal.token, **values}

    async def _keep_renewing(self) -> None:
        while True:
            await asyncio.sleep(GRACE.total_seconds() / 3)
            with contextlib.suppress(*_DB_ERRORS):  # the database away: the rows simply wait
                await _run(self.sessions, _RENEW, self._leased(self.ids, due=self.clock() + GRACE))

    async def _record(self) -> bool:
        """Delete the delivered rows; make the failed ones due now. Any database error is tried again for
        `GRACE`; while the database stays unreachable (a PostgreSQL restart), then in the background until it
        is back — True: that task forgets the replies when done. The rows stay leased to this process
        meanwhile, so nothing sends the delivered replies a second time unless the process dies first (the
        next one sends them: a repeated answer rather than a lost one)."""
        try:
            await self._update_rows_patiently(within=GRACE.total_seconds(), retry=retry_if_exception_type(_DB_ERRORS))
        except _DB_ERRORS as error:
            if not database_unreachable(error):
                log.warning("the replies' journal was not updated (%r): they may be sent again", error)
                return False
            log.warning("the replies' journal was not updated (%s): trying again in the background",
                        type(error).__name__)  # fmt: skip
            task = asyncio.create_task(self._update_rows_patiently(within=None))
            _RECORDING_LATER.add(task)
            task.add_done_callback(self._recorded_later)
            return True
        return False

    def _recorded_later(self, task: asyncio.Task[None]) -> None:
        _RECORDING_LATER.discard(task)
        self.journal.forget(self.replies)
        if not task.cancelled() and task.exception() is not None:
            log.warning("the replies' journal was not updated (%r): they may be sent again", task.exception())

    async def _update_rows_patiently(self, *, within: float | None, retry: retry_base = _WHILE_UNREACHABLE) -> None:
        await _patiently(self._update_rows, within=within, retry=retry)
        if self.retry:
            self.outbox_changed()

    async def _update_rows(self) -> None:
        async with core_transaction(self.sessions) as connection:
            if self.done:
                await connection.execute(_DELETE_DELIVERED, self._leased(self.done))
            if self.retry:
                await connection.execute(_DUE_AGAIN, self._leased(self.retry, due=self.clock()))


async def _run(
    sessions: async_sessionmaker[AsyncSession], statement: Executable, parameters: dict[str, object]
) -> None:
    """One statement in a transaction of its own."""
    async with core_transaction(sessions) as connection:
        await connection.execute(statement, parameters)


async def _patiently(
    work: Callable[[], Awaitable[None]], *, within: float | None, retry: retry_base = _WHILE_UNREACHABLE
) -> None:
    """`work`, tried again after the database errors `retry` takes for `within` seconds (None: until the
    database is back)."""
    stop = stop_never if within is None else stop_after_delay(within)
    async for attempt in AsyncRetrying(retry=retry, reraise=True, stop=stop,
                                       wait=wait_exponential(multiplier=0.2, max=3)):  # fmt: skip
        with attempt:
            await work()
