"""A local Telegram Bot API emulator (aiohttp, loopback) for the sandbox and the tests.

It is as strict as Telegram where a lenient fake would hide bugs: every call is checked against the
official reference (`shared/telegram/bot-api-spec.json`, copied in `bot/sandbox/bot-api-spec.json`) —
the method exists, required fields are present, no unknown fields — and it refuses what Telegram
refuses: texts over 4096 characters, captions over 1024, callback data over 64 bytes, HTML Telegram
cannot parse. Updates it produces are checked against the reference's types too.

People talk to it through a small JSON API under `/_emu/` (the sandbox page and the tests use it).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import math
import random
import re
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.sandbox import sample_files
from bot.sandbox.chat_log import ChatLog

SPEC_PATH = Path(__file__).parent / "bot-api-spec.json"
STATIC_DIR = Path(__file__).parent / "static"
ALLOWED_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "tg-spoiler", "span", "a", "code", "pre",
    "blockquote", "tg-emoji",
}  # fmt: skip
ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")
TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+\s*=\s*\"[^\"]*\")*)\s*>")


class BotApiError(Exception):
    def __init__(
        self, code: int, description: str, retry_after: int | None = None, migrate_to_chat_id: int | None = None
    ) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after
        self.migrate_to_chat_id = migrate_to_chat_id


@cache
def bot_api_spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


ENTITY_TYPES = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "tg-spoiler": "spoiler",
    "a": "text_link", "code": "code", "pre": "pre", "blockquote": "blockquote",
}  # fmt: skip
HREF = re.compile(r'href\s*=\s*"([^"]*)"')


def parse_html(text: str) -> str:
    """Return the plain text of Telegram-flavoured HTML, or raise 400 like Telegram does."""
    return parse_html_entities(text)[0]


def parse_html_entities(text: str) -> tuple[str, list[dict[str, Any]]]:
    """The plain text of Telegram-flavoured HTML and its formatting as the Bot API's MessageEntity objects
    (offsets and lengths in UTF-16 code units, sorted as Telegram sorts them); or raise 400 like Telegram."""
    out: list[str] = []
    stack: list[tuple[str, str, int]] = []  # tag, its attributes, where it began (UTF-16)
    entities: list[dict[str, Any]] = []
    position = length = 0
    while position < len(text):
        char = text[position]
        if char == "<":
            match = TAG.match(text, position)
            if not match or match.group(2).lower() not in ALLOWED_TAGS:
                raise BotApiError(
                    400, f"Bad Request: can't parse entities: unsupported start tag at byte offset {position}"
                )
            closing, name = match.group(1), match.group(2).lower()
            if closing:
                if not stack or stack[-1][0] != name:
                    raise BotApiError(400, f"Bad Request: can't parse entities: unmatched end tag {name}")
                _, attributes, began = stack.pop()
                entity = _entity(name, attributes, began, length - began)
                if entity is not None:
                    entities.append(entity)
            else:
                stack.append((name, match.group(3), length))
            position = match.end()
            continue
        if char == "&":
            match = ENTITY.match(text, position)
            if not match:
                raise BotApiError(400, f"Bad Request: can't parse entities: unescaped & at byte offset {position}")
            piece, position = html.unescape(match.group(0)), match.end()
        elif char == ">":
            raise BotApiError(400, "Bad Request: can't parse entities: unescaped >")
        else:
            piece, position = char, position + 1
        out.append(piece)
        length += utf16_length(piece)
    if stack:
        raise BotApiError(400, f"Bad Request: can't parse entities: can't find end tag corresponding to {stack[-1][0]}")
    return "".join(out), sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def _entity(tag: str, attributes: str, offset: int, length: int) -> dict[str, Any] | None:
    kind = ENTITY_TYPES.get(tag)
    if kind is None or length == 0:
        return None
    entity: dict[str, Any] = {"type": kind, "offset": offset, "length": length}
    if kind == "text_link":
        href = HREF.search(attributes)
        if href is None:
            return None
        entity["url"] = html.unescape(href.group(1))
    return entity


def check_object(type_name: str, value: Any, path: str = "") -> None:
    """Check that an object we produce matches the reference: required fields, no unknown fields."""
    spec_type = bot_api_spec()["types"].get(type_name)
    if spec_type is not None and spec_type.get("subtypes") and isinstance(value, dict):
        errors = []
        for subtype in spec_type["subtypes"]:  # a union (ChatMember, …): one of its kinds must match
            try:
                check_object(subtype, value, path)
                return
            except AssertionError as error:
                errors.append(str(error))
        raise AssertionError(f"emulator produced {type_name}{path} matching none of its kinds: {errors}")
    if spec_type is None or "fields" not in spec_type or not isinstance(value, dict):
        return
    fields = {f["name"]: f for f in spec_type["fields"]}
    for name, info in fields.items():
        if info["required"] and name not in value:
            raise AssertionError(f"emulator produced {type_name}{path} without required field {name}")
    for name, item in value.items():
        if name not in fields:
            raise AssertionError(f"emulator produced {type_name}{path} with unknown field {name}")
        for field_type in fields[name]["types"]:
            inner = field_type.removeprefix("Array of ")
            items = item if field_type.startswith("Array of ") and isinstance(item, list) else [item]
            for element in items:
                if isinstance(element, list):
                    for sub in element:
                        check_object(inner.removeprefix("Array of "), sub, f"{path}.{name}")
                else:
                    check_object(inner, element, f"{path}.{name}")


@dataclass
class StoredMessage:
    """A message in a chat, as the sandbox page and the tests see it."""

    chat_id: int
    message_id: int
    from_bot: bool
    sender_id: int
    date: int
    text: str = ""
    reply_markup: dict[str, Any] | None = None
    document: dict[str, Any] | None = None
    photo: list[dict[str, Any]] | None = None
    seq: int = 0
    edited: bool = False

    @property
    def plain_text(self) -> str:
        return parse_html(self.text) if self.from_bot else self.text

    def buttons(self) -> list[dict[str, Any]]:
        markup = self.reply_markup or {}
        return [button for row in markup.get("inline_keyboard", []) for button in row]

    def menu(self) -> list[str]:
        """The labels of the reply keyboard (the main menu) the message brings."""
        markup = self.reply_markup or {}
        return [button["text"] for row in markup.get("keyboard", []) for button in row]

    def button(self, label_part: str) -> dict[str, Any]:
        for button in self.buttons():
            if label_part in button["text"]:
                return button
        raise LookupError(f"no button containing {label_part!r} in {[b['text'] for b in self.buttons()]}")

    def as_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "seq": self.seq,
            "from_bot": self.from_bot,
            "text": self.text,
            "reply_markup": self.reply_markup,
            "document": self.document,
            "photo": bool(self.photo),
            "photo_file_id": self.photo[-1]["file_id"] if self.photo else None,
            "edited": self.edited,
            "date": self.date,
            "sender_id": self.sender_id,
        }


@dataclass
class Fault:
    method: str
    error_code: int
    description: str
    retry_after: int | None
    remaining: int
    chat_id: int | None = None


@dataclass
class Chaos:
    """Random trouble on sends and edits (`make soak`): a share answered 5xx without delivering, a share
    delivered but the answer lost (the connection dropped, as a timeout looks to the bot), a share 429."""

    server_errors: float = 0.15
    lost_answers: float = 0.05
    too_many: float = 0.02
    seed: int = 2022
    counts: dict[str, int] = field(default_factory=lambda: {"5xx": 0, "lost": 0, "429": 0})

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def draw(self) -> str | None:
        roll = self._random.random()
        for kind, share in (("5xx", self.server_errors), ("lost", self.lost_answers), ("429", self.too_many)):
            if roll < share:
                self.counts[kind] += 1
                return kind
            roll -= share
        return None


CHAOTIC_METHODS = {"sendMessage", "sendPhoto", "sendDocument", "editMessageText", "editMessageReplyMarkup"}


@dataclass
class BotState:
    token: str
    user: dict[str, Any]
    pending: list[dict[str, Any]] = field(default_factory=list)
    forced: set[int] = field(default_factory=set)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    polls: int = 0
    commands: list[dict[str, Any]] = field(default_factory=list)
    webhook_url: str = ""
    webhook_secret: str = ""


SEND_METHODS = {"sendMessage", "sendPhoto", "sendDocument", "sendVideo", "sendAudio", "sendVoice", "sendMediaGroup"}


@dataclass(frozen=True)
class RateLimits:
    """Telegram's published sending limits, enforced with sliding windows: 30 messages a second per
    bot, 20 a minute per group. (Private chats tolerate short bursts; they are not limited here.)"""

    per_second: int = 30
    per_group_minute: int = 20


TELEGRAM_LIMITS = RateLimits()


class TelegramEmulator(ChatLog):
    """One emulator serves any number of bots (by token) and simulated people."""

    def __init__(self, limits: RateLimits | None = TELEGRAM_LIMITS) -> None:
        super().__init__()
        self.limits = limits
        # Sends the limits refused with 429 (a well-behaved bot causes none).
        self.rate_limited = 0
        self.rate_limited_sends: list[str] = []  # what each 429 refused, for a test's message
        self.chaos: Chaos | None = None
        self._sent_at: dict[str, deque[float]] = defaultdict(deque)
        self.bots: dict[str, BotState] = {}
        self.users: dict[int, dict[str, Any]] = {}
        # Group chats by (negative) id: title, type, whether the bot is in it, and where it moved to.
        self.groups: dict[int, dict[str, Any]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.faults: list[Fault] = []
        self._held: dict[str, tuple[asyncio.Event, asyncio.Event]] = {}
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self._delivered: list[dict[str, Any]] = []
        self.blocked: set[int] = set()
        self.files: dict[str, bytes] = {}
        # Tests: the file server answers 502 (a download fails after getFile succeeded).
        self.failing_downloads = False
        self._update_ids = itertools.count(1000)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._file_ids = itertools.count(1)
        self.webhook_responses: list[int] = []

    # --- lifecycle -------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._bot_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._bot_file)
        app.router.add_get("/", self._page)
        app.router.add_static("/static/", STATIC_DIR)
        app.router.add_get("/_emu/personas", self._personas)
        app.router.add_get("/_emu/groups", self._groups)
        app.router.add_post("/_emu/send", self._client_send)
        app.router.add_post("/_emu/press", self._client_press)
        app.router.add_get("/_emu/chats/{chat_id}", self._client_poll)
        app.router.add_get("/_emu/files/{file_id}", self._client_file)
        return app

    def number_updates_from(self, first: int) -> None:
        """Number the next updates (and callback queries) from `first`, if above the numbers still to come."""
        self._update_ids = itertools.count(max(first, next(self._update_ids)))

    def add_bot(self, token: str, username: str = "sangkien_test_bot", first_name: str = "Sáng kiến Bot") -> None:
        bot_id = int(token.split(":")[0]) if token.split(":")[0].isdigit() else 7_000_000 + len(self.bots)
        self.bots[token] = BotState(
            token=token,
            user={
                "id": bot_id,
                "is_bot": True,
                "first_name": first_name,
                "username": username,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            },
        )

    def add_user(self, user_id: int, first_name: str, last_name: str = "", language_code: str = "vi") -> None:
        user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language_code}
        if last_name:
            user["last_name"] = last_name
        self.users[user_id] = user

    def inject_fault(
        self,
        method: str,
        error_code: int,
        description: str = "",
        retry_after: int | None = None,
        count: int = 1,
        chat_id: int | None = None,
    ) -> None:
        """The next `count` calls of `method` (to `chat_id`, if given) fail as Telegram would."""
        text = description or {429: "Too Many Requests: retry after", 500: "Internal Server Error"}.get(
            error_code, "Bad Request"
        )
        self.faults.append(Fault(method, error_code, text, retry_after, count, chat_id))

    def clear_faults(self) -> None:
        self.faults.clear()

    def hold_sends(self, chat_id: int) -> asyncio.Event:
        """Sends to `chat_id` wait, undelivered, until `release_sends` (then fail: the bot that sent them is
        gone, as after a kill in the middle of a send). The event returned is set when the first one waits."""
        waiting = asyncio.Event()
        self._held[str(chat_id)] = (waiting, asyncio.Event())
        return waiting

    def release_sends(self, chat_id: int) -> None:
        self._held.pop(str(chat_id))[1].set()

    def block_bot(self, user_id: int) -> None:
        """The person blocks the bot: sends to them get 403 from now on."""
        self.blocked.add(user_id)

    # --- people's side ---------------------------------------------------------------------------

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _bot(self, token: str | None = None) -> BotState:
        if token is not None:
            return self.bots[token]
        return next(iter(self.bots.values()))

    def _chat_json(self, chat_id: int) -> dict[str, Any]:
        group = self.groups.get(chat_id)
        if group is not None:
            return {"id": chat_id, "type": group["type"], "title": group["title"]}
        user = self.users.get(chat_id, {"id": chat_id, "first_name": "?", "is_bot": False})
        return self._private_chat(user)

    def _private_chat(self, user: dict[str, Any]) -> dict[str, Any]:
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        if "last_name" in user:
            chat["last_name"] = user["last_name"]
        return chat

    def _enqueue(self, bot: BotState, update: dict[str, Any]) -> dict[str, Any]:
        check_object("Update", update)
        if bot.webhook_url:
            self._in_background(self._post_webhook(bot, update))
            return update
        bot.pending.append(update)
        bot.arrived.set()
        return update

    async def _post_webhook(self, bot: BotState, update: dict[str, Any]) -> None:
        """Telegram pushes each update to the webhook with the secret in a header (and retries on errors)."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": bot.webhook_secret} if bot.webhook_secret else {}
        http = await self._client_http()
        try:
            async with http.post(bot.webhook_url, json=update, headers=headers) as response:
                self.webhook_responses.append(response.status)
        except aiohttp.ClientError:
            self.webhook_responses.append(0)  # (Telegram would retry later; the tests never need it)
            return
        self._delivered.append(update)

    async def user_sends(
        self,
        user_id: int,
        text: str | None = None,
        *,
        document: dict[str, Any] | None = None,
        photo: bool = False,
        sticker: bool = False,
        token: str | None = None,
        chat_id: int | None = None,
        photo_content: bytes | None = None,
    ) -> StoredMessage:
        """A person sends a message to the bot, privately or in a group (`chat_id`); returns the stored
        message (its update is queued; in a group only if the bot is a member)."""
        bot, user = self._bot(token), self.users[user_id]
        chat_id = user_id if chat_id is None else chat_id
        message_id = self._next_message_id(chat_id)
        now = int(time.time())
        payload: dict[str, Any] = {
            "message_id": message_id,
            "from": user,
            "chat": self._chat_json(chat_id),
            "date": now,
        }
        stored = StoredMessage(chat_id, message_id, False, user_id, now, text=text or "")
        if text is not None:
            payload["text"] = text
            if text.startswith("/"):
                command = text.split()[0]
                payload["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_length(command)}]
        if document is not None:
            file_number = next(self._file_ids)
            document = dict(document)
            content = document.pop("content", None)
            if content is not None:  # a real file the bot can download with getFile
                self.files[f"DOC{file_number}"] = content
                document["file_size"] = len(content)
            payload["document"] = {
                "file_id": f"DOC{file_number}",
                "file_unique_id": f"UDOC{file_number}",
                **document,
            }
            stored.document = payload["document"]
            stored.text = document.get("file_name", "")
        if photo:
            file_number = next(self._file_ids)
            sizes = [
                {"file_id": f"PH{file_number}s", "file_unique_id": f"UPH{file_number}s", "width": 90, "height": 90,
                 "file_size": 2_000},
                {"file_id": f"PH{file_number}", "file_unique_id": f"UPH{file_number}", "width": 1280, "height": 960,
                 "file_size": 180_000},
            ]  # fmt: skip
            payload["photo"] = sizes
            stored.photo = sizes
            if photo_content is not None:  # a real image the bot can download
                self.files[f"PH{file_number}"] = photo_content
        if sticker:
            payload["sticker"] = {
                "file_id": "STK1", "file_unique_id": "USTK1", "type": "regular", "width": 512, "height": 512,
                "is_animated": False, "is_video": False, "emoji": "👍",
            }  # fmt: skip
            stored.text = "👍"
        await self._store(stored)
        if chat_id in self.groups and not self.groups[chat_id]["bot_member"]:
            return stored
        self._enqueue(bot, {"update_id": next(self._update_ids), "message": payload})
        return stored

    def _membership(self, bot: BotState, user_id: int, chat_id: int, old: str, new: str) -> None:
        def member(status: str) -> dict[str, Any]:
            return {"status": status, "user": bot.user, **({"until_date": 0} if status == "kicked" else {})}

        self._enqueue(
            bot,
            {
                "update_id": next(self._update_ids),
                "my_chat_member": {
                    "chat": self._chat_json(chat_id),
                    "from": self.users[user_id],
                    "date": int(time.time()),
                    "old_chat_member": member(old),
                    "new_chat_member": member(new),
                },
            },
        )

    def add_group(self, chat_id: int, title: str, *, bot_member: bool = False) -> None:
        """A group chat; `bot_member` puts the bot in it from the start (the sandbox's sample group)."""
        assert chat_id < 0, "group ids are negative"
        self.groups[chat_id] = {"title": title, "type": "group", "bot_member": bot_member, "moved_to": None}

    def add_bot_to_group(self, user_id: int, chat_id: int, token: str | None = None) -> None:
        """A person adds the bot to a group: the bot gets a my_chat_member update."""
        self.groups[chat_id]["bot_member"] = True
        self._membership(self._bot(token), user_id, chat_id, "left", "member")

    def remove_bot_from_group(self, user_id: int, chat_id: int, token: str | None = None) -> None:
        self.groups[chat_id]["bot_member"] = False
        self._membership(self._bot(token), user_id, chat_id, "member", "kicked")

    def upgrade_group(self, chat_id: int, new_chat_id: int) -> None:
        """The group becomes a supergroup with a new id; sends to the old id answer migrate_to_chat_id."""
        group = self.groups[chat_id]
        group["moved_to"] = new_chat_id
        self.groups[new_chat_id] = {**group, "type": "supergroup", "moved_to": None}

    async def user_presses(
        self, user_id: int, message: StoredMessage, callback_data: str, token: str | None = None
    ) -> str:
        """A person taps an inline button; returns the callback query id."""
        bot, user = self._bot(token), self.users[user_id]
        query_id = f"cq{next(self._update_ids)}"
        self._enqueue(
            bot,
            {
                "update_id": next(self._update_ids),
                "callback_query": {
                    "id": query_id,
                    "from": user,
                    "message": self._message_json(message, bot),
                    "chat_instance": f"ci{user_id}",
                    "data": callback_data,
                },
            },
        )
        return query_id

    def redeliver_last(self, token: str | None = None) -> dict[str, Any]:
        """Deliver the most recent update again with the same update_id (as after a lost offset)."""
        bot = self._bot(token)
        update = self.delivered[-1]
        bot.pending.append(update)
        bot.forced.add(update["update_id"])
        bot.arrived.set()
        return update

    @property
    def delivered(self) -> list[dict[str, Any]]:
        """Updates handed to the bot by getUpdates, oldest first."""
        return self._delivered

    # --- the Bot API -----------------------------------------------------------------------------

    async def _bot_api(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        bot = self.bots.get(token)
        if bot is None:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        params = await self._read_params(request)
        trouble = self.chaos.draw() if self.chaos is not None and method in CHAOTIC_METHODS else None
        if trouble == "5xx":
            return web.json_response({"ok": False, "error_code": 502, "description": "Bad Gateway"}, status=502)
        if trouble == "429":
            body = {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                    "parameters": {"retry_after": 1}}  # fmt: skip
            return web.json_response(body, status=429)
        try:
            result = await self._call(bot, method, params)
            if trouble == "lost" and request.transport is not None:
                request.transport.close()  # delivered, but the bot never hears so
        except BotApiError as error:
            body: dict[str, Any] = {"ok": False, "error_code": error.code, "description": error.description}
            if error.retry_after is not None:
                body["parameters"] = {"retry_after": error.retry_after}
            if error.migrate_to_chat_id is not None:
                body["parameters"] = {"migrate_to_chat_id": error.migrate_to_chat_id}
            return web.json_response(body, status=error.code)
        return web.json_response({"ok": True, "result": result})

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                params[key] = (
                    value if isinstance(value, str) else {"file_name": value.filename, "content": value.file.read()}
                )
        for key, value in list(params.items()):  # uploads referenced as attach://<field name>
            if isinstance(value, str) and value.startswith("attach://") and value[9:] in params:
                params[key] = params.pop(value[9:])
        for key, value in list(params.items()):
            if isinstance(value, str) and value[:1] in "{[":
                with contextlib.suppress(json.JSONDecodeError):
                    params[key] = json.loads(value)
        return params

    def _validate(self, method: str, params: dict[str, Any]) -> None:
        spec = bot_api_spec()["methods"].get(method)
        if spec is None:
            raise BotApiError(404, "Not Found: method not found")
        fields = {f["name"]: f for f in spec.get("fields", [])}
        for name in params:
            if name not in fields:
                raise BotApiError(400, f"Bad Request: unknown parameter {name} for {method}")
        for name, info in fields.items():
            if info["required"] and params.get(name) in (None, ""):
                raise BotApiError(400, f"Bad Request: {name} is required for {method}")

    def _fault(self, method: str, params: dict[str, Any]) -> None:
        chat = params.get("chat_id")
        if chat is not None and str(chat).lstrip("-").isdigit() and int(chat) in self.blocked:
            raise BotApiError(403, "Forbidden: bot was blocked by the user")
        for fault in self.faults:
            if fault.chat_id is not None and str(fault.chat_id) != str(chat):
                continue
            if fault.method == method and fault.remaining > 0:
                fault.remaining -= 1
                raise BotApiError(fault.error_code, fault.description, fault.retry_after)

    def recent_sends(self, token: str, seconds: float = 1.0) -> int:
        """The bot's sends in the last `seconds`: what Telegram's window still counts, whichever process sent them."""
        since = time.monotonic() - seconds
        return sum(1 for at in self._sent_at[f"bot:{token}"] if at > since)

    def _enforce_limits(self, bot: BotState, params: dict[str, Any]) -> None:
        """Answer 429 with retry_after, as Telegram does, when a send would exceed the limits."""
        assert self.limits is not None
        now = time.monotonic()
        windows = [(f"bot:{bot.token}", 1.0, self.limits.per_second)]
        chat = str(params.get("chat_id", ""))
        if chat.startswith("-"):
            windows.append((f"group:{chat}", 60.0, self.limits.per_group_minute))
        for key, seconds, allowed in windows:
            sent = self._sent_at[key]
            while sent and sent[0] <= now - seconds:
                sent.popleft()
            if len(sent) >= allowed:
                self.rate_limited += 1
                self.rate_limited_sends.append(f"to {chat or '?'}: {len(sent)} in {key}'s last {seconds:g} s, the "
                                               f"oldest {now - sent[0]:.4f} s before")  # fmt: skip
                retry_after = max(1, math.ceil(sent[0] + seconds - now))
                raise BotApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)
        for key, _, _ in windows:
            self._sent_at[key].append(now)

    async def _call(self, bot: BotState, method: str, params: dict[str, Any]) -> Any:
        self._validate(method, params)
        if method != "getUpdates":
            self.calls.append((method, params))
        self._fault(method, params)
        held = self._held.get(str(params.get("chat_id"))) if method in SEND_METHODS else None
        if held is not None:
            waiting, released = held
            waiting.set()
            await released.wait()
            raise BotApiError(500, "Internal Server Error: the connection was gone")
        if self.limits is not None and method in SEND_METHODS:
            self._enforce_limits(bot, params)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            raise BotApiError(501, f"emulator: {method} is valid Bot API but not emulated yet")
        return await handler(bot, params)

    async def _m_getMe(self, bot: BotState, params: dict[str, Any]) -> Any:
        return bot.user

    async def _m_deleteWebhook(self, bot: BotState, params: dict[str, Any]) -> Any:
        bot.webhook_url, bot.webhook_secret = "", ""
        return True

    async def _m_setWebhook(self, bot: BotState, params: dict[str, Any]) -> Any:
        url = str(params["url"])
        if not url.startswith(("https://", "http://127.0.0.1")):  # the emulator lets loopback stand for https
            raise BotApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = str(params.get("secret_token") or "")
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise BotApiError(400, "Bad Request: secret token contains unallowed characters")
        bot.webhook_url, bot.webhook_secret = url, secret
        while bot.pending:
            self._enqueue(bot, bot.pending.pop(0))
        return True

    async def _m_getWebhookInfo(self, bot: BotState, params: dict[str, Any]) -> Any:
        return {"url": bot.webhook_url, "has_custom_certificate": False, "pending_update_count": len(bot.pending)}

    async def _m_setMyCommands(self, bot: BotState, params: dict[str, Any]) -> Any:
        bot.commands = params["commands"]
        return True

    async def _m_getUpdates(self, bot: BotState, params: dict[str, Any]) -> Any:
        if bot.webhook_url:
            raise BotApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        async with self._changed:
            bot.polls += 1
            self._changed.notify_all()

        def ready() -> list[dict[str, Any]]:
            bot.pending = [u for u in bot.pending if u["update_id"] >= offset or u["update_id"] in bot.forced]
            return bot.pending[:limit]

        if not ready() and timeout > 0 and not self._stopping:
            bot.arrived.clear()
            try:
                await asyncio.wait_for(bot.arrived.wait(), timeout)
            except TimeoutError:
                return []
        batch = ready()
        for update in batch:
            if update["update_id"] in bot.forced:
                bot.forced.discard(update["update_id"])
                bot.pending.remove(update)
            elif update not in self._delivered:
                self._delivered.append(update)
        return batch

    def _message_json(self, message: StoredMessage, bot: BotState) -> dict[str, Any]:
        sender = self.users.get(message.sender_id, {"id": message.sender_id, "first_name": "?", "is_bot": False})
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "from": bot.user if message.from_bot else sender,
            "chat": self._chat_json(message.chat_id),
            "date": message.date,
        }
        if message.document:
            data["document"] = message.document
        if message.photo:
            data["photo"] = message.photo
        if message.text:
            plain, entities = parse_html_entities(message.text) if message.from_bot else (message.text, [])
            media = bool(message.document or message.photo)
            data["caption" if media else "text"] = plain
            if entities:
                data["caption_entities" if media else "entities"] = entities
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            data["reply_markup"] = message.reply_markup
        if message.edited:
            data["edit_date"] = message.date
        return data

    def _check_markup(self, markup: Any) -> dict[str, Any] | None:
        if markup is None:
            return None
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= 64:
                    raise BotApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                url = button.get("url")
                if url is not None and not re.match(r"https://[a-z0-9.-]+\.[a-z]{2,}(/|$)", url):
                    raise BotApiError(400, "Bad Request: BUTTON_URL_INVALID")  # no http, no localhost
                if not button.get("text"):
                    raise BotApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
        return markup

    def _check_text(self, text: str, parse_mode: str | None, limit: int = 4096, what: str = "message") -> None:
        plain = parse_html(text) if (parse_mode or "").upper() == "HTML" else text
        if not plain.strip():
            raise BotApiError(400, f"Bad Request: {what} text is empty")
        if utf16_length(plain) > limit:
            raise BotApiError(400, f"Bad Request: {what} is too long")

    def _chat_id(self, params: dict[str, Any]) -> int:
        chat_id = int(params["chat_id"])
        group = self.groups.get(chat_id)
        if group is not None:
            if group["moved_to"] is not None:
                raise BotApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                                  migrate_to_chat_id=group["moved_to"])  # fmt: skip
            if not group["bot_member"]:
                raise BotApiError(403, "Forbidden: bot was kicked from the group chat")
            return chat_id
        if chat_id not in self.users:
            raise BotApiError(400, "Bad Request: chat not found")
        return chat_id

    async def _m_sendMessage(self, bot: BotState, params: dict[str, Any]) -> Any:
        chat_id = self._chat_id(params)
        if params.get("parse_mode") not in (None, "HTML"):
            raise BotApiError(400, "Bad Request: emulator supports parse_mode HTML only")
        self._check_text(params["text"], params.get("parse_mode"))
        markup = self._check_markup(params.get("reply_markup"))
        stored = StoredMessage(chat_id, self._next_message_id(chat_id), True, bot.user["id"], int(time.time()))
        stored.text = params["text"] if params.get("parse_mode") == "HTML" else html.escape(params["text"], quote=False)
        stored.reply_markup = markup
        await self._store(stored)
        return self._message_json(stored, bot)

    def _find(self, params: dict[str, Any]) -> StoredMessage:
        chat_id = self._chat_id(params)
        message_id = int(params["message_id"])
        for message in self.chat(chat_id):
            if message.message_id == message_id and message.from_bot:
                return message
        raise BotApiError(400, "Bad Request: message to edit not found")

    async def _m_editMessageText(self, bot: BotState, params: dict[str, Any]) -> Any:
        message = self._find(params)
        self._check_text(params["text"], params.get("parse_mode"))
        markup = self._check_markup(params.get("reply_markup"))
        new_text = params["text"] if params.get("parse_mode") == "HTML" else html.escape(params["text"], quote=False)
        if new_text == message.text and markup == message.reply_markup:
            raise BotApiError(400, "Bad Request: message is not modified")
        message.text, message.reply_markup, message.edited = new_text, markup, True
        await self._store(message)
        return self._message_json(message, bot)

    async def _m_editMessageReplyMarkup(self, bot: BotState, params: dict[str, Any]) -> Any:
        message = self._find(params)
        markup = self._check_markup(params.get("reply_markup"))
        if markup == message.reply_markup:
            raise BotApiError(400, "Bad Request: message is not modified")
        message.reply_markup, message.edited = markup, True
        await self._store(message)
        return self._message_json(message, bot)

    async def _m_answerCallbackQuery(self, bot: BotState, params: dict[str, Any]) -> Any:
        if len(params.get("text", "")) > 200:
            raise BotApiError(400, "Bad Request: callback answer text is too long")
        self.callback_answers[params["callback_query_id"]] = params
        return True

    async def _send_file(self, bot: BotState, params: dict[str, Any], field: str) -> Any:
        chat_id = self._chat_id(params)
        file_id = params[field]
        name = None
        if isinstance(file_id, dict):  # an upload: keep its bytes, as Telegram keeps the file
            name, content = file_id["file_name"], file_id["content"]
            if not content:
                raise BotApiError(400, "Bad Request: file must be non-empty")
            file_id = f"UP{next(self._file_ids)}"
            self.files[file_id] = content
        if not isinstance(file_id, str) or not file_id:
            raise BotApiError(400, f"Bad Request: {field} must be a file_id or an upload")
        caption = params.get("caption", "")
        if caption:
            self._check_text(caption, params.get("parse_mode"), limit=1024, what="caption")
        stored = StoredMessage(chat_id, self._next_message_id(chat_id), True, bot.user["id"], int(time.time()))
        stored.text = caption if params.get("parse_mode") == "HTML" else html.escape(caption, quote=False)
        stored.reply_markup = self._check_markup(params.get("reply_markup"))
        if field == "document":
            stored.document = {"file_id": file_id, "file_unique_id": "U" + file_id}
            if name:
                stored.document |= {"file_name": name, "file_size": len(self.files[file_id])}
        else:
            stored.photo = [{"file_id": file_id, "file_unique_id": "U" + file_id, "width": 1280, "height": 960}]
        await self._store(stored)
        return self._message_json(stored, bot)

    async def _m_sendDocument(self, bot: BotState, params: dict[str, Any]) -> Any:
        return await self._send_file(bot, params, "document")

    async def _m_sendPhoto(self, bot: BotState, params: dict[str, Any]) -> Any:
        return await self._send_file(bot, params, "photo")

    async def _m_getFile(self, bot: BotState, params: dict[str, Any]) -> Any:
        file_id = str(params["file_id"])
        if file_id not in self.files:
            raise BotApiError(400, "Bad Request: invalid file_id")
        return {"file_id": file_id, "file_unique_id": "U" + file_id, "file_size": len(self.files[file_id]),
                "file_path": f"documents/{file_id}"}  # fmt: skip

    async def _bot_file(self, request: web.Request) -> web.Response:
        """Telegram's file download endpoint: /file/bot<token>/<file_path from getFile>."""
        if request.match_info["token"] not in self.bots:
            return web.Response(status=401)
        if self.failing_downloads:  # tests: the file server is down
            return web.Response(status=502, text="Bad Gateway")
        content = self.files.get(request.match_info["path"].rsplit("/", 1)[-1])
        if content is None:
            return web.Response(status=404)
        return web.Response(body=content, content_type="application/octet-stream")

    async def _m_sendChatAction(self, bot: BotState, params: dict[str, Any]) -> Any:
        self._chat_id(params)
        return True

    # --- the JSON API for people (sandbox page, tests) -------------------------------------------

    async def _page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html")

    async def _personas(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {"id": uid, "name": " ".join(filter(None, [u["first_name"], u.get("last_name")]))}
                for uid, u in self.users.items()
            ]
        )

    async def _groups(self, request: web.Request) -> web.Response:
        """The groups the bot is in (the sandbox page lets a person write in them)."""
        return web.json_response(
            [{"id": chat_id, "title": g["title"]} for chat_id, g in self.groups.items() if g["bot_member"]]
        )

    def _client_chat(self, body: dict[str, Any], user_id: int) -> int | None:
        """The chat a page request is about: the person's private chat, or a group the bot is in."""
        chat_id = int(body.get("chat_id") or user_id)
        if chat_id == user_id or (chat_id in self.groups and self.groups[chat_id]["bot_member"]):
            return chat_id
        return None

    async def _client_send(self, request: web.Request) -> web.Response:
        body = await request.json()
        user_id = int(body["user_id"])
        chat_id = self._client_chat(body, user_id)
        if user_id not in self.users or chat_id is None:
            return web.json_response({"error": "unknown user or chat"}, status=404)
        document = body.get("document")
        if document is not None:  # the page's sample file: a real (tiny) PDF, so the bot can fetch it
            document = {
                "file_name": str(document.get("file_name", "tep"))[:255],
                "mime_type": str(document.get("mime_type", "application/octet-stream"))[:100],
                "content": sample_files.pdf(str(document.get("file_name", "tep"))),
            }
        text = body.get("text")
        if text is not None and not str(text).strip():
            return web.json_response({"error": "empty"}, status=400)
        photo = sample_files.png() if body.get("photo") else None
        message = await self.user_sends(user_id, text, document=document, photo=bool(photo), chat_id=chat_id,
                                        photo_content=photo)  # fmt: skip
        return web.json_response(message.as_json())

    async def _client_press(self, request: web.Request) -> web.Response:
        body = await request.json()
        user_id, message_id = int(body["user_id"]), int(body["message_id"])
        chat_id = self._client_chat(body, user_id)
        chat = self.chat(chat_id) if chat_id is not None else []
        message = next((m for m in chat if m.message_id == message_id and m.from_bot), None)
        if message is None or user_id not in self.users:
            return web.json_response({"error": "unknown message"}, status=404)
        query_id = await self.user_presses(user_id, message, str(body["data"]))
        return web.json_response({"callback_query_id": query_id})

    async def _client_file(self, request: web.Request) -> web.Response:
        """A file the bot uploaded (generated documents), for the sandbox page to download."""
        file_id = request.match_info["file_id"]
        content = self.files.get(file_id)
        if content is None:
            return web.json_response({"error": "unknown file"}, status=404)
        name = next(
            (m.document.get("file_name") for chat in self.messages.values() for m in chat
             if m.document and m.document.get("file_id") == file_id),
            None,
        )  # fmt: skip
        image = "image/png" if content.startswith(b"\x89PNG") else "image/jpeg" if content[:2] == b"\xff\xd8" else ""
        if name is None and image:  # a photo the bot sent (the progress chart): shown in the page
            return web.Response(body=content, content_type=image)
        name = name or file_id
        return web.Response(
            body=content,
            content_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    def _chat_key(self, raw: str) -> int:
        return int(raw)
