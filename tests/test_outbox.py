"""The outbox worker on a real database: a send that outlives its lease is not sent twice by a second
worker (found by the audit: with several processes, a slow send was delivered twice)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import event, func, select

from bot.outbox import OutboxWorker, RetryLater
from handlers.events import Option, Reply
from storage import queries, reply_journal
from storage.engine import create_engine, session_factory, upgrade_database
from storage.models import Identity, OutboxMessage, OutboxStatus
from storage.reply_journal import GRACE, ReplyJournal, Settlement
from tests.harness import eventually

LEASE = dt.timedelta(seconds=0.6)


class SlowPlatform:
    """A platform whose sends take three leases long, recording each message it receives."""

    platform = "telegram"

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []
        self.sending = asyncio.Event()

    async def deliver(self, chat_id: str, reply: Reply, *, answer: bool = False) -> str:
        self.sending.set()
        await asyncio.sleep(LEASE.total_seconds() * 3)
        self.received.append((chat_id, reply.text))
        return str(len(self.received))

    async def replace(self, chat_id: str, message_id: str, reply: Reply) -> None:
        raise AssertionError("not used")


@pytest.fixture
async def sessions(database_url: str):
    engine = create_engine(database_url)
    await upgrade_database(engine)
    yield session_factory(engine)
    await engine.dispose()


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def test_a_send_outliving_its_lease_is_not_sent_again_by_another_worker(sessions) -> None:
    async with sessions() as session, session.begin():
        queries.queue_message(session, "telegram", "42", Reply(text="Sáng kiến #1 đã được công nhận").to_json(),
                              purpose="decision", at=utc_now())  # fmt: skip
    platform = SlowPlatform()
    first, second = (OutboxWorker(sessions, {"telegram": platform}, utc_now, lease=LEASE) for _ in range(2))
    sending = asyncio.create_task(first.deliver_due())
    await asyncio.wait_for(platform.sending.wait(), 10)
    deadline = asyncio.get_running_loop().time() + 10
    while not sending.done():  # the second worker keeps looking while the first one's send is slow
        assert asyncio.get_running_loop().time() < deadline, "the slow send never finished"
        await second.deliver_due()
        await asyncio.sleep(LEASE.total_seconds() / 4)
    assert await sending == 1
    assert platform.received == [("42", "Sáng kiến #1 đã được công nhận")], "sent exactly once"
    async with sessions() as session:
        row = await session.scalar(select(OutboxMessage))
    assert (row.status, row.attempts, row.platform_message_id) == (OutboxStatus.SENT, 1, "1")


class EditingPlatform:
    platform = "telegram"

    def __init__(self) -> None:
        self.edits: list[tuple[str, str, str]] = []
        self.delivered: list[str] = []

    async def deliver(self, chat_id: str, reply: Reply, *, answer: bool = False) -> str:
        self.delivered.append(chat_id)
        return "77"

    async def replace(self, chat_id: str, message_id: str, reply: Reply) -> None:
        self.edits.append((chat_id, message_id, reply.text))


async def test_an_edit_waits_for_its_message_however_long_without_failing(sessions) -> None:
    """Found by the soak: the edit of a review card whose card was still waiting (its own retries, a killed
    worker's lease) used up its eight attempts in sixteen seconds and failed: the card was never edited."""
    clock = [utc_now()]
    async with sessions() as session, session.begin():
        card = queries.queue_message(session, "telegram", "42", Reply(text="Thẻ #1").to_json(),
                                     purpose="review_request", at=clock[0] + dt.timedelta(hours=1))  # fmt: skip
        await session.flush()
        queries.queue_message(session, "telegram", "42", Reply(text="Thẻ #1: đã xác nhận").to_json(),
                              purpose="review_edit", at=clock[0], edit_of_id=card.id)  # fmt: skip
    platform = EditingPlatform()
    worker = OutboxWorker(sessions, {"telegram": platform}, lambda: clock[0])
    for _ in range(20):  # twenty passes while the card is not due: more than the attempts an edit has
        await worker.deliver_due()
        clock[0] += dt.timedelta(seconds=3)
    clock[0] += dt.timedelta(hours=1)
    await worker.deliver_due()  # the card, then
    await worker.deliver_due()  # its edit
    assert platform.edits == [("42", "77", "Thẻ #1: đã xác nhận")]
    async with sessions() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    assert [(r.purpose, r.status) for r in rows] == [("review_request", OutboxStatus.SENT),
                                                     ("review_edit", OutboxStatus.SENT)]  # fmt: skip


async def test_an_edit_whose_message_failed_fails_without_calling_the_chat_unreachable(sessions) -> None:
    """The card gave up after its attempts (a platform outage): its edit cannot be made either, but the chair's
    chat is fine, so reminders and broadcasts must keep reaching it."""
    async with sessions() as session, session.begin():
        chair = await queries.get_or_create_identity(session, "telegram", "42", "42", "Chủ tịch", "vi")
        card = queries.queue_message(session, "telegram", "42", Reply(text="Thẻ #1").to_json(),
                                     purpose="review_request", at=utc_now())  # fmt: skip
        card.status = OutboxStatus.FAILED
        await session.flush()
        queries.queue_message(session, "telegram", "42", Reply(text="Thẻ #1: đã xác nhận").to_json(),
                              purpose="review_edit", at=utc_now(), edit_of_id=card.id)  # fmt: skip
    platform = EditingPlatform()
    await OutboxWorker(sessions, {"telegram": platform}, utc_now).deliver_due()
    async with sessions() as session:
        edit = await session.scalar(select(OutboxMessage).where(OutboxMessage.purpose == "review_edit"))
        chair = await session.get(Identity, chair.id)
    assert (edit.status, platform.edits) == (OutboxStatus.FAILED, [])
    assert chair.blocked_at is None


class FlakySessions:
    """The session factory of a database that refuses the first `refusals` connections, as asyncpg does
    while PostgreSQL restarts (a bare ConnectionRefusedError, not one of SQLAlchemy's)."""

    def __init__(self, sessions, refusals: int) -> None:
        self.sessions, self.refusals = sessions, refusals
        self.kw = {**sessions.kw, "bind": self}  # its engine too (storage.engine.core_transaction)

    def _connect(self) -> None:
        if self.refusals > 0:
            self.refusals -= 1
            raise ConnectionRefusedError(111, "Connect call failed")

    def __call__(self):
        self._connect()
        return self.sessions()

    def begin(self):
        self._connect()
        return self.sessions.kw["bind"].begin()


async def test_a_delivered_reply_is_cleared_from_the_journal_once_the_database_is_back(sessions) -> None:
    """Found by the soak: PostgreSQL restarting refused the journal's delete with a bare
    ConnectionRefusedError, which was not retried; the reply stayed to be sent a second time."""
    now, journal = utc_now(), ReplyJournal()
    async with sessions() as session, session.begin():
        [reply] = await journal.write(session, "telegram", "42", [Reply(text="Hướng dẫn")], now)
    async with Settlement(journal, FlakySessions(sessions, 2), [reply], utc_now, lambda: None) as settlement:
        settlement.sent(reply)
    await journal.close()
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


class CountedTransactions:
    """Counts the transactions begun on the sessions' database while it is attached."""

    def __init__(self, sessions) -> None:
        self.engine, self.begun = sessions.kw["bind"].sync_engine, 0

    def _begun(self, _connection) -> None:
        self.begun += 1

    def __enter__(self) -> CountedTransactions:
        event.listen(self.engine, "begin", self._begun)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "begin", self._begun)


async def test_replies_delivered_together_are_cleared_in_one_transaction_a_moment_later(sessions) -> None:
    """Two steps' replies delivered within DELETE_DELAY: their rows are deleted together, in one transaction
    (one a step cost about a tenth of a step's CPU); until then they stay in flight, so the outbox here leaves
    them alone."""
    now, journal = utc_now(), ReplyJournal()
    async with sessions() as session, session.begin():
        [first] = await journal.write(session, "telegram", "42", [Reply(text="Bước 2/16")], now)
        [second] = await journal.write(session, "telegram", "43", [Reply(text="Bước 5/16")], now)
    with CountedTransactions(sessions) as counted:
        for reply in (first, second):
            async with Settlement(journal, sessions, [reply], utc_now, lambda: None) as settlement:
                settlement.sent(reply)
        assert journal.in_flight == {first.journal_id, second.journal_id}, "in flight until deleted"
        assert counted.begun == 0, "deleted a moment later"

        async def settled() -> bool:
            """no reply in flight"""
            return not journal.in_flight

        await eventually(settled, timeout=10)
    async with sessions() as session:
        left = await session.scalar(select(func.count()).select_from(OutboxMessage))
    assert (left, counted.begun) == (0, 1)


async def test_a_journal_closing_deletes_its_delivered_rows_at_once(sessions, monkeypatch) -> None:
    """The runtime stopping (Runtime.close) deletes the rows of the replies just delivered: after a restart the
    outbox would send them again."""
    monkeypatch.setattr(reply_journal, "DELETE_DELAY", 600)
    journal = ReplyJournal()
    async with sessions() as session, session.begin():
        [reply] = await journal.write(session, "telegram", "42", [Reply(text="Hướng dẫn")], utc_now())
    async with Settlement(journal, sessions, [reply], utc_now, lambda: None) as settlement:
        settlement.sent(reply)
    await asyncio.wait_for(journal.close(), timeout=10)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert journal.in_flight == set()


def test_rows_whose_deletion_ended_with_its_event_loop_are_deleted_by_the_next(tmp_path) -> None:
    """A journal used in two event loops (the tests do): the deletion its first loop's end cancelled leaves those
    rows to the next deletion, in the next loop, instead of forgetting them undeleted (the outbox of the next
    start would send them again) or waiting on a closed loop."""
    url, journal = f"sqlite+aiosqlite:///{tmp_path}/journal.db", ReplyJournal()

    async def deliver(text: str, check: bool) -> None:
        engine = create_engine(url)
        await upgrade_database(engine)
        sessions = session_factory(engine)
        async with sessions() as session, session.begin():
            [reply] = await journal.write(session, "telegram", "42", [Reply(text=text)], utc_now())
        async with Settlement(journal, sessions, [reply], utc_now, lambda: None) as settlement:
            settlement.sent(reply)
        if check:
            await asyncio.wait_for(journal.close(), timeout=10)
            async with sessions() as session:
                assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
            assert journal.in_flight == set()
        await engine.dispose()

    asyncio.run(deliver("Bước 2/16", check=False))  # the loop ends before DELETE_DELAY: its deletion cancelled
    asyncio.run(deliver("Bước 3/16", check=True))


async def test_a_failed_send_is_the_outboxs_at_once_and_a_settlement_touches_only_its_own_lease(sessions) -> None:
    """A step's reply delivered is cleared; one whose send failed for a passing reason is due now and no
    longer leased (the outbox sends it at once, not after GRACE); a row another process leased is left as it
    was even when named."""
    now, journal, other = utc_now(), ReplyJournal(), ReplyJournal()
    async with sessions() as session, session.begin():
        delivered, failed = await journal.write(session, "telegram", "42", [Reply(text="Bước 2/16"),
                                                                            Reply(text="Bước 3/16")], now)  # fmt: skip
        [theirs] = await other.write(session, "telegram", "43", [Reply(text="Tóm tắt sáng kiến")], now)
    told: list[bool] = []
    replies = [delivered, failed, theirs]
    async with Settlement(journal, sessions, replies, utc_now, lambda: told.append(True)) as settlement:
        settlement.sent(delivered)
        settlement.sent(theirs)
        assert settlement.failed(failed)
    async with sessions() as session:
        rows = {row.id: row for row in await session.scalars(select(OutboxMessage))}
    assert set(rows) == {failed.journal_id, theirs.journal_id}, "the delivered one cleared, the other's kept"
    assert rows[failed.journal_id].lease_token is None and rows[failed.journal_id].next_attempt_at <= utc_now()
    assert rows[theirs.journal_id].lease_token == other.token
    assert rows[theirs.journal_id].next_attempt_at == now + GRACE
    assert told == [True], "the outbox is woken for the failed one"


async def test_a_journalled_reply_no_settlement_will_clear_is_delivered_here_once_due(sessions) -> None:
    """The step's commit landed but its acknowledgement was lost (PostgreSQL restarting): the update is
    claimed, so handling it again answers nothing; the reply it journalled is this process's own, and its
    outbox must still deliver it — while a reply still in flight here is left alone whatever the clock says."""
    now, journal = utc_now(), ReplyJournal()
    async with sessions() as session, session.begin():
        [lost] = await journal.write(session, "telegram", "42", [Reply(text="Tóm tắt sáng kiến")], now)
        await journal.write(session, "telegram", "43", [Reply(text="Bước 2/16")], now)
    journal.forget([lost])  # what handle_event does when its transaction raised
    platform = EditingPlatform()
    later = now + GRACE + dt.timedelta(seconds=1)
    await OutboxWorker(sessions, {"telegram": platform}, lambda: later, journal=journal).deliver_due()
    assert platform.delivered == ["42"]


async def test_one_tenants_replies_in_flight_never_hold_back_anothers(tmp_path) -> None:
    """Two tenants in one process: their outbox rows are numbered apart, so the same number is in flight in one
    and left to the outbox in the other; each runtime's journal keeps its own (one shared set of numbers held
    the other tenant's lost reply back)."""
    now, later = utc_now(), utc_now() + GRACE + dt.timedelta(seconds=1)
    engines = [create_engine(f"sqlite+aiosqlite:///{tmp_path}/{name}.db") for name in ("hanoi", "hue")]
    try:
        places = []
        for engine in engines:
            await upgrade_database(engine)
            places.append((session_factory(engine), ReplyJournal()))
        (hanoi, hanoi_journal), (hue, hue_journal) = places
        async with hue() as session, session.begin():
            [lost] = await hue_journal.write(session, "telegram", "77", [Reply(text="Tóm tắt sáng kiến")], now)
        hue_journal.forget([lost])
        async with hanoi() as session, session.begin():
            [in_flight] = await hanoi_journal.write(session, "telegram", "42", [Reply(text="Bước 2/16")], now)
        assert in_flight.journal_id == lost.journal_id == 1
        platform = EditingPlatform()
        await OutboxWorker(hue, {"telegram": platform}, lambda: later, journal=hue_journal).deliver_due()
        assert platform.delivered == ["77"], "Huế's lost reply goes out though Hà Nội's row 1 is in flight"
    finally:
        for engine in engines:
            await engine.dispose()


class OnceRefusingPlatform:
    """Refuses the first message it is given once, for a passing reason (a 5xx); records what it delivers."""

    platform = "telegram"

    def __init__(self) -> None:
        self.delivered: list[str] = []
        self.refused = False

    async def deliver(self, chat_id: str, reply: Reply, *, answer: bool = False) -> str:
        if not self.refused:
            self.refused = True
            raise RetryLater(2, "Bad Gateway")
        self.delivered.append(reply.text)
        return str(len(self.delivered))

    async def replace(self, chat_id: str, message_id: str, reply: Reply) -> None:
        raise AssertionError("not used")


async def test_a_chats_later_messages_wait_behind_one_to_be_tried_again(sessions) -> None:
    """A step's answers left to the outbox in order must arrive in order even when the first is refused
    once more: the ones after it in the same chat wait for it instead of overtaking it."""
    clock = [utc_now()]
    async with sessions() as session, session.begin():
        for text in ("Chào mừng đồng chí", "Nhập họ và tên"):
            queries.queue_message(session, "telegram", "42", Reply(text=text).to_json(), purpose="reply", at=clock[0])
    platform = OnceRefusingPlatform()
    worker = OutboxWorker(sessions, {"telegram": platform}, lambda: clock[0])
    await worker.deliver_due()
    clock[0] += dt.timedelta(seconds=3)
    await worker.deliver_due()
    assert platform.delivered == ["Chào mừng đồng chí", "Nhập họ và tên"]


@pytest.mark.asyncio
async def test_a_queued_reply_keeps_how_each_button_is_cut(sessions) -> None:
    """A unit's button (`keep_end`: cut in its middle on a phone) stays one through the outbox, links too."""
    unit = Option("[MẪU] Bệnh viện Đa khoa tỉnh – cơ sở 2", "reg:b:MAU022", keep_end=True)
    options = ((unit,), (Option("📨 Gửi sáng kiến", "w:1:s:send"), Option("🌐 Trang", url="https://example.org/h/x")))
    async with sessions() as session, session.begin():
        queued = queries.queue_message(session, "telegram", "42", Reply("Chọn", options=options).to_json(),
                                       purpose="notice", at=utc_now())  # fmt: skip
    async with sessions() as session:
        stored = await session.get(OutboxMessage, queued.id)
        assert Reply.from_json(stored.payload).options == options
