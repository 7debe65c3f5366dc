"""End-to-end harness: the real bot process talking to the local Bot API emulator.

One emulator and one bot process per test module (see `bot_under_test` in conftest.py); each test
plays a different person, so tests do not share conversation state.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import logging
import os
import re
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import load_config
from bot.sandbox.telegram_emulator import StoredMessage, TelegramEmulator
from bot.sandbox.zalo_emulator import ZaloEmulator, ZaloStoredMessage
from storage import queries
from storage.engine import create_engine, session_factory, upgrade_database
from tests import launcher

if TYPE_CHECKING:
    from bot.app import Runtime

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_BRANCHES = ROOT / "sample-data" / "branches.csv"
TOKEN = "4242:e2e-test-token"
ZALO_TOKEN = "8888:zalo-e2e-test-token"
LINK_SECRET = "e2e-review-link-secret"
METRICS_TOKEN = "e2e-metrics-token"
TELEGRAM_WEBHOOK_SECRET = "e2e-telegram-webhook-secret"
ZALO_WEBHOOK_SECRET = "e2e-zalo-webhook-secret"
ADMIN_ID = 90_001
ZALO_ADMIN_ID = "00000000000000ad0001"
_user_ids = itertools.count(50_001)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def prepare_database(url: str) -> None:
    """Migrate and load the 160 sample branches, as an operator would before starting the bot."""
    engine = create_engine(url)
    await upgrade_database(engine)
    async with session_factory(engine)() as session, session.begin():
        if await queries.branch_count(session) == 0:
            await queries.load_sample_branches(
                session, SAMPLE_BRANCHES, load_config(ROOT / "config.toml", environ={}).campaign
            )
    await engine.dispose()


class BotProcess:
    """`sangkien run` as a separate OS process (tests/launcher.py), pointed at the emulator through
    TELEGRAM_API_URL; `afresh`: `python -m bot run` in a new interpreter, imports and all, as production
    starts it (the soak's recovery after a kill counts that time)."""

    def __init__(
        self,
        emulator: TelegramEmulator,
        database_url: str,
        log_path: Path,
        config_path: Path = ROOT / "config.toml",
        *,
        afresh: bool = False,
    ) -> None:
        self.emulator = emulator
        self.database_url = database_url
        self.log_path = log_path
        self.config_path = config_path
        self.afresh = afresh
        self.process: BaseProcess | asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        polls_before = self.emulator.bots[TOKEN].polls
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": self.emulator.url,
            "DATABASE_URL": self.database_url,
            "SANGKIEN_CONFIG": str(self.config_path),
            "SANGKIEN_ADMINS": str(ADMIN_ID),
        }
        if self.afresh:
            with self.log_path.open("ab") as log:
                self.process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", "run", env=env, stdout=log, stderr=log, cwd=ROOT
                )
        else:
            self.process = await asyncio.to_thread(launcher.start, ["run"], env, self.log_path)
        try:
            await self.emulator.wait_until_polled(TOKEN, polls_before + 1, timeout=60)
        except TimeoutError:
            raise AssertionError(f"bot did not start polling; log:\n{self.log_tail()}") from None

    async def kill(self) -> None:
        """Stop the process abruptly (SIGKILL), as a crash or a power cut would."""
        if isinstance(self.process, asyncio.subprocess.Process):
            if self.process.returncode is None:
                self.process.kill()
            await self.process.wait()
        elif self.process is not None:
            await launcher.kill(self.process)
        self.process = None

    async def terminate(self) -> int | None:
        """Stop the process as systemd does (SIGTERM); its exit code once it is gone (None: still running
        after a minute)."""
        assert self.process is not None
        process, self.process = self.process, None
        if isinstance(process, asyncio.subprocess.Process):
            process.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 60)
            return process.returncode
        process.terminate()
        await asyncio.to_thread(process.join, 60)
        code = process.exitcode
        await launcher.kill(process)  # forgotten by the launcher (killed first if it never stopped)
        return code

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class ErrorRecords(logging.Handler):
    """The error lines an in-process bot logged (a module's bot must log none)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class FakeClock:
    """A clock the test moves by hand (the bot's `Services.clock`); starts at `start`, aware UTC."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start.astimezone(dt.UTC)
        self.listeners: list[Callable[[], None]] = []

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, when: dt.datetime) -> None:
        self.now = when.astimezone(dt.UTC)
        for listener in self.listeners:
            listener()


def local(year: int, month: int, day: int, hour: int = 10, minute: int = 0, second: int = 0) -> dt.datetime:
    """A wall-clock time in the campaign's timezone (Asia/Ho_Chi_Minh)."""
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    """Wait until `check()` holds (for effects that show only in the database), or fail after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still not true after {timeout} s: {check.__doc__ or check}")
        await asyncio.sleep(0.05)


def in_a_fresh_interpreter(script: str) -> Any:
    """What `script` prints as JSON, run by a new Python process from the project's root: what a process holds
    from its start, untouched by what the test session has imported."""
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         check=True)  # fmt: skip
    return json.loads(run.stdout)


async def previous_sends_forgotten(emulator: TelegramEmulator) -> None:
    """Before an in-process bot starts: Telegram counts no send of the last second by the runtime that ran before
    it on the same token (a module's SQLite bot, before its PostgreSQL one). A new runtime's window knows nothing
    of those: one that began within a second of a full-rate burst (the last one's outbox finishing its pass as it
    stopped) met a 429 in CI. (A real restart so soon would meet one too, and wait it out.)"""

    async def quiet() -> bool:
        """no send of this bot in the last second"""
        return emulator.recent_sends(TOKEN) == 0

    await eventually(quiet, timeout=5)


class InProcessBot:
    """The bot's whole runtime (polling, outbox, scheduler) as a task in the test's event loop, with a
    clock the test controls. `stop()` then `start()` is a restart: all state is in the database."""

    def __init__(
        self,
        emulator: TelegramEmulator,
        database_url: str,
        clock: FakeClock,
        zalo: ZaloEmulator | None = None,
        *,
        webhooks: bool = False,
    ) -> None:
        self.emulator, self.database_url, self.clock, self.zalo = emulator, database_url, clock, zalo
        self.webhooks = webhooks
        self.task: asyncio.Task[None] | None = None
        self.engine: AsyncEngine | None = None
        self.runtime: Runtime | None = None
        port = free_port()
        environ = {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": emulator.url,
            "DATABASE_URL": database_url,
            "SANGKIEN_ADMINS": f"{ADMIN_ID},zalo:{ZALO_ADMIN_ID}",
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "WEB_PORT": str(port),
            "SANGKIEN_LINK_SECRET": LINK_SECRET,
            "METRICS_TOKEN": METRICS_TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_WEBHOOK_SECRET,
            "ZALO_WEBHOOK_SECRET": ZALO_WEBHOOK_SECRET,
        }
        if zalo is not None:
            environ |= {"ZALO_BOT_TOKEN": ZALO_TOKEN, "ZALO_API_URL": zalo.api_url}
        self.config = load_config(ROOT / "config.toml", environ=environ)

    @property
    def web_url(self) -> str:
        return self.config.public_url or ""

    async def start(self) -> None:
        from bot.app import Runtime
        from storage.engine import open_database

        await previous_sends_forgotten(self.emulator)
        polls_before = self.emulator.bots[TOKEN].polls
        zalo_polls_before = self.zalo.bots[ZALO_TOKEN].polls if self.zalo is not None else 0
        self.engine = await open_database(self.config.database_url)
        self.runtime = await Runtime.create(self.config, self.engine, self.clock)
        self.clock.listeners.append(self.runtime.wake)
        self.task = asyncio.create_task(self.runtime.run(webhooks=self.webhooks))
        if self.webhooks:

            async def registered() -> bool:
                """both webhooks point at this runtime"""
                own = self.config.public_url or ""
                zalo = self.zalo is None or self.zalo.bots[ZALO_TOKEN].webhook_url.startswith(own)
                return zalo and self.emulator.bots[TOKEN].webhook_url.startswith(own)

            await eventually(registered, timeout=30)
            return
        await self.emulator.wait_until_polled(TOKEN, polls_before + 1, timeout=30)
        if self.zalo is not None:
            await self.zalo.wait_until_polled(ZALO_TOKEN, zalo_polls_before + 1, timeout=30)

    async def stop(self) -> None:
        if self.runtime is not None and self.runtime.wake in self.clock.listeners:
            self.clock.listeners.remove(self.runtime.wake)
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
            await self.engine.dispose()


# Replies that say something went wrong: an `expect` that passes over one (waiting for a later message) fails,
# so an error reply, a refusal or "not understood" never goes unseen.
ERROR_MARKS = ("⚠️", "⛔", "😥", "🤔", "⌛")


def check_skipped(chat: list, cursor: int, found: object, expected: tuple[str, ...]) -> None:
    """Fail if a bot message between the cursor and the one found was an error reply."""
    skipped = [m for m in chat if m.from_bot and cursor < m.seq < found.seq]  # type: ignore[attr-defined]
    errors = [m.plain_text[:160] for m in skipped if m.plain_text.lstrip().startswith(ERROR_MARKS)]
    if errors:
        raise AssertionError(f"unexpected error replies before {expected!r}: {errors}")


class Person:
    """A simulated Telegram user: sends, taps buttons, and waits for what the bot shows them."""

    channel = "telegram"

    def __init__(
        self,
        emulator: TelegramEmulator,
        name: str = "Nguyễn Thị Hoa",
        user_id: int | None = None,
        *,
        token: str | None = None,
    ) -> None:
        """`token`: the bot this person writes to (the emulator's first bot by default)."""
        self.emulator, self.token = emulator, token
        self.user_id = user_id or next(_user_ids)
        self.cursor = emulator.seq
        emulator.add_user(self.user_id, first_name=name)

    async def send(self, text: str) -> StoredMessage:
        return await self.emulator.user_sends(self.user_id, text, token=self.token)

    async def send_document(self, file_name: str, size: int = 120_000, mime: str = "application/pdf") -> None:
        await self.emulator.user_sends(
            self.user_id, document={"file_name": file_name, "mime_type": mime, "file_size": size}, token=self.token
        )

    async def send_file(self, file_name: str, content: bytes) -> None:
        """Send a real file (the bot can download its bytes)."""
        await self.emulator.user_sends(
            self.user_id, document={"file_name": file_name, "content": content}, token=self.token
        )

    async def send_photo(self) -> None:
        await self.emulator.user_sends(self.user_id, photo=True, token=self.token)

    async def send_sticker(self) -> None:
        await self.emulator.user_sends(self.user_id, sticker=True, token=self.token)

    async def expect(self, *fragments: str, edited: bool = False, timeout: float = 15.0) -> StoredMessage:
        """The next bot message (after the last one expected) containing every fragment."""

        def matches(message: StoredMessage) -> bool:
            return (message.edited or not edited) and all(f in message.plain_text for f in fragments)

        message = await self.emulator.wait_for(
            self.user_id, lambda m: matches(m) and (edited or not m.edited), after_seq=self.cursor, timeout=timeout
        )
        check_skipped(self.emulator.chat(self.user_id), self.cursor, message, fragments)
        self.cursor = message.seq
        return message

    async def expect_file(self, name_part: str, timeout: float = 15.0) -> bytes:
        """The next document the bot sends whose file name contains `name_part`; returns its bytes."""

        def matches(message: StoredMessage) -> bool:
            return bool(message.document and name_part in message.document.get("file_name", ""))

        message = await self.emulator.wait_for(self.user_id, matches, after_seq=self.cursor, timeout=timeout)
        self.cursor = message.seq
        return self.emulator.files[message.document["file_id"]]

    def last_with_buttons(self) -> StoredMessage:
        for message in reversed(self.emulator.chat(self.user_id)):
            if message.from_bot and message.buttons():
                return message
        raise AssertionError("no bot message with buttons")

    async def tap(self, label_part: str, message: StoredMessage | None = None) -> None:
        message = message or self.last_with_buttons()
        callback_data = message.button(label_part)["callback_data"]
        await self.emulator.user_presses(self.user_id, message, callback_data, token=self.token)

    def bot_texts(self) -> list[str]:
        return [m.plain_text for m in self.emulator.chat(self.user_id) if m.from_bot]

    async def settle(self) -> None:
        """Let in-flight work finish: the bot answers a /help probe only after everything before it."""
        await self.send("/help")
        await self.expect("Hướng dẫn", "/dulieu")

    async def send_unsupported(self) -> None:
        await self.send_sticker()

    async def menu_label(self, prefix: str) -> str:
        """The main-menu button starting with `prefix` as the bot shows it now ("📥 Chờ xác nhận (4)")."""
        await self.send("/help")
        [label] = [x for x in (await self.expect("Hướng dẫn", "/dulieu")).menu() if x.startswith(prefix)]
        return label


class ZaloPerson:
    """A simulated Zalo user. Zalo has no buttons: "tapping" an option types its number, as people do
    (with the initiative's number for a review card: "1 123")."""

    channel = "zalo"

    def __init__(self, emulator: ZaloEmulator, name: str = "Nguyễn Thị Hoa", user_id: str | None = None) -> None:
        self.emulator = emulator
        self.user_id = emulator.add_user(name, user_id)
        self.cursor = emulator.seq

    async def send(self, text: str) -> ZaloStoredMessage:
        return await self.emulator.user_sends(self.user_id, text)

    async def send_photo(self, content: bytes | None = None) -> None:
        await self.emulator.user_sends(self.user_id, photo=True, **({"photo_bytes": content} if content else {}))

    async def send_sticker(self) -> None:
        await self.emulator.user_sends(self.user_id, sticker=True)

    async def send_unsupported(self) -> None:
        await self.emulator.user_sends(self.user_id, unsupported=True)

    async def expect(self, *fragments: str, timeout: float = 15.0) -> ZaloStoredMessage:
        """The next bot message (after the last one expected) containing every fragment."""
        message = await self.emulator.wait_for(
            self.user_id, lambda m: all(f in m.text for f in fragments), after_seq=self.cursor, timeout=timeout
        )
        check_skipped(self.emulator.chat(self.user_id), self.cursor, message, fragments)
        self.cursor = message.seq
        return message

    # Options listed by their words (where a typed number is the answer: a day, an amount, a text).
    WORDS_HINT = "hoặc gõ chữ của một mục"

    def last_with_buttons(self) -> ZaloStoredMessage:
        for message in reversed(self.emulator.chat(self.user_id)):
            numbered = re.search(r"^1\. ", message.text, re.MULTILINE)
            if message.from_bot and (numbered or self.WORDS_HINT in message.text):
                return message
        raise AssertionError("no bot message with options")

    @staticmethod
    def option_number(message: ZaloStoredMessage, label_part: str) -> int:
        for line in message.text.splitlines():
            numbered = re.match(r"(\d+)\. (.*)", line)
            if numbered and label_part in numbered.group(2):
                return int(numbered.group(1))
        raise LookupError(f"no option containing {label_part!r} in {message.text!r}")

    async def tap(self, label_part: str, message: ZaloStoredMessage | None = None) -> None:
        """Answer an option as a person does on Zalo: its number, or, where options are listed by their
        words, its words."""
        message = message or self.last_with_buttons()
        if self.WORDS_HINT in message.text:
            listed = [line[2:] for line in message.text.splitlines() if line.startswith("• ") and label_part in line]
            if not listed:
                raise LookupError(f"no option containing {label_part!r} in {message.text!r}")
            await self.send(" ".join(re.sub(r"[^\w\s]", " ", listed[0]).split()))
            return
        number = self.option_number(message, label_part)
        ref = re.search(r"«\d+ (\d+)»", message.text)
        await self.send(f"{number} {ref.group(1)}" if ref else str(number))

    def bot_texts(self) -> list[str]:
        return [m.text for m in self.emulator.chat(self.user_id) if m.from_bot]

    async def settle(self) -> None:
        await self.send("/help")
        await self.expect("Hướng dẫn", "/dulieu")


AnyPerson = Person | ZaloPerson


class GroupChat:
    """A Telegram group in the emulator: people write in it, the test reads what the bot posts there."""

    _ids = itertools.count(-100_001, -1)

    def __init__(self, emulator: TelegramEmulator, title: str, *, token: str | None = None) -> None:
        """`token`: the bot people write to in the group (the emulator's first bot by default)."""
        self.emulator, self.token = emulator, token
        self.chat_id = next(self._ids)
        self.title = title
        self.cursor = emulator.seq
        emulator.add_group(self.chat_id, title)

    async def send(self, person: AnyPerson, text: str) -> None:
        await self.emulator.user_sends(person.user_id, text, chat_id=self.chat_id, token=self.token)

    async def expect(self, *fragments: str, timeout: float = 15.0) -> StoredMessage:
        """The next bot message in the group (after the last one expected) containing every fragment."""
        message = await self.emulator.wait_for(
            self.chat_id, lambda m: all(f in m.plain_text for f in fragments), after_seq=self.cursor, timeout=timeout
        )
        check_skipped(self.emulator.chat(self.chat_id), self.cursor, message, fragments)
        self.cursor = message.seq
        return message

    async def expect_each(self, *texts: str, timeout: float = 15.0) -> None:
        """One bot message containing each text, in whatever order they arrive."""
        start, last = self.cursor, self.cursor
        for text in texts:
            message = await self.emulator.wait_for(
                self.chat_id, lambda m, text=text: text in m.plain_text, after_seq=start, timeout=timeout
            )
            last = max(last, message.seq)
        self.cursor = last

    def bot_texts(self) -> list[str]:
        return [m.plain_text for m in self.emulator.chat(self.chat_id) if m.from_bot]


async def register(person: AnyPerson, branch_code: str = "MAU002", name: str = "Nguyễn Thị Hoa") -> None:
    """Register quickly through the branch deep link. An admin is known at once (they need no branch; the
    deep link makes them a member of that branch too)."""
    await person.send(f"/start b_{branch_code}")
    if str(person.user_id) in (str(ADMIN_ID), ZALO_ADMIN_ID):
        await person.expect("vai trò quản trị viên")
        await person.expect("Chào đồng chí")
        return
    await person.expect("Nhập họ và tên")
    await person.send(name)
    await person.expect("Đăng ký xong")


class Database:
    """Read what the bot stored, from the test process, through the same storage layer."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        self.sessions = session_factory(self.engine)

    async def member_of(self, user_id: int):
        from sqlalchemy import select
        from sqlalchemy.orm import selectinload

        from storage.models import Identity, Member

        async with self.sessions() as session:
            identity = await session.scalar(
                select(Identity)
                .where(Identity.platform_user_id == str(user_id))
                .options(selectinload(Identity.member).selectinload(Member.branch))
            )
            return identity.member if identity else None

    async def initiatives_of(self, user_id: int) -> list:
        from sqlalchemy import select
        from sqlalchemy.orm import selectinload

        from storage.models import Initiative

        member = await self.member_of(user_id)
        if member is None:
            return []
        async with self.sessions() as session:
            return list(
                (
                    await session.scalars(
                        select(Initiative)
                        .where(Initiative.member_id == member.id)
                        .options(selectinload(Initiative.authors), selectinload(Initiative.attachments))
                        .order_by(Initiative.id)
                    )
                ).all()
            )

    async def initiative(self, initiative_id: int):
        from storage import queries

        async with self.sessions() as session:
            return await queries.initiative_by_id(session, initiative_id)

    async def copy_initiative(self, initiative_id: int, *, status: Any) -> int:
        """A copy of the initiative's title and author rows, with `status`, written straight to the database
        (an earlier copy without going through the wizard); returns its number."""
        from storage import queries
        from storage.models import Author, Initiative

        async with self.sessions() as session, session.begin():
            original = await queries.initiative_by_id(session, initiative_id)
            assert original is not None
            copy = Initiative(member_id=original.member_id, branch_id=original.branch_id,
                              credited_branch_id=original.credited_branch_id, status=status, title=original.title,
                              title_key=original.title_key, current_step="summary")  # fmt: skip
            copy.authors = [Author(full_name=a.full_name, share_percent=a.share_percent, member_id=a.member_id,
                                   branch_id=a.branch_id, confirmed=a.confirmed, position=a.position)
                            for a in original.authors]  # fmt: skip
            copy.attachments = []
            session.add(copy)
            await session.flush()
            return copy.id

    async def audit_actions(self, initiative_id: int) -> list[tuple[str, str | None]]:
        from sqlalchemy import select

        from storage.models import AuditEvent

        async with self.sessions() as session:
            rows = await session.execute(
                select(AuditEvent.action, AuditEvent.to_status)
                .where(AuditEvent.initiative_id == initiative_id)
                .order_by(AuditEvent.id)
            )
            return [(action, to_status) for action, to_status in rows.all()]

    async def outbox(self, initiative_id: int) -> list:
        from sqlalchemy import select

        from storage.models import OutboxMessage

        async with self.sessions() as session:
            rows = await session.scalars(
                select(OutboxMessage).where(OutboxMessage.initiative_id == initiative_id).order_by(OutboxMessage.id)
            )
            return list(rows.all())

    async def outbox_rows_of(self, chat_id: object) -> int:
        """How many outbox rows a chat has: its notices, and a step's replies until the journal deletes them."""
        from sqlalchemy import func, select

        from storage.models import OutboxMessage

        async with self.sessions() as session:
            rows = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.chat_id == str(chat_id))
            return await session.scalar(rows) or 0

    async def journal_grace_passed(self, chat_id: object) -> None:
        """Make a chat's journalled replies due now, as `reply_journal.GRACE` passing would (a killed process's
        replies wait that long for the next one)."""
        from sqlalchemy import update

        from storage.models import OutboxMessage
        from storage.reply_journal import PURPOSE

        async with self.sessions() as session, session.begin():
            due = update(OutboxMessage).where(OutboxMessage.chat_id == str(chat_id), OutboxMessage.purpose == PURPOSE)
            await session.execute(due.values(next_attempt_at=OutboxMessage.created_at))

    async def dispose(self) -> None:
        await self.engine.dispose()


# --- a complete submission, shared by the wizard tests and the benchmark ------------------------------

TITLE = "Số hoá quy trình tiếp nhận hồ sơ một cửa"
PROBLEM = "Hồ sơ giấy phải nhập tay nhiều lần, mất thời gian và dễ sai sót khi tra cứu lại."
SOLUTION = (
    "Bước 1: quét hồ sơ khi tiếp nhận. Bước 2: nhập một lần vào phần mềm dùng chung. "
    "Điểm mới: tra cứu tức thì, không nhập lại."
)


async def answer(person: AnyPerson, prompt: str, reply: str | None = None, tap: str | None = None) -> None:
    """Wait for a question, then type or tap the answer."""
    question = await person.expect(prompt)
    if tap is not None:
        await person.tap(tap, question)
    else:
        assert reply is not None
        await person.send(reply)


async def fill_up_to_summary(
    person: AnyPerson,
    *,
    type_label: str = "1.2 Giải pháp quản lý",
    recognised: bool = True,
    coauthors: str = "Trần Văn Bình 30",
    decision: str = "123/QĐ-BV 20/12/2021",
    title: str = TITLE,
    files: bool = True,
) -> None:
    """Answer every step of a complete, eligible initiative (non-research type); without `files`, stop at the
    files step."""
    await person.send("/new")
    await answer(person, "điều kiện tham gia", tap="Đúng, đủ cả 3")
    await answer(person, "Tên sáng kiến", title)
    await answer(person, "thuộc loại nào", tap=type_label)
    await answer(person, "Lĩnh vực áp dụng", tap="Y tế")
    await answer(person, "Thực trạng trước khi có sáng kiến", PROBLEM)
    await answer(person, "Nội dung giải pháp", SOLUTION)
    await answer(person, "Ngày áp dụng lần đầu", "15/10/2021")
    await answer(person, "áp dụng thử?", tap="Đã áp dụng")
    await answer(person, "Áp dụng ở đâu", "Khoa Khám bệnh, Bệnh viện Đa khoa tỉnh")
    await answer(person, "Lợi ích kinh tế:", "Giảm 30% thời gian xử lý hồ sơ, tiết kiệm giấy in.")
    await answer(person, "quy ra tiền", "15 triệu")
    await answer(person, "Lợi ích xã hội", "Người dân chờ ít hơn, hài lòng hơn với dịch vụ công.")
    if recognised:
        await answer(person, "đã được công nhận", tap="Hội đồng sáng kiến")
        await answer(person, "Số và ngày", decision)
    else:
        await answer(person, "đã được công nhận", tap="Bỏ qua")
    await answer(person, "Tác giả.", coauthors)
    zalo = isinstance(person, ZaloPerson)  # asked for photos alone there: Zalo carries no file to a bot
    await person.expect("Đã ghi tác giả", "Gửi ảnh minh hoạ" if zalo else "Gửi ảnh hoặc tệp")
    if not files:
        return
    if zalo:
        await person.send_photo()
        await person.expect("Đã nhận ảnh (1/10)")
    else:
        await person.send_document("bao-cao.pdf")
        await person.expect("Đã nhận bao-cao.pdf (1/10)")
    await person.send_photo()
    received = await person.expect("Đã nhận ảnh (2/10)")
    await person.tap("Xong (2 tệp)", received)


@dataclass(frozen=True)
class Effort:
    """What a journey cost: the person's typed messages (and files), their taps, the bot's messages."""

    typed: int
    taps: int
    bot_messages: int


class EffortMeter:
    """Counts a person's actions and the bot's messages in their chat from the moment it is made."""

    def __init__(self, person: AnyPerson) -> None:
        self.person = person
        emulator = person.emulator
        self.known = {m.message_id for m in emulator.chat(person.user_id)}
        self.updates = len(emulator.delivered) if isinstance(person, Person) else 0

    def read(self) -> Effort:
        emulator = self.person.emulator
        new = [m for m in emulator.chat(self.person.user_id) if m.message_id not in self.known]
        taps = 0
        if isinstance(self.person, Person):
            presses = [u["callback_query"] for u in emulator.delivered[self.updates :] if "callback_query" in u]
            taps = sum(1 for press in presses if press["from"]["id"] == self.person.user_id)
        return Effort(typed=sum(1 for m in new if not m.from_bot), taps=taps,
                      bot_messages=sum(1 for m in new if m.from_bot))  # fmt: skip


async def enter_for_members_up_to_authors(
    officer: Person, *, title: str, type_code: str, field: str, problem: str, solution: str, place: str, social: str
) -> StoredMessage:
    """An officer's `/nhapho` (plan V.4) answered up to the authors step, not yet recognised, no economic
    benefit; returns the authors question."""
    await officer.send("/nhapho")
    await officer.expect("Nhập sáng kiến hộ đoàn viên CĐCS [MẪU]", "điều kiện tham gia", "Sáng kiến của đoàn viên:")
    await officer.send("có")
    await answer(officer, "Tên sáng kiến", title)
    await officer.send(type_code)
    await answer(officer, "Lĩnh vực", field)
    await answer(officer, "Thực trạng", problem)
    await answer(officer, "Nội dung giải pháp", solution)
    await answer(officer, "Ngày áp dụng lần đầu", "1/3/2022")
    await answer(officer, "áp dụng thử?", tap="Đã áp dụng")
    await answer(officer, "Áp dụng ở đâu", place)
    await answer(officer, "Lợi ích kinh tế", "bỏ qua")
    await answer(officer, "Lợi ích xã hội", social)
    await answer(officer, "đã được công nhận", "chưa")
    return await officer.expect("Tác giả", "tổng 100%")


async def enter_for_members(officer: Person, authors: str, **answers: str) -> int:
    """An officer's `/nhapho` answered (`enter_for_members_up_to_authors`), its `authors` typed, no file, sent;
    returns the initiative's number."""
    await enter_for_members_up_to_authors(officer, **answers)
    await officer.send(authors)
    await officer.tap("Xong", await officer.expect("Gửi ảnh hoặc tệp"))
    await officer.tap("Gửi sáng kiến", await officer.expect("Tóm tắt sáng kiến"))
    return int((await officer.expect("Đã gửi sáng kiến")).plain_text.split("#", 1)[1].split()[0])


async def submit_initiative(person: AnyPerson, *, recognised: bool = True, **answers: str) -> int:
    """Go through the whole wizard and submit; returns the initiative's number."""
    await fill_up_to_summary(person, recognised=recognised, **answers)
    summary = await person.expect("Tóm tắt sáng kiến")
    await person.tap("Gửi sáng kiến", summary)
    sent = await person.expect("Đã gửi sáng kiến")
    return int(sent.plain_text.split("#", 1)[1].split()[0])


def link_code_of(message: Any) -> str:
    """The code a `/link` answer shows («… LIENKET 123456 …»)."""
    return message.plain_text.split("LIENKET ", 1)[1].split()[0]


async def invite_chair(admin: Person, chair: AnyPerson, branch_code: str, name: str) -> AnyPerson:
    """The admin (or an officer of a unit above, on Telegram) creates an invitation; `chair`, a new person on
    either channel, opens it (on Zalo: types the /start command of the link), registers and becomes chair."""
    await admin.send(f"/invite_chair {branch_code}")
    invitation = await admin.expect("Đường dẫn mời làm")  # chủ tịch CĐCS, or cán bộ phụ trách of an upper unit
    # The way on the chair's own channel: the link on Telegram, the line to type on Zalo (the invitation
    # gives both where the bot serves both)
    way = "\n/start " if isinstance(chair, ZaloPerson) else "?start="
    accepted = await accept_chair_invite(chair, invitation.plain_text.split(way, 1)[1].split()[0], name)
    await admin.expect(f"{name} đã nhận lời mời")  # the inviter is told
    return accepted


async def accept_chair_invite(chair: AnyPerson, token: str, name: str) -> AnyPerson:
    """A new person opens an invitation's deep link (`token`: its start parameter), registers and is chair."""
    await chair.send(f"/start {token}")
    await chair.expect("Nhập họ và tên")
    await chair.send(name)
    await chair.expect("Đồng chí đã trở thành")  # chủ tịch CĐCS, or cán bộ phụ trách of an upper unit
    return chair
