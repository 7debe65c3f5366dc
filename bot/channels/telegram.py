"""The Telegram channel: updates → neutral Events, neutral Replies → Bot API calls.

Only this module (with its client, bot/channels/telegram_api.py) knows Telegram. Updates are read as the
Bot API's JSON, and a step's requests sent as JSON (`telegram_api.call`), without aiogram's models. Options
become inline buttons (callback data is the option's short opaque payload), the main menu a persistent
reply keyboard. Outgoing calls that hit 429 wait `retry_after` and retry; transient server and network
errors retry with backoff.
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
from typing import Any

from aiogram import Bot
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
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    InlineKeyboardMarkup,
    MessageEntity,
    ReplyKeyboardMarkup,
)
from aiogram.utils.text_decorations import html_decoration
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from bot.channels.dispatch import handle_counted
from bot.channels.limits import SendLimits
from bot.channels.ordering import KeyedSequencer
from bot.channels.telegram_api import RETRYABLE, call
from bot.channels.text import parse_command, split_text
from bot.outbox import ChatMoved, Rejected, RetryLater, Unreachable
from domain.text import shortened_apart
from handlers.context import Services
from handlers.events import ROW_CHARS, Event, EventKind, FileRef, Reply
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
# What reading an update the Bot API did not shape as documented raises (a key or an object missing).
_MALFORMED = (KeyError, TypeError, AttributeError, IndexError)


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


def _full_name(user: dict[str, Any]) -> str:
    """A Telegram user's name as aiogram's `User.full_name` gives it."""
    first, last = user.get("first_name", ""), user.get("last_name")
    return f"{first} {last}" if last else first


def _sender(item: dict[str, Any]) -> dict[str, Any] | None:
    """Who sent a message or pressed a button. ("from_user": how an inbox row written before 2026-12 names it.)"""
    return item.get("from") or item.get("from_user")


def message_event(message: dict[str, Any], update_id: int) -> Event:
    user, chat = _sender(message), message["chat"]
    base: dict[str, Any] = {
        "platform": PLATFORM,
        "update_key": str(update_id),
        "user_id": str(user["id"] if user else chat["id"]),
        "chat_id": str(chat["id"]),
        "display_name": _full_name(user) if user else "",
        "is_private": chat.get("type") == "private",
        "chat_title": chat.get("title") or "",
    }
    text = message.get("text")
    if message.get("migrate_to_chat_id") is not None:
        return Event(kind=EventKind.MEMBERSHIP, payload=f"moved:{message['migrate_to_chat_id']}", **base)
    if text is not None:
        if text.startswith("/"):
            command, args = parse_command(text)
            return Event(kind=EventKind.COMMAND, text=text, command=command, args=args, **base)
        return Event(kind=EventKind.TEXT, text=text, **base)
    if message.get("photo"):
        largest = message["photo"][-1]
        ref = FileRef(largest["file_id"], "photo", size_bytes=largest.get("file_size"), mime_type="image/jpeg")
        return Event(kind=EventKind.FILE, file=ref, **base)
    if (doc := message.get("document")) is not None:
        ref = FileRef(doc["file_id"], "document", doc.get("file_name"), doc.get("file_size"), doc.get("mime_type"))
        return Event(kind=EventKind.FILE, file=ref, **base)
    return Event(kind=EventKind.UNSUPPORTED, **base)


def membership_event(update: dict[str, Any], update_id: int) -> Event:
    """The bot was added to a group (joined) or removed from it (left)."""
    joined = update["new_chat_member"]["status"] in ("member", "administrator")
    user, chat = _sender(update) or {}, update["chat"]
    return Event(
        platform=PLATFORM,
        update_key=str(update_id),
        user_id=str(user.get("id", chat["id"])),
        chat_id=str(chat["id"]),
        display_name=_full_name(user) if user else "",
        kind=EventKind.MEMBERSHIP,
        payload="joined" if joined else "left",
        is_private=chat.get("type") == "private",
        chat_title=chat.get("title") or "",
    )


def addressed_elsewhere(message: dict[str, Any], username: str) -> bool:
    """A group command meant for another bot (`/progress@other_bot`): not ours to answer."""
    words = (message.get("text") or "").split(maxsplit=1)
    head = words[0] if words else ""
    return head.startswith("/") and "@" in head and head.split("@", 1)[1].lower() != username.lower()


def _origin(query: dict[str, Any]) -> dict[str, Any] | None:
    """The message whose button was pressed, if the bot can still change it (Telegram sends one too old to
    be reached as an "inaccessible message", dated 0)."""
    message = query.get("message")
    if not (message and message.get("date") and "message_id" in message):
        return None
    return message if isinstance(message.get("chat"), dict) and "id" in message["chat"] else None


def callback_event(query: dict[str, Any], update_id: int) -> Event:
    user = _sender(query) or {}
    chat = (query.get("message") or {}).get("chat")
    return Event(
        platform=PLATFORM,
        update_key=str(update_id),
        user_id=str(user["id"]),
        chat_id=str(chat["id"] if chat else user["id"]),
        display_name=_full_name(user),
        kind=EventKind.OPTION,
        payload=query.get("data") or "",
        is_private=chat is None or chat.get("type") == "private",
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


def _labels(reply: Reply) -> dict[tuple[int, int], str]:
    """Each button's text by (row, column); those whose end matters (`keep_end`) cut in the middle to what a
    phone shows whole, told apart from one another."""
    labels = {(r, c): option.label for r, row in enumerate(reply.options) for c, option in enumerate(row)}
    kept = [(r, c) for r, row in enumerate(reply.options) for c, option in enumerate(row) if option.keep_end]
    cut = shortened_apart([labels[at] for at in kept], [ROW_CHARS // len(reply.options[r]) for r, _ in kept])
    return {**labels, **dict(zip(kept, cut, strict=True))}


def _markup(reply: Reply) -> dict[str, Any] | None:
    """The reply's buttons as the Bot API's JSON: its options inline, else its menu as a reply keyboard."""
    if reply.options:
        labels = _labels(reply)
        return {
            "inline_keyboard": [
                [
                    {"text": labels[r, c], "url": option.url}
                    if option.url
                    else {"text": labels[r, c], "callback_data": option.payload}
                    for c, option in enumerate(row)
                ]
                for r, row in enumerate(reply.options)
            ]
        }
    if reply.menu:
        labels = list(reply.menu)
        keyboard = [[{"text": label} for label in labels[i : i + 2]] for i in range(0, len(labels), 2)]
        return {"keyboard": keyboard, "resize_keyboard": True, "is_persistent": True}
    return None


def _inline(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    """The markup if it is inline buttons: the only kind an edited message can carry."""
    return markup if markup is not None and "inline_keyboard" in markup else None


def _html_text(message: dict[str, Any]) -> str:
    """A message's text with its formatting written back as HTML (aiogram's `Message.html_text`); "" if its
    formatting cannot be read."""
    try:
        entities = [MessageEntity.model_validate(entity) for entity in message.get("entities") or ()]
    except ValidationError:
        return ""
    return html_decoration.unparse(message.get("text") or "", entities)


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
            job = self._job(data)
        except _MALFORMED:
            return False
        kept = [(str(data["update_id"]), json.dumps(data, ensure_ascii=False))]
        await inbox.keep(self.services.sessions, PLATFORM, kept, self.services.clock())
        if job is not None:
            self._sequencer.submit(*job)
        return True

    async def close(self) -> None:
        """Finish queued work, then close the HTTP session (the runtime calls this last, after the outbox
        worker has stopped: a send after it would open a session nobody closes)."""
        await self._sequencer.drain()
        await self.bot.session.close()

    async def handle_left_over(self) -> None:
        """Updates a crash caught between their arrival and their handling (storage/inbox.py)."""
        for payload in await inbox.left_over(self.services.sessions, PLATFORM):
            with contextlib.suppress(ValueError):
                self._route(json.loads(payload))

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
                answer = await call(self.bot, "getUpdates", offset=offset, timeout=POLL_SECONDS,
                                    allowed_updates=ALLOWED_UPDATES)  # fmt: skip
                updates = [u for u in answer if isinstance(u, dict) and isinstance(u.get("update_id"), int)]
                batch = [(str(u["update_id"]), json.dumps(u, ensure_ascii=False)) for u in updates]
                await inbox.keep(self.services.sessions, PLATFORM, batch, self.services.clock())
            except (TelegramAPIError, SQLAlchemyError, OSError, TypeError) as error:
                failures += 1
                log.warning("polling: %s; trying again", type(error).__name__)
                await asyncio.sleep(min(POLL_BACKOFF_MAX, 0.5 * 2**failures))
                continue
            if answer and not updates:  # nothing numbered: no offset to move past it, so no asking again at once
                failures += 1
                log.warning("polling: %d updates without a number; trying again", len(answer))
                await asyncio.sleep(min(POLL_BACKOFF_MAX, 0.5 * 2**failures))
                continue
            failures = 0
            for update in updates:
                self._route(update)
            if updates:
                offset = max(u["update_id"] for u in updates) + 1

    async def _process(self, event: Event) -> list[Reply]:
        try:
            return await handle_counted(self.services, event)
        except Exception:
            log.exception("update %s from %s failed", event.update_key, event.platform)
            return [Reply(text=catalog(self.services.config.settings.language)("err_internal"))]

    def _route(self, update: Any) -> None:
        """Queue an update's handling in its person's (or group's) order; one that cannot be read is logged."""
        try:
            job = self._job(update)
        except _MALFORMED:
            log.warning("an update that cannot be read was left alone: %.200r", update)
            return
        if job is not None:
            self._sequencer.submit(*job)

    def _job(self, update: Any) -> tuple[str, Callable[[], Awaitable[None]]] | None:
        """An update's handling and whose order it keeps; None for one the bot leaves alone. The three kinds
        it asks Telegram for (ALLOWED_UPDATES) are told apart here: aiogram's Dispatcher did the same through
        its middlewares and filters, built anew for every update, a share of each step's CPU. Raises one of
        `_MALFORMED` for an update without what the bot reads from it."""
        update_id = update["update_id"]
        if not isinstance(update_id, int):
            raise TypeError("update_id")
        if (message := update.get("message")) is not None:
            chat_id = message["chat"]["id"]
            if message["chat"].get("type") != "private" and addressed_elsewhere(message, self.username):
                return None
            event = message_event(message, update_id)
            return event.user_id, lambda: self._reply_to_message(event, chat_id)
        if (query := update.get("callback_query")) is not None and query.get("data"):
            if not isinstance(query["id"], str):
                raise TypeError("callback_query.id")
            event = callback_event(query, update_id)
            return event.user_id, lambda: self._reply_to_callback(event, query)
        if (membership := update.get("my_chat_member")) is not None:
            event = membership_event(membership, update_id)
            chat_id = membership["chat"]["id"]
            return event.chat_id, lambda: self._reply_to_message(event, chat_id)
        return None

    def _settlement(self, replies: list[Reply]) -> Settlement:
        services = self.services
        return Settlement(services.journal, services.sessions, replies, services.clock, services.outbox_changed)

    async def _reply_to_message(self, event: Event, chat_id: int) -> None:
        replies = await self._process(event)
        async with self._settlement(replies) as settlement:
            for reply in replies:
                await self.send(chat_id, reply, settlement)

    async def _reply_to_callback(self, event: Event, query: dict[str, Any]) -> None:
        with contextlib.suppress(TelegramAPIError):
            await call(self.bot, "answerCallbackQuery", callback_query_id=query["id"])
        replies = await self._process(event)
        origin = _origin(query)
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
        taken = not any(reply.clears_origin for reply in replies)
        if origin is not None and not replaced and origin.get("reply_markup") and not keep:
            await self._mark_chosen(origin, (query.get("data") or "") if taken else "")

    async def send(self, chat_id: int, reply: Reply, settlement: Settlement) -> None:
        """Send a direct reply. A refused send is logged and does not stop the replies after it: the
        conversation's state is already committed. One that still fails for a passing reason after the
        request's retries (Telegram down, the network) is left to the outbox, which keeps trying: the person
        is waiting for it."""
        if settlement.follows_a_failed_one(reply):
            return
        try:
            await self._send(chat_id, reply)
        except RETRYABLE as error:
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

    async def _send(self, chat_id: int | str, reply: Reply, *, bulk: bool = False) -> int:
        """Send one reply (split if over Telegram's limit, options on the last part); the last message's id.

        Every message waits for its slot under the sending limits; `bulk` (the outbox) also keeps to the
        chat's own limit."""
        slot = functools.partial(self.limits.slot, str(chat_id), is_group=str(chat_id).startswith("-"), bulk=bulk)
        reply = _with_links(reply)
        markup = _markup(reply)
        if reply.file is not None:
            caption = split_text(reply.text, TELEGRAM_CAPTION_LIMIT, markup=True)[0] if reply.text else None
            content = reply.file.content
            file = BufferedInputFile(content, reply.file.file_name) if content is not None else reply.file.file_id
            keyboard = _aiogram_markup(markup)
            async with slot():
                if reply.file.kind == "photo":
                    sent = await self.bot.send_photo(chat_id, file, caption=caption, reply_markup=keyboard)
                else:
                    sent = await self.bot.send_document(chat_id, file, caption=caption, reply_markup=keyboard)
            return sent.message_id
        chunks = split_text(reply.text, TELEGRAM_TEXT_LIMIT, markup=True)
        for chunk in chunks[:-1]:
            async with slot():
                await self._send_text(chat_id, chunk, None)
        async with slot():
            return await self._send_text(chat_id, chunks[-1], markup)

    async def _send_text(self, chat_id: int | str, text: str, markup: dict[str, Any] | None) -> int:
        message = await call(self.bot, "sendMessage", chat_id=chat_id, text=text, parse_mode=ParseMode.HTML,
                             reply_markup=markup)  # fmt: skip
        return int(message["message_id"])

    async def _edit_text(self, chat_id: int | str, message_id: int, text: str, markup: dict[str, Any] | None) -> None:
        await call(self.bot, "editMessageText", chat_id=chat_id, message_id=message_id, text=text,
                   parse_mode=ParseMode.HTML, reply_markup=markup)  # fmt: skip

    # --- the outbox's Sender ---------------------------------------------------------------------

    async def deliver(self, chat_id: str, reply: Reply, *, answer: bool = False) -> str:
        with _delivery_errors():
            message_id = await self._send(chat_id, reply, bulk=not answer)
        return str(message_id)

    async def replace(self, chat_id: str, message_id: str, reply: Reply) -> None:
        reply = _with_links(reply)
        text = split_text(reply.text, TELEGRAM_TEXT_LIMIT, markup=True)[0]
        with _delivery_errors():
            try:
                await self._edit_text(chat_id, int(message_id), text, _inline(_markup(reply)))
            except TelegramBadRequest as error:
                if "not modified" not in str(error):
                    raise

    async def _edit(self, origin: dict[str, Any], reply: Reply, settlement: Settlement) -> bool:
        """Replace the message whose option was pressed; False if it cannot be (then it is sent anew)."""
        edited = _with_links(reply)
        chat_id = origin["chat"]["id"]
        chunks = split_text(edited.text, TELEGRAM_TEXT_LIMIT, markup=True)
        if len(chunks) > 1:  # one message cannot hold it: sent anew, in parts, the options on the last
            return False
        try:
            await self._edit_text(chat_id, origin["message_id"], chunks[0], _inline(_markup(edited)))
        except TelegramBadRequest as error:
            if "not modified" not in str(error):
                return False
        except RETRYABLE as error:
            if not settlement.failed(reply):  # else the outbox sends it as a new message
                log.warning("edit in chat %s refused: %s", chat_id, error)
            return True
        except TelegramAPIError as error:
            log.warning("edit in chat %s refused: %s", chat_id, error)
        settlement.sent(reply)
        return True

    async def _mark_chosen(self, origin: dict[str, Any], data: str) -> None:
        """Take the buttons off the answered question and show what was chosen (`data`'s button; none: only
        the buttons go), so the chat reads well."""
        rows = (origin.get("reply_markup") or {}).get("inline_keyboard") or []
        label = next((b.get("text") for row in rows for b in row if b.get("callback_data") == data), None)
        chat_id, message_id = origin["chat"]["id"], origin["message_id"]
        try:
            text = _html_text(origin) if label else ""
            if label and text:
                chosen = f"{text}\n\n» <b>{html.escape(label, quote=False)}</b>"
                await self._edit_text(chat_id, message_id, chosen, None)
            else:
                await call(self.bot, "editMessageReplyMarkup", chat_id=chat_id, message_id=message_id)
        except TelegramAPIError as error:
            log.debug("could not mark the chosen option: %s", error)


def _aiogram_markup(markup: dict[str, Any] | None) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    """The markup as aiogram's model, for the requests that still go through aiogram's methods (files)."""
    if markup is None:
        return None
    if "inline_keyboard" in markup:
        return InlineKeyboardMarkup.model_validate(markup)
    return ReplyKeyboardMarkup.model_validate(markup)
