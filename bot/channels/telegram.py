"""The Telegram channel (aiogram 3): updates → neutral Events, neutral Replies → Bot API calls.

Only this module knows Telegram. Options become inline buttons (callback data is the option's short
opaque payload), the main menu a persistent reply keyboard. Outgoing calls that hit 429 wait
`retry_after` and retry; transient server and network errors retry with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import html
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from typing import Any, cast

from aiogram import Bot, methods
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from aiohttp import ClientError
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from bot.channels.dispatch import handle_counted
from bot.channels.limits import SendLimits, SendWindow
from bot.channels.ordering import KeyedSequencer
from bot.channels.text import parse_command, split_text
from bot.outbox import ChatMoved, Rejected, RetryLater, Unreachable
from handlers.context import Services
from handlers.events import Event, EventKind, FileRef, Reply
from handlers.i18n import catalog
from handlers.menus import ROLE_COMMANDS
from storage import inbox, queries, reply_journal
from storage.reply_journal import Settlement

log = logging.getLogger(__name__)
PLATFORM = "telegram"
TELEGRAM_TEXT_LIMIT = 4096
TELEGRAM_CAPTION_LIMIT = 1024
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
POLL_SECONDS = 10
POLL_BACKOFF_MAX = 30
_backoff = wait_exponential(multiplier=0.2, max=5)


def _wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, TelegramRetryAfter):
        return float(error.retry_after)
    return _backoff(state)


_RETRYABLE = (TelegramRetryAfter, TelegramServerError, TelegramNetworkError)


class RetryMiddleware(BaseRequestMiddleware):
    """429 → sleep retry_after and retry; 5xx / network errors → retry with exponential backoff.

    The first attempt runs bare: building tenacity's retry state for every request cost about a twentieth
    of the bot's CPU per step (`make bench-submission`), and almost every request succeeds the first time."""

    def __init__(self, attempts: int = 4) -> None:
        self.attempts = attempts

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Any:
        try:
            return await make_request(bot, method)
        except _RETRYABLE as error:
            if self.attempts <= 1:
                raise
            await asyncio.sleep(_first_delay(error))
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_RETRYABLE),
            wait=_wait,
            stop=stop_after_attempt(self.attempts - 1),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await make_request(bot, method)
        raise AssertionError("unreachable")


class SendWindowMiddleware(BaseRequestMiddleware):
    """The bot-wide window around every attempt of a request that sends a message (inside the retries)."""

    SENDS = frozenset({"sendMessage", "sendPhoto", "sendDocument", "sendVideo", "sendAudio", "sendVoice",
                       "sendAnimation", "sendSticker", "sendMediaGroup", "copyMessage", "forwardMessage"})  # fmt: skip

    def __init__(self, window: SendWindow) -> None:
        self.window = window

    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType]
    ) -> Any:
        if method.__api_method__ not in self.SENDS:
            return await make_request(bot, method)
        async with self.window.slot():
            return await make_request(bot, method)


def _first_delay(error: Exception) -> float:
    return float(error.retry_after) if isinstance(error, TelegramRetryAfter) else _backoff.multiplier


def _pin_response_models() -> list[type]:
    """Keep aiogram's parametrised `Response[T]` models alive.

    aiogram builds `Response[method.__returning__]` on every call and pydantic caches generic models
    only weakly, so after each garbage collection they are rebuilt (about 3 ms each): a quarter of the
    bot's CPU in `make bench`. Strong references keep pydantic's cache warm.
    """
    models = []
    for name in methods.__all__:
        method = getattr(methods, name)
        if isinstance(method, type) and issubclass(method, TelegramMethod) and hasattr(method, "__returning__"):
            with contextlib.suppress(Exception):  # a few return types are not pydantic-parametrisable
                models.append(methods.Response[method.__returning__])
    return models


_RESPONSE_MODELS = _pin_response_models()


@contextlib.contextmanager
def _delivery_errors() -> Iterator[None]:
    """Translate Telegram's errors into the outbox's: retry later, unreachable, or refused."""
    try:
        yield
    except TelegramRetryAfter as error:
        raise RetryLater(error.retry_after, str(error), rate_limited=True) from error
    except TelegramMigrateToChat as error:
        raise ChatMoved(str(error.migrate_to_chat_id)) from error
    except (TelegramServerError, TelegramNetworkError) as error:
        raise RetryLater(5, str(error)) from error
    except TelegramForbiddenError as error:
        raise Unreachable(str(error)) from error
    except TelegramBadRequest as error:
        if "chat not found" in str(error) or "user is deactivated" in str(error):
            raise Unreachable(str(error)) from error
        raise Rejected(str(error)) from error


class JsonBodySession(AiohttpSession):
    """aiogram's session sending a request without files as one JSON body, which the Bot API takes
    (application/json), instead of the form aiogram builds for every request (a field per parameter, nested
    objects encoded as JSON strings, the whole URL-encoded): a share of each step's CPU. A request with a
    file keeps aiogram's multipart form; the response is read and checked by aiogram as before."""

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        files: dict[str, Any] = {}
        payload = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is not None and prepared != "":  # what aiogram's form leaves out
                payload[key] = prepared
        if files:
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(url, data=self.json_dumps(payload), headers=_JSON_BODY,
                                    timeout=self.timeout if timeout is None else timeout) as response:  # fmt: skip
                content = await response.text()
        except TimeoutError as error:
            raise TelegramNetworkError(method=method, message="Request timeout error") from error
        except ClientError as error:
            raise TelegramNetworkError(method=method, message=f"{type(error).__name__}: {error}") from error
        checked = self.check_response(bot=bot, method=method, status_code=response.status, content=content)
        return cast(TelegramType, checked.result)


_JSON_BODY = {"Content-Type": "application/json"}


def make_bot(token: str, api_url: str | None) -> Bot:
    session = JsonBodySession(api=TelegramAPIServer.from_base(api_url)) if api_url else JsonBodySession()
    session.middleware(RetryMiddleware())
    session.middleware(SendWindowMiddleware(SendWindow(30)))  # inside the retries: each attempt takes its place
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def file_downloader(bot: Bot) -> Callable[[FileRef], Awaitable[bytes]]:
    """`Services.download` for Telegram: getFile, then the file's bytes (Telegram serves files up to 20 MB)."""

    async def download(file: FileRef) -> bytes:
        info = await bot.get_file(file.file_id)
        if not info.file_path:
            raise RuntimeError(f"Telegram gave no path for file {file.file_id}")
        content = await bot.download_file(info.file_path)
        assert content is not None
        return content.read()

    return download


def message_event(message: Message, update_id: int) -> Event:
    user = message.from_user
    base: dict[str, Any] = {
        "platform": PLATFORM,
        "update_key": str(update_id),
        "user_id": str(user.id if user else message.chat.id),
        "chat_id": str(message.chat.id),
        "display_name": user.full_name if user else "",
        "is_private": message.chat.type == "private",
        "chat_title": message.chat.title or "",
    }
    if message.migrate_to_chat_id is not None:
        return Event(kind=EventKind.MEMBERSHIP, payload=f"moved:{message.migrate_to_chat_id}", **base)
    if message.text is not None:
        if message.text.startswith("/"):
            command, args = parse_command(message.text)
            return Event(kind=EventKind.COMMAND, text=message.text, command=command, args=args, **base)
        return Event(kind=EventKind.TEXT, text=message.text, **base)
    if message.photo:
        largest = message.photo[-1]
        ref = FileRef(file_id=largest.file_id, kind="photo", size_bytes=largest.file_size, mime_type="image/jpeg")
        return Event(kind=EventKind.FILE, file=ref, **base)
    if message.document is not None:
        doc = message.document
        ref = FileRef(doc.file_id, "document", doc.file_name, doc.file_size, doc.mime_type)
        return Event(kind=EventKind.FILE, file=ref, **base)
    return Event(kind=EventKind.UNSUPPORTED, **base)


def membership_event(update: ChatMemberUpdated, update_id: int) -> Event:
    """The bot was added to a group (joined) or removed from it (left)."""
    joined = update.new_chat_member.status in ("member", "administrator")
    return Event(
        platform=PLATFORM,
        update_key=str(update_id),
        user_id=str(update.from_user.id),
        chat_id=str(update.chat.id),
        display_name=update.from_user.full_name,
        kind=EventKind.MEMBERSHIP,
        payload="joined" if joined else "left",
        is_private=update.chat.type == "private",
        chat_title=update.chat.title or "",
    )


def addressed_elsewhere(message: Message, username: str) -> bool:
    """A group command meant for another bot (`/progress@other_bot`): not ours to answer."""
    head = (message.text or "").split(maxsplit=1)[0] if message.text else ""
    return head.startswith("/") and "@" in head and head.split("@", 1)[1].lower() != username.lower()


def callback_event(query: CallbackQuery, update_id: int) -> Event:
    chat = query.message.chat if query.message else None
    return Event(
        platform=PLATFORM,
        update_key=str(update_id),
        user_id=str(query.from_user.id),
        chat_id=str(chat.id if chat else query.from_user.id),
        display_name=query.from_user.full_name,
        kind=EventKind.OPTION,
        payload=query.data or "",
        is_private=chat is None or chat.type == "private",
    )


def _button_url(url: str) -> bool:
    """Telegram accepts link buttons to public https addresses only (not the sandbox's loopback)."""
    return url.startswith("https://")


def _with_links(reply: Reply) -> Reply:
    """Link options Telegram would refuse as buttons are written into the text instead."""
    written = [o for row in reply.options for o in row if o.url and not _button_url(o.url)]
    if not written:
        return reply
    rows = tuple(row for row in (tuple(o for o in r if o not in written) for r in reply.options) if row)
    links = "\n".join(f'{html.escape(o.label, quote=False)}: <a href="{html.escape(o.url)}">{html.escape(o.url)}</a>'
                      for o in written)  # fmt: skip
    return replace(reply, text=f"{reply.text}\n\n{links}", options=rows)


def _markup(reply: Reply) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    if reply.options:
        return InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(text=option.label, url=option.url)
                    if option.url
                    else InlineKeyboardButton(text=option.label, callback_data=option.payload)
                    for option in row
                ]
                for row in reply.options
            ]
        )
    if reply.menu:
        labels = list(reply.menu)
        return ReplyKeyboardMarkup(
            keyboard=[[KeyboardButton(text=label) for label in labels[i : i + 2]] for i in range(0, len(labels), 2)],
            resize_keyboard=True,
            is_persistent=True,
        )
    return None


class TelegramChannel:
    platform = PLATFORM

    def __init__(self, services: Services, bot: Bot) -> None:
        self.services = services
        self.bot = bot
        self._sequencer = KeyedSequencer()
        self._chat_roles: dict[int, str] = {}
        self.username = ""
        # Telegram: 30 messages in any second overall (kept per request: `make_bot`); about 1/s in a chat
        # (short bursts are tolerated) and 20/min in a group, a little under each of these.
        self.limits = SendLimits(None, private=(3, 3.0), group=(1, 3.1))

    def _commands(self, role: str) -> list[BotCommand]:
        t = catalog(self.services.config.settings.language)
        return [BotCommand(command=name, description=t(f"command_{name}")) for name in ROLE_COMMANDS[role]]

    async def _prepare(self) -> None:
        self.username = (await self.bot.me()).username or ""
        await self.bot.set_my_commands(self._commands("member"))

    async def _commands_for(self, chat_id: int, role: str) -> None:
        """The "/" menu of a chat, by the person's role (chairs and admins see theirs), set once per change."""
        if self._chat_roles.get(chat_id, "member") == role:
            return
        self._chat_roles[chat_id] = role
        with contextlib.suppress(TelegramAPIError):
            await self.bot.set_my_commands(self._commands(role), scope=BotCommandScopeChat(chat_id=chat_id))

    async def use_webhook(self, url: str, secret: str) -> None:
        """Have Telegram push updates to the web app (`feed`) instead of polling."""
        await self._prepare()
        await self.handle_left_over()
        await self.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)

    async def feed(self, data: dict[str, Any]) -> bool:
        """An update the webhook received: kept in the inbox, then queued like a polled one (the handlers
        return at once), before the webhook answers 200. False for a body that is not an Update."""
        try:
            update = Update.model_validate(data, context={"bot": self.bot})
        except ValidationError:
            return False
        kept = [(str(update.update_id), json.dumps(data, ensure_ascii=False))]
        await inbox.keep(self.services.sessions, PLATFORM, kept, self.services.clock())
        self._route(update)
        return True

    async def close(self) -> None:
        """Finish queued work, then close the HTTP session (the runtime calls this last, after the outbox
        worker has stopped: a send after it would open a session nobody closes)."""
        await self._sequencer.drain()
        await self.bot.session.close()

    async def handle_left_over(self) -> None:
        """Updates a crash caught between their arrival and their handling (storage/inbox.py)."""
        for payload in await inbox.left_over(self.services.sessions, PLATFORM):
            with contextlib.suppress(ValidationError):
                self._route(Update.model_validate_json(payload, context={"bot": self.bot}))

    async def run_polling(self) -> None:
        """Long polling, at least once: each batch is written to the inbox before the next getUpdates tells
        Telegram it arrived (aiogram's own loop confirms a batch as soon as it is handed to the handlers, so
        a crash in between lost it). Network or database trouble: wait, and ask for the same batch again."""
        await self._prepare()
        await self.bot.delete_webhook(drop_pending_updates=False)
        await self.handle_left_over()
        offset: int | None = None
        failures = 0
        while True:
            try:
                updates = await self.bot.get_updates(offset=offset, timeout=POLL_SECONDS,
                                                     allowed_updates=ALLOWED_UPDATES)  # fmt: skip
                batch = [(str(u.update_id), u.model_dump_json(exclude_none=True)) for u in updates]
                await inbox.keep(self.services.sessions, PLATFORM, batch, self.services.clock())
            except (TelegramAPIError, SQLAlchemyError, OSError) as error:
                failures += 1
                log.warning("polling: %s; trying again", type(error).__name__)
                await asyncio.sleep(min(POLL_BACKOFF_MAX, 0.5 * 2**failures))
                continue
            failures = 0
            for update in updates:
                self._route(update)
            if updates:
                offset = updates[-1].update_id + 1

    async def _process(self, event: Event) -> list[Reply]:
        try:
            return await handle_counted(self.services, event)
        except Exception:
            log.exception("update %s from %s failed", event.update_key, event.platform)
            return [Reply(text=catalog(self.services.config.settings.language)("err_internal"))]

    def _route(self, update: Update) -> None:
        """Queue an update's handling in its person's (or group's) order. The three kinds the bot asks Telegram
        for (ALLOWED_UPDATES) are told apart here: aiogram's Dispatcher did the same through its middlewares and
        filters, built anew for every update, a share of each step's CPU (`make bench-submission`)."""
        if update.message is not None:
            self._on_message(update.message, update.update_id)
        elif update.callback_query is not None and update.callback_query.data:
            self._on_callback(update.callback_query, update.update_id)
        elif update.my_chat_member is not None:
            self._on_membership(update.my_chat_member, update.update_id)

    def _on_message(self, message: Message, update_id: int) -> None:
        if message.chat.type != "private" and addressed_elsewhere(message, self.username):
            return
        event = message_event(message, update_id)
        self._sequencer.submit(event.user_id, lambda: self._reply_to_message(event, message.chat.id))

    def _on_membership(self, update: ChatMemberUpdated, update_id: int) -> None:
        event = membership_event(update, update_id)
        self._sequencer.submit(event.chat_id, lambda: self._reply_to_message(event, update.chat.id))

    def _on_callback(self, query: CallbackQuery, update_id: int) -> None:
        event = callback_event(query, update_id)
        self._sequencer.submit(event.user_id, lambda: self._reply_to_callback(event, query))

    def _settlement(self, replies: list[Reply]) -> Settlement:
        services = self.services
        return Settlement(services.journal, services.sessions, replies, services.clock, services.outbox_changed)

    async def _reply_to_message(self, event: Event, chat_id: int) -> None:
        replies = await self._process(event)
        async with self._settlement(replies) as settlement:
            for reply in replies:
                await self.send(chat_id, reply, settlement)

    async def _reply_to_callback(self, event: Event, query: CallbackQuery) -> None:
        with contextlib.suppress(TelegramAPIError):
            await query.answer()
        replies = await self._process(event)
        origin = query.message if isinstance(query.message, Message) else None
        replaced = False
        async with self._settlement(replies) as settlement:
            for reply in replies:
                if settlement.follows_a_failed_one(reply):
                    continue
                if reply.replace_origin and origin is not None and not replaced:
                    replaced = await self._edit(origin, reply, settlement)
                    if replaced:
                        continue
                await self.send(int(event.chat_id), reply, settlement)
        keep = any(reply.keeps_origin for reply in replies)
        if origin is not None and not replaced and origin.reply_markup is not None and not keep:
            await self._mark_chosen(origin, query.data or "")

    async def send(self, chat_id: int, reply: Reply, settlement: Settlement) -> None:
        """Send a direct reply. A refused send is logged and does not stop the replies after it: the
        conversation's state is already committed. One that still fails for a passing reason after the
        request's retries (Telegram down, the network) is left to the outbox, which keeps trying: the person
        is waiting for it."""
        if settlement.follows_a_failed_one(reply):
            return
        try:
            await self._send(chat_id, reply)
        except _RETRYABLE as error:
            if not (settlement.failed(reply) or await self._send_later(chat_id, reply)):
                log.warning("send to chat %s refused: %s", chat_id, error)
            return
        except TelegramAPIError as error:
            log.warning("send to chat %s refused: %s", chat_id, error)
        settlement.sent(reply)
        if reply.commands:
            await self._commands_for(chat_id, reply.commands)

    async def _send_later(self, chat_id: int, reply: Reply) -> bool:
        """Hand a reply the journal does not hold (one sent after the transaction: an export's) to the outbox;
        False if it cannot hold it (a generated file) or the database fails."""
        if not reply_journal.journalable(reply):
            return False
        try:
            async with self.services.sessions() as session, session.begin():
                queries.queue_message(session, PLATFORM, str(chat_id), reply.to_json(), purpose="reply",
                                      at=self.services.clock())  # fmt: skip
        except SQLAlchemyError:
            return False
        log.info("reply to chat %s left to the outbox", chat_id)
        self.services.outbox_changed()
        return True

    async def _send(self, chat_id: int | str, reply: Reply, *, bulk: bool = False) -> Message:
        """Send one reply (split if over Telegram's limit, options on the last part); the last message.

        Every message waits for its slot under the sending limits; `bulk` (the outbox) also keeps to the
        chat's own limit."""
        slot = functools.partial(self.limits.slot, str(chat_id), is_group=str(chat_id).startswith("-"), bulk=bulk)
        reply = _with_links(reply)
        markup = _markup(reply)
        if reply.file is not None:
            caption = split_text(reply.text, TELEGRAM_CAPTION_LIMIT, markup=True)[0] if reply.text else None
            content = reply.file.content
            file = BufferedInputFile(content, reply.file.file_name) if content is not None else reply.file.file_id
            async with slot():
                if reply.file.kind == "photo":
                    return await self.bot.send_photo(chat_id, file, caption=caption, reply_markup=markup)
                return await self.bot.send_document(chat_id, file, caption=caption, reply_markup=markup)
        chunks = split_text(reply.text, TELEGRAM_TEXT_LIMIT, markup=True)
        for chunk in chunks[:-1]:
            async with slot():
                await self.bot.send_message(chat_id, chunk)
        async with slot():
            return await self.bot.send_message(chat_id, chunks[-1], reply_markup=markup)

    # --- the outbox's Sender ---------------------------------------------------------------------

    async def deliver(self, chat_id: str, reply: Reply, *, answer: bool = False) -> str:
        with _delivery_errors():
            message = await self._send(chat_id, reply, bulk=not answer)
        return str(message.message_id)

    async def replace(self, chat_id: str, message_id: str, reply: Reply) -> None:
        reply = _with_links(reply)
        markup = _markup(reply)
        with _delivery_errors():
            try:
                await self.bot.edit_message_text(
                    text=split_text(reply.text, TELEGRAM_TEXT_LIMIT, markup=True)[0],
                    chat_id=chat_id,
                    message_id=int(message_id),
                    reply_markup=markup if isinstance(markup, InlineKeyboardMarkup) else None,
                )
            except TelegramBadRequest as error:
                if "not modified" not in str(error):
                    raise

    async def _edit(self, origin: Message, reply: Reply, settlement: Settlement) -> bool:
        """Replace the message whose option was pressed; False if it cannot be (then it is sent anew)."""
        edited = _with_links(reply)
        markup = _markup(edited)
        try:
            await self.bot.edit_message_text(
                text=split_text(edited.text, TELEGRAM_TEXT_LIMIT, markup=True)[0],
                chat_id=origin.chat.id,
                message_id=origin.message_id,
                reply_markup=markup if isinstance(markup, InlineKeyboardMarkup) else None,
            )
        except TelegramBadRequest as error:
            if "not modified" not in str(error):
                return False
        except _RETRYABLE as error:
            if not settlement.failed(reply):  # else the outbox sends it as a new message
                log.warning("edit in chat %s refused: %s", origin.chat.id, error)
            return True
        except TelegramAPIError as error:
            log.warning("edit in chat %s refused: %s", origin.chat.id, error)
        settlement.sent(reply)
        return True

    async def _mark_chosen(self, origin: Message, data: str) -> None:
        """Take the buttons off the answered question and show what was chosen, so the chat reads well."""
        assert origin.reply_markup is not None
        label = next(
            (b.text for row in origin.reply_markup.inline_keyboard for b in row if b.callback_data == data),
            None,
        )
        try:
            if label and origin.html_text:
                await self.bot.edit_message_text(
                    text=f"{origin.html_text}\n\n» <b>{html.escape(label, quote=False)}</b>",
                    chat_id=origin.chat.id,
                    message_id=origin.message_id,
                    reply_markup=None,
                )
            else:
                await self.bot.edit_message_reply_markup(
                    chat_id=origin.chat.id, message_id=origin.message_id, reply_markup=None
                )
        except TelegramAPIError as error:
            log.debug("could not mark the chosen option: %s", error)
