"""A local Zalo Bot API emulator (aiohttp, loopback) for the sandbox and the tests.

It speaks the dialect described in `shared/zalo-bot-api.md`, quirks included, so the client is tested
against what the real platform does: `getUpdates` hands out one update per call and has no offset (a
delivered update is gone), answers `ok:false, error_code 408` when nothing arrived; ids are 20-hex-digit
strings and dates milliseconds; texts and captions are 1–2000 characters; there are no buttons; a user's
chat can be written to only after they wrote first; in groups the bot only hears messages that mention
it; webhooks carry `X-Bot-Api-Secret-Token` and bodies come flat or wrapped; photos are sent by URL (the
emulator fetches them, as Zalo does). Everything is served under `/zalo/`, so it can share a port with
the Telegram emulator (the sandbox).

People use it through `/zalo/_emu/` (the sandbox page and the tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from bot.sandbox.chat_log import ChatLog

PREFIX = "/zalo"
TEXT_LIMIT = 2000
# A 1×1 PNG: what a person "sends" as a photo.
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf000000030101009a5c2a4e0000000049454e44ae426082"
)
METHODS: dict[str, tuple[set[str], set[str]]] = {
    # method: (required fields, optional fields)
    "getMe": (set(), set()),
    "getUpdates": (set(), {"timeout"}),
    "setWebhook": ({"url", "secret_token"}, set()),
    "deleteWebhook": (set(), set()),
    "getWebhookInfo": (set(), set()),
    "sendMessage": ({"chat_id", "text"}, set()),
    "sendPhoto": ({"chat_id", "photo"}, {"caption"}),
    "sendSticker": ({"chat_id", "sticker"}, set()),
    "sendChatAction": ({"chat_id", "action"}, set()),
}


def zalo_id(number: int) -> str:
    """A Zalo-style id: 20 hex digits."""
    return f"{number:020x}"


class ZaloError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description


@dataclass
class ZaloStoredMessage:
    chat_id: str
    message_id: str
    from_bot: bool
    sender_id: str
    date_ms: int
    text: str = ""
    photo_url: str = ""
    seq: int = 0
    edited: bool = False  # Zalo messages cannot be edited; kept for the shared page code

    @property
    def plain_text(self) -> str:
        return self.text

    def as_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "seq": self.seq,
            "from_bot": self.from_bot,
            "text": self.text,
            "photo_url": self.photo_url,
            "sender_id": self.sender_id,
            "date": self.date_ms,
        }


@dataclass
class ZaloBot:
    token: str
    bot_id: str
    name: str
    pending: deque[dict[str, Any]] = field(default_factory=deque)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    polls: int = 0
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_updated_at: int = 0


@dataclass
class ZaloFault:
    method: str
    code: int
    description: str
    remaining: int


class ZaloEmulator(ChatLog):
    def __init__(self, webhook_shape: str = "alternate") -> None:
        super().__init__()
        self.users: dict[str, str] = {}  # id → display name
        self.groups: dict[str, dict[str, Any]] = {}  # id → title, whether the bot is in it
        self.known_chats: set[str] = set()  # chats the bot may write to (the person wrote first)
        self.blocked: set[str] = set()
        self.media: dict[str, bytes] = {}  # what people sent (photos), by id
        self.fetched: dict[str, bytes] = {}  # what the bot's photos' URLs served, by message id
        self.delivered: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.faults: list[ZaloFault] = []
        self.webhook_shape = webhook_shape  # "flat", "wrapped" or "alternate", as seen from the real platform
        self.webhook_responses: list[int] = []
        self.webhook_shapes: list[str] = []
        self._ids = itertools.count(0xA11CE0000)
        self._shapes = itertools.cycle(("flat", "wrapped"))

    @property
    def api_url(self) -> str:
        """What the bot is given as ZALO_API_URL."""
        return self.url + PREFIX

    # --- lifecycle -------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        self.add_routes(app)
        return app

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", PREFIX + "/bot{token}/{method}", self._bot_api)
        app.router.add_get(PREFIX + "/media/{media_id}", self._media)
        app.router.add_get(PREFIX + "/_emu/personas", self._personas)
        app.router.add_get(PREFIX + "/_emu/groups", self._groups)
        app.router.add_post(PREFIX + "/_emu/send", self._client_send)
        app.router.add_get(PREFIX + "/_emu/chats/{chat_id}", self._client_poll)

    def number_messages_from(self, first: int) -> None:
        """Number the next messages (and media) from `first`, if above the numbers still to come."""
        self._ids = itertools.count(max(first, next(self._ids)))

    def add_bot(self, token: str, name: str = "Sáng kiến Bot") -> ZaloBot:
        bot = ZaloBot(token=token, bot_id=zalo_id(next(self._ids)), name=name)
        self.bots[token] = bot
        return bot

    def add_user(self, display_name: str, user_id: str | None = None) -> str:
        user_id = user_id or zalo_id(next(self._ids))
        self.users[user_id] = display_name
        return user_id

    def add_group(self, title: str, *, bot_member: bool = True, group_id: str | None = None) -> str:
        group_id = group_id or zalo_id(next(self._ids))
        self.groups[group_id] = {"title": title, "bot_member": bot_member}
        self.known_chats.add(group_id)
        return group_id

    def block_bot(self, user_id: str) -> None:
        self.blocked.add(user_id)

    def inject_fault(self, method: str, code: int, description: str = "", count: int = 1) -> None:
        self.faults.append(ZaloFault(method, code, description or {429: "Quota exceeded"}.get(code, "Error"), count))

    def _bot(self, token: str | None = None) -> ZaloBot:
        return self.bots[token] if token is not None else next(iter(self.bots.values()))

    # --- people's side ---------------------------------------------------------------------------

    def _message(self, user_id: str, chat_id: str, **content: Any) -> dict[str, Any]:
        return {
            "from": {"id": user_id, "display_name": self.users[user_id], "is_bot": False},
            "chat": {"id": chat_id, "chat_type": "GROUP" if chat_id in self.groups else "PRIVATE"},
            "message_id": zalo_id(next(self._ids)),
            "date": int(time.time() * 1000),
            **content,
        }

    async def user_sends(
        self,
        user_id: str,
        text: str | None = None,
        *,
        photo: bool = False,
        sticker: bool = False,
        unsupported: bool = False,
        chat_id: str | None = None,
        token: str | None = None,
        photo_bytes: bytes = TINY_PNG,
    ) -> ZaloStoredMessage:
        """A person writes to the bot, privately or in a group (where only a mention of the bot reaches it);
        a photo is `photo_bytes` (a tiny PNG unless said)."""
        bot = self._bot(token)
        chat_id = chat_id or user_id
        if text is not None:
            event, content = "message.text.received", {"text": text}
        elif photo:
            media_id = zalo_id(next(self._ids))
            self.media[media_id] = photo_bytes
            event, content = "message.image.received", {"photo_url": f"{self.api_url}/media/{media_id}"}
        elif sticker:
            event, content = "message.sticker.received", {"sticker": "0e078a2fb66a5f34067b"}
        else:
            assert unsupported, "say what the person sends"
            event, content = "message.unsupported.received", {}
        message = self._message(user_id, chat_id, **content)
        stored = ZaloStoredMessage(chat_id, message["message_id"], False, user_id, message["date"],
                                   text=text or ("🖼" if photo else "👍" if sticker else "…"),
                                   photo_url=content.get("photo_url", ""))  # fmt: skip
        await self._store(stored)
        if chat_id in self.groups:
            if not self.groups[chat_id]["bot_member"] or not (text or "").startswith("@"):
                return stored  # the bot hears only what mentions it
        else:
            self.known_chats.add(user_id)
        self._deliver(bot, {"event_name": event, "message": message})
        return stored

    def redeliver_last(self, token: str | None = None) -> dict[str, Any]:
        """Zalo replays an update it already delivered (it happens): the same event and message id again."""
        bot = self._bot(token)
        update = self.delivered[-1]
        self._deliver(bot, update)
        return update

    def _deliver(self, bot: ZaloBot, update: dict[str, Any]) -> None:
        if bot.webhook_url:
            self._in_background(self._post_webhook(bot, update))
        else:
            bot.pending.append(update)
            bot.arrived.set()

    async def _post_webhook(self, bot: ZaloBot, update: dict[str, Any]) -> None:
        shape = self.webhook_shape if self.webhook_shape != "alternate" else next(self._shapes)
        body = update if shape == "flat" else {"ok": True, "result": update}
        self.webhook_shapes.append(shape)
        http = await self._client_http()
        headers = {"X-Bot-Api-Secret-Token": bot.webhook_secret}
        try:
            async with http.post(bot.webhook_url, json=body, headers=headers) as response:
                self.webhook_responses.append(response.status)
        except aiohttp.ClientError:
            self.webhook_responses.append(0)  # nobody listening: the update is lost, as with Zalo
            return
        self.delivered.append(update)

    # --- the Bot API -----------------------------------------------------------------------------

    async def _bot_api(self, request: web.Request) -> web.Response:
        bot = self.bots.get(request.match_info["token"])
        method = request.match_info["method"]
        if bot is None:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"})
        try:
            params = await self._params(request)
            self._validate(method, params)
            self.calls.append((method, params))
            self._fault(method)
            if method == "getUpdates":
                result = await self._get_updates(bot, params, request)
            else:
                result = await getattr(self, f"_m_{method}")(bot, params)
        except ZaloError as error:
            # Zalo answers errors in the body; the HTTP status is not to be relied on.
            return web.json_response({"ok": False, "error_code": error.code, "description": error.description})
        body: dict[str, Any] = {"ok": True}
        if result is not None:
            body["result"] = result
        return web.json_response(body)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.method == "GET":
            return dict(request.query)
        raw = await request.read()
        if not raw:
            return {}
        if request.content_type == "application/json":
            try:
                params = json.loads(raw)
            except ValueError as error:
                raise ZaloError(400, "Bad Request: body is not JSON") from error
            if not isinstance(params, dict):
                raise ZaloError(400, "Bad Request: body is not an object")
            return params
        return dict(await request.post())

    def _validate(self, method: str, params: dict[str, Any]) -> None:
        if method not in METHODS:
            raise ZaloError(404, f"Not Found: method {method}")
        required, optional = METHODS[method]
        missing = required - set(params)
        if missing:
            raise ZaloError(400, f"Bad Request: {sorted(missing)[0]} is required")
        unknown = set(params) - required - optional
        if unknown:
            raise ZaloError(400, f"Bad Request: unknown parameter {sorted(unknown)[0]}")
        for name in ("chat_id", "text", "caption", "photo", "url", "secret_token"):
            if name in params and not isinstance(params[name], str):
                raise ZaloError(400, f"Bad Request: {name} must be a string")

    def _fault(self, method: str) -> None:
        for fault in self.faults:
            if fault.method == method and fault.remaining > 0:
                fault.remaining -= 1
                raise ZaloError(fault.code, fault.description)

    async def _m_getMe(self, bot: ZaloBot, params: dict[str, Any]) -> Any:
        return {"id": bot.bot_id, "account_name": bot.name, "account_type": "BASIC", "can_join_groups": True}

    async def _get_updates(self, bot: ZaloBot, params: dict[str, Any], request: web.Request) -> Any:
        if bot.webhook_url:
            raise ZaloError(400, "Bad Request: webhook is set, delete it to use getUpdates")
        timeout = float(params.get("timeout") or 30)
        async with self._changed:
            bot.polls += 1
            self._changed.notify_all()
        if not bot.pending and not self._stopping:
            bot.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(bot.arrived.wait(), timeout)
        if not bot.pending or request.transport is None or request.transport.is_closing():
            raise ZaloError(408, "Request Timeout")  # (a poll whose client went away gets nothing)
        update = bot.pending.popleft()  # no offset: once handed out, it is gone
        self.delivered.append(update)
        return update

    async def _m_setWebhook(self, bot: ZaloBot, params: dict[str, Any]) -> Any:
        if not params["url"].startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ZaloError(400, "Bad Request: url must be HTTPS")
        if not 8 <= len(params["secret_token"]) <= 256:
            raise ZaloError(400, "Bad Request: secret_token must be 8-256 characters")
        bot.webhook_url, bot.webhook_secret = params["url"], params["secret_token"]
        bot.webhook_updated_at = int(time.time() * 1000)
        while bot.pending:  # what waited for polling goes to the webhook now
            self._deliver(bot, bot.pending.popleft())
        return {"url": bot.webhook_url, "updated_at": bot.webhook_updated_at}

    async def _m_deleteWebhook(self, bot: ZaloBot, params: dict[str, Any]) -> Any:
        bot.webhook_url, bot.webhook_secret = "", ""
        bot.webhook_updated_at = int(time.time() * 1000)
        return {"url": "", "updated_at": bot.webhook_updated_at}

    async def _m_getWebhookInfo(self, bot: ZaloBot, params: dict[str, Any]) -> Any:
        return {"url": bot.webhook_url, "updated_at": bot.webhook_updated_at}

    def _target(self, params: dict[str, Any]) -> str:
        chat_id = params["chat_id"]
        if chat_id in self.blocked:
            raise ZaloError(403, "Forbidden: the user has blocked the bot")
        if chat_id not in self.known_chats:
            raise ZaloError(400, "Bad Request: chat not found (the person has not written to the bot)")
        if chat_id in self.groups and not self.groups[chat_id]["bot_member"]:
            raise ZaloError(403, "Forbidden: the bot is not in this group")
        return chat_id

    @staticmethod
    def _check_text(text: str, what: str) -> None:
        if not 1 <= len(text) <= TEXT_LIMIT:
            raise ZaloError(400, f"Bad Request: {what} must be 1-{TEXT_LIMIT} characters, got {len(text)}")

    async def _sent(self, bot: ZaloBot, chat_id: str, text: str, photo_url: str = "") -> dict[str, Any]:
        message = ZaloStoredMessage(chat_id, zalo_id(next(self._ids)), True, bot.bot_id, int(time.time() * 1000),
                                    text=text, photo_url=photo_url)  # fmt: skip
        await self._store(message)
        return {"message_id": message.message_id, "date": message.date_ms}

    async def _m_sendMessage(self, bot: ZaloBot, params: dict[str, Any]) -> Any:
        chat_id = self._target(params)
        self._check_text(params["text"], "text")
        return await self._sent(bot, chat_id, params["text"])

    async def _m_sendPhoto(self, bot: ZaloBot, params: dict[str, Any]) -> Any:
        chat_id = self._target(params)
        caption = params.get("caption", "")
        if caption:
            self._check_text(caption, "caption")
        content = await self._fetch(params["photo"])
        result = await self._sent(bot, chat_id, caption, photo_url=params["photo"])
        self.fetched[result["message_id"]] = content
        return result

    async def _fetch(self, url: str) -> bytes:
        http = await self._client_http()
        try:
            async with http.get(url) as response:
                if response.status != 200:
                    raise ZaloError(400, f"Bad Request: photo URL answered {response.status}")
                return await response.read()
        except aiohttp.ClientError as error:
            raise ZaloError(400, "Bad Request: photo URL cannot be fetched") from error

    async def _m_sendSticker(self, bot: ZaloBot, params: dict[str, Any]) -> Any:
        return await self._sent(bot, self._target(params), "[sticker]")

    async def _m_sendChatAction(self, bot: ZaloBot, params: dict[str, Any]) -> Any:
        self._target(params)
        return None

    # --- the page's side -------------------------------------------------------------------------

    async def _media(self, request: web.Request) -> web.Response:
        content = self.media.get(request.match_info["media_id"])
        if content is None:
            return web.Response(status=404)
        return web.Response(body=content, content_type="image/png")

    async def _personas(self, request: web.Request) -> web.Response:
        return web.json_response([{"id": uid, "name": name} for uid, name in self.users.items()])

    async def _groups(self, request: web.Request) -> web.Response:
        return web.json_response(
            [{"id": gid, "title": g["title"]} for gid, g in self.groups.items() if g["bot_member"]]
        )

    async def _client_send(self, request: web.Request) -> web.Response:
        body = await request.json()
        user_id = str(body.get("user_id", ""))
        chat_id = str(body.get("chat_id") or user_id)
        if user_id not in self.users or (chat_id != user_id and chat_id not in self.groups):
            return web.json_response({"error": "unknown user or chat"}, status=404)
        text = body.get("text")
        if text is not None and not str(text).strip():
            return web.json_response({"error": "empty"}, status=400)
        message = await self.user_sends(
            user_id,
            str(text) if text is not None else None,
            photo=bool(body.get("photo")),
            sticker=bool(body.get("sticker")),
            unsupported=not (text or body.get("photo") or body.get("sticker")),
            chat_id=chat_id,
        )
        return web.json_response(message.as_json())
