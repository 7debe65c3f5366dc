"""Fault soak: members, chairs and a broadcast for ten minutes while everything goes wrong.

The bot runs as its own process on PostgreSQL against the Bot API emulator, which answers a share of the
sends and edits with 5xx, loses a share of its answers after delivering (as a timeout looks to the bot)
and answers some with 429 (`Chaos` in the emulator). Meanwhile the bot is SIGKILLed every minute and
started again, and PostgreSQL is restarted once, mid-run. Members go through the wizard again and again,
two chairs of their branch press "Xác nhận hồ sơ" on every card they get (both on the same cards), and
the admin sends a broadcast to every member.

Prints: answers lost (a member's step never answered within two minutes), notifications not delivered
(outbox rows not sent at the end, and cards a chair never received), duplicates delivered (the same text
twice in a row to one chat, which only a send whose answer was lost can cause), duplicate decisions (an
initiative decided more than once), the p95 step latency, and the recovery time after each kill (from the
kill to the bot's answer to a probe). Not part of the tests. Run: `make soak` (options: --minutes, --members).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import re
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from bench.submission import TimedPerson
from bot.sandbox.telegram_emulator import Chaos, StoredMessage, TelegramEmulator
from storage.engine import create_engine, session_factory
from storage.models import AuditEvent, Broadcast, Initiative, OutboxMessage, OutboxStatus, Status
from tests.harness import (
    ADMIN_ID,
    ROOT,
    TOKEN,
    BotProcess,
    Person,
    fill_up_to_summary,
    invite_chair,
    prepare_database,
    register,
)
from tests.postgres import PostgresServer, postgres_unavailable_reason

STEP_TIMEOUT = 120.0
KILL_EVERY = 60.0
DRAIN_SECONDS = 180.0
BRANCH = "MAU002"
NAMES = ["An", "Bình", "Cường", "Dung", "Giang", "Hà", "Khánh", "Lan", "Minh", "Nga", "Phúc", "Quang"]
BROADCAST_TEXT = "Nhắc các đồng chí: hạn gửi sáng kiến giai đoạn 1 là 31/5."


class PatientPerson(TimedPerson):
    """A member who waits up to two minutes for each answer (a restart and a redelivery take seconds)."""

    async def expect(self, *fragments: str, edited: bool = False, timeout: float = STEP_TIMEOUT) -> StoredMessage:
        try:
            return await super().expect(*fragments, edited=edited, timeout=timeout)
        except AssertionError as error:  # say what was awaited and how the chat ended, to find the cause
            tail = [("bot: " if m.from_bot else "member: ") + m.plain_text[:60].replace("\n", " ")
                    for m in self.emulator.chat(self.user_id)[-6:]]  # fmt: skip
            raise AssertionError(f"waited for {fragments} after #{self.cursor}; the chat ends {tail}") from error


class Soak:
    def __init__(self, emulator: TelegramEmulator, bot: BotProcess, server: PostgresServer, minutes: float) -> None:
        self.emulator, self.bot, self.server = emulator, bot, server
        self.ends_at = time.monotonic() + minutes * 60
        self.lost: list[str] = []
        self.submitted = 0
        self.recoveries: list[float] = []
        self.pg_restarted_at: float | None = None
        self.kill_lock = asyncio.Lock()
        self.cards = 0
        self.chairs_stop = asyncio.Event()  # chairs press until what the run left is delivered and decided

    def running(self) -> bool:
        return time.monotonic() < self.ends_at

    async def member(self, person: PatientPerson) -> None:
        while self.running():
            try:
                await fill_up_to_summary(person)
                summary = await person.expect("Tóm tắt sáng kiến")
                await person.tap("Gửi sáng kiến", summary)
                await person.expect("Đã gửi sáng kiến")
                self.submitted += 1
            except AssertionError as error:  # an answer that never came (or an error reply): this member stops
                self.lost.append(f"{person.user_id}: {str(error)[:800]}")
                return

    async def chair(self, person: Person) -> None:
        """Press "Xác nhận hồ sơ" once on every card that arrives (the other chair does too)."""
        pressed: set[int] = set()
        while not self.chairs_stop.is_set():
            for message in list(self.emulator.chat(person.user_id)):
                if message.seq in pressed or not message.from_bot or message.edited:
                    continue
                pressed.add(message.seq)
                if is_card(message):
                    self.cards += 1
                    await person.tap("Xác nhận hồ sơ", message)
            await asyncio.sleep(1)

    async def killer(self, probe: Person) -> None:
        """SIGKILL every minute, start again, and time until a probe is answered."""
        while True:
            await asyncio.sleep(KILL_EVERY)
            if not self.running():
                return
            async with self.kill_lock:
                killed = time.monotonic()
                await self.bot.kill()
                await self.bot.start()
                await probe.send("/help")
                await probe.expect("Hướng dẫn", timeout=STEP_TIMEOUT)
                self.recoveries.append(time.monotonic() - killed)

    async def restart_postgres(self, after: float) -> None:
        await asyncio.sleep(after)
        async with self.kill_lock:  # not in the middle of a bot restart
            await asyncio.to_thread(self.server.restart)
            self.pg_restarted_at = time.monotonic()

    async def broadcast(self, admin: Person, after: float, members: int) -> None:
        await asyncio.sleep(after)
        await admin.send("/broadcast")
        await admin.expect("Gõ nội dung", timeout=STEP_TIMEOUT)
        await admin.send(BROADCAST_TEXT)
        await admin.tap("Tất cả đoàn viên", await admin.expect("Gửi tới ai?", timeout=STEP_TIMEOUT))
        preview = await admin.expect("Xem trước", timeout=STEP_TIMEOUT)
        await admin.tap("Gửi tới", preview)


def is_card(message: StoredMessage) -> bool:
    return message.from_bot and any("Xác nhận hồ sơ" in button.get("text", "") for button in message.buttons())


def duplicates(emulator: TelegramEmulator, chat_ids: list[int]) -> tuple[int, int]:
    """(messages sent, of which the same text right after itself) over the chats."""
    sent = repeated = 0
    for chat in chat_ids:
        texts = [m.plain_text for m in emulator.chat(chat) if m.from_bot and not m.edited]
        sent += len(texts)
        repeated += sum(1 for a, b in itertools.pairwise(texts) if a == b)
    return sent, repeated


async def outcome(database_url: str) -> tuple[int, int, int, int]:
    """(outbox rows not sent, initiatives still waiting for a chair, decided more than once, broadcasts)."""
    engine = create_engine(database_url)
    async with session_factory(engine)() as session:
        unsent = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != OutboxStatus.SENT)
        )
        waiting = await session.scalar(
            select(func.count()).select_from(Initiative).where(Initiative.status == Status.SUBMITTED)
        )
        decided = select(AuditEvent.initiative_id).where(AuditEvent.action == "decided")
        twice = await session.scalar(
            select(func.count()).select_from(
                decided.group_by(AuditEvent.initiative_id).having(func.count() > 1).subquery()
            )
        )
        broadcasts = await session.scalar(select(func.count()).select_from(Broadcast))
    await engine.dispose()
    return unsent or 0, waiting or 0, twice or 0, broadcasts or 0


async def unsent_rows(database_url: str) -> list[str]:
    """What each outbox row not sent is (for the report): purpose, status, attempts, leased, last error."""
    engine = create_engine(database_url)
    async with session_factory(engine)() as session:
        rows = (await session.scalars(select(OutboxMessage).where(OutboxMessage.status != OutboxStatus.SENT))).all()
        found = [f"#{r.id} {r.purpose} {r.status.value} attempts={r.attempts} leased={r.lease_token is not None} "
                 f"due={r.next_attempt_at:%H:%M:%S} error={(r.last_error or '')[:80]!r}" for r in rows]  # fmt: skip
    await engine.dispose()
    return found


def soak_config(folder: Path) -> Path:
    """The project's config without quiet hours (a broadcast at night would wait for the morning)."""
    text = (ROOT / "config.toml").read_text()
    text = re.sub(r"^quiet_start = .*$", "quiet_start = 00:00:00", text, flags=re.M)
    text = re.sub(r"^quiet_end = .*$", "quiet_end = 00:00:00", text, flags=re.M)
    path = folder / "config.toml"
    path.write_text(text)
    return path


async def run(minutes: float, members: int) -> None:
    reason = postgres_unavailable_reason()
    if reason:
        print(f"PostgreSQL unavailable: {reason}")
        return
    server = PostgresServer.start()
    folder = Path(tempfile.mkdtemp(prefix="sangkien-soak-"))
    database_url = server.create_database()
    await prepare_database(database_url)
    emulator = TelegramEmulator()
    emulator.add_bot(TOKEN)
    await emulator.start()
    bot = BotProcess(emulator, database_url, folder / "bot.log", soak_config(folder), afresh=True)
    await bot.start()
    try:
        admin = Person(emulator, "Quản Trị", user_id=ADMIN_ID)
        await register(admin, BRANCH, "Quản Trị")
        chairs = [await invite_chair(admin, Person(emulator, f"Chủ Tịch {n}"), BRANCH, f"Chủ Tịch {n}")
                  for n in ("Một", "Hai")]  # fmt: skip
        people = [PatientPerson(emulator, f"Thành Viên {NAMES[n % len(NAMES)]}") for n in range(members)]
        for number, person in enumerate(people):
            await register(person, BRANCH, f"Thành Viên {NAMES[number % len(NAMES)]}")
        probe = Person(emulator, "Người Thăm Dò")
        await register(probe, BRANCH, "Người Thăm Dò")

        chaos = emulator.chaos = Chaos()
        soak = Soak(emulator, bot, server, minutes)
        started = time.monotonic()
        background = [asyncio.create_task(soak.killer(probe)),
                      asyncio.create_task(soak.restart_postgres(minutes * 60 / 2 + KILL_EVERY / 2)),
                      asyncio.create_task(soak.broadcast(admin, minutes * 60 / 4, members))]  # fmt: skip
        pressing = [asyncio.create_task(soak.chair(c)) for c in chairs]
        await asyncio.gather(*(soak.member(p) for p in people))
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        emulator.chaos = None
        elapsed = time.monotonic() - started
        # What the last minutes left (outbox retries back off; cards of the last submissions) is given up to
        # DRAIN_SECONDS to be delivered and pressed; the time it took is printed.
        drain_started = time.monotonic()
        while True:
            unsent, waiting, decided_twice, broadcasts = await outcome(database_url)
            if (unsent == 0 and waiting == 0) or time.monotonic() - drain_started > DRAIN_SECONDS:
                break
            await asyncio.sleep(1)
        drained = time.monotonic() - drain_started
        soak.chairs_stop.set()
        await asyncio.gather(*pressing)

        got_broadcast = sum(1 for p in people if any(BROADCAST_TEXT in t for t in p.bot_texts()))
        sent, repeated = duplicates(emulator, [p.user_id for p in (*people, *chairs, probe, admin)])
        latencies = sorted(x for p in people for x in p.latencies)
        p95 = latencies[int(len(latencies) * 0.95) - 1] * 1000 if latencies else 0.0
        print(f"\nsoak: {elapsed / 60:.1f} min, {members} members, 2 chairs, PostgreSQL restarted once, "
              f"{len(soak.recoveries)} kills; the emulator's trouble: {chaos.counts}")  # fmt: skip
        print(f"  answers lost:                 {len(soak.lost)} (target 0){'; ' if soak.lost else ''}"
              + "; ".join(soak.lost[:3]))  # fmt: skip
        print(f"  notifications not delivered:  {unsent} outbox rows unsent; {waiting} of {soak.submitted} "
              f"submissions never verified (cards pressed: {soak.cards}); broadcast reached "
              f"{got_broadcast}/{members} members ({broadcasts} sent) (target 0, 0, all); "
              f"after the run: {drained:.0f} s to deliver what was left")  # fmt: skip
        beyond = max(0, repeated - chaos.counts["lost"])
        for row in await unsent_rows(database_url) if unsent else []:
            print(f"    unsent: {row}")
        print(f"  duplicates delivered:         {repeated} of {sent} messages ({100 * repeated / max(sent, 1):.2f} %); "
              f"the emulator lost {chaos.counts['lost']} answers after delivering (each resent: Telegram's "
              f"sendMessage has no idempotency key); beyond those: {beyond} "
              f"({100 * beyond / max(sent, 1):.2f} %, target ≤ 0.1 %)")  # fmt: skip
        print(f"  duplicate decisions:          {decided_twice} (target 0)")
        print(f"  step latency p95:             {p95:.0f} ms over {len(latencies)} steps; "
              f"{soak.submitted} journeys completed")  # fmt: skip
        print("  recovery after each kill:     " + ", ".join(f"{r:.1f}" for r in soak.recoveries) + " s"
              + (f" (median {statistics.median(soak.recoveries):.1f} s)" if soak.recoveries else ""))  # fmt: skip
    finally:
        await bot.kill()
        await emulator.stop()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--members", type=int, default=8)
    arguments = parser.parse_args()
    asyncio.run(run(arguments.minutes, arguments.members))


if __name__ == "__main__":
    main()
