"""A thin async client for the Zalo Bot API (no third-party SDK: the published ones are incomplete).

Zalo's quirks, handled here so the channel does not see them: every reply is checked for `ok` (not only
the HTTP status); `getUpdates` returns one update or none (`408` when idle is not an error) and has no
offset; bodies come wrapped (`{"ok", "result"}`) or flat; texts over 2000 characters are split at line
boundaries; 429 (no published limits, no retry_after) backs off exponentially. The token sits in the URL
path: it is never put in an exception or a log line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from bot.channels.text import split_text

log = logging.getLogger(__name__)
DEFAULT_API_URL = "https://bot-api.zaloplatforms.com"
TEXT_LIMIT = 2000
IDLE = 408


class ZaloApiError(Exception):
    def __init__(self, method: str, code: int, description: str) -> None:
        super().__init__(f"Zalo {method}: {code} {description}")
        self.method, self.code, self.description = method, code, description


def transient(error: BaseException) -> bool:
    """A failure worth trying again: Zalo busy (429) or failing (5xx), or the network."""
    if isinstance(error, ZaloApiError):
        return error.code == 429 or error.code >= 500
    return isinstance(error, aiohttp.ClientError | TimeoutError)


@dataclass(frozen=True)
class ZaloMessage:
    """One incoming Zalo update, normalised (ids as strings, the date in milliseconds)."""

    event_name: str
    message_id: str
    user_id: str
    display_name: str
    chat_id: str
    is_group: bool
    date_ms: int
    text: str = ""
    photo_url: str = ""

    @property
    def update_key(self) -> str:
        """Zalo has no update id and replays happen: a message is identified by event and message id."""
        return f"{self.event_name}:{self.message_id}"


def parse_updates(body: Any) -> list[ZaloMessage]:
    """Updates from a getUpdates reply or a webhook body: wrapped or flat, one update or a list."""
    if isinstance(body, dict) and "result" in body and "message" not in body:
        body = body["result"]
    items = body if isinstance(body, list) else [body]
    messages = []
    for item in items:
        message = parse_update(item)
        if message is not None:
            messages.append(message)
    return messages


def parse_update(update: Any) -> ZaloMessage | None:
    if not isinstance(update, dict) or not isinstance(update.get("message"), dict):
        return None
    message = update["message"]
    sender = message.get("from") if isinstance(message.get("from"), dict) else {}
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
    user_id = str(sender.get("id") or chat.get("id") or "")
    if not user_id:
        return None
    text = message.get("text")
    photo = message.get("photo_url") or message.get("photo") or ""
    if isinstance(photo, list):  # a Telegram-style list of sizes, just in case
        photo = photo[-1].get("url", "") if photo and isinstance(photo[-1], dict) else ""
    event_name = str(update.get("event_name") or _guess_event(text, photo, message))
    return ZaloMessage(
        event_name=event_name,
        message_id=str(message.get("message_id") or message.get("msg_id") or ""),
        user_id=user_id,
        display_name=str(sender.get("display_name") or sender.get("first_name") or sender.get("name") or ""),
        chat_id=str(chat.get("id") or user_id),
        is_group=str(chat.get("chat_type", "PRIVATE")).upper() == "GROUP",
        date_ms=_milliseconds(message.get("date")),
        text=text if isinstance(text, str) else str(message.get("caption") or ""),
        photo_url=str(photo) if isinstance(photo, str) else "",
    )


def _milliseconds(value: Any) -> int:
    """Zalo's `date` (milliseconds since the epoch); anything else (a string like "yesterday") is 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int | float):
        return int(value) if 0 <= value < 10**15 else 0
    return int(value) if isinstance(value, str) and value.isascii() and value.isdecimal() and len(value) < 16 else 0


def _guess_event(text: Any, photo: Any, message: dict[str, Any]) -> str:
    if isinstance(text, str) and text:
        return "message.text.received"
    if photo:
        return "message.image.received"
    if message.get("sticker"):
        return "message.sticker.received"
    return "message.unsupported.received"


class ZaloClient:
    def __init__(self, token: str, api_url: str | None = None, attempts: int = 4) -> None:
        self._token = token
        self.api_url = (api_url or DEFAULT_API_URL).rstrip("/")
        self.attempts = attempts
        self._session: aiohttp.ClientSession | None = None

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(self, method: str, payload: dict[str, Any] | None = None, *, timeout: float = 30.0) -> Any:
        """One API call with retries on 429 / 5xx / network errors; returns `result` (or raises)."""
        retrying = AsyncRetrying(
            retry=retry_if_exception(transient),
            wait=wait_exponential(multiplier=0.5, max=10),
            stop=stop_after_attempt(self.attempts),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._call_once(method, payload or {}, timeout)
        raise AssertionError("unreachable")

    async def _call_once(self, method: str, payload: dict[str, Any], timeout: float) -> Any:
        session = await self._http()
        url = f"{self.api_url}/bot{self._token}/{method}"
        try:
            async with session.post(url, json=payload, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                status = response.status
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = None
        except aiohttp.ClientError as error:
            # aiohttp's messages carry the URL, and the URL carries the token: say only what failed.
            raise aiohttp.ClientError(f"Zalo {method}: {type(error).__name__}") from None
        if not isinstance(body, dict):
            raise ZaloApiError(method, status if status >= 400 else 502, "not a JSON object")
        if body.get("ok") is True:
            return body.get("result")
        code = int(body.get("error_code") or (status if status >= 400 else 400))
        raise ZaloApiError(method, code, str(body.get("description") or ""))

    # --- the methods the bot uses ------------------------------------------------------------------

    async def get_me(self) -> dict[str, Any]:
        return await self.call("getMe") or {}

    async def get_updates(self, timeout: int = 30) -> list[ZaloMessage]:
        """Waits up to `timeout` s for the next update; [] when nothing came (Zalo's 408)."""
        try:
            result = await self._call_once("getUpdates", {"timeout": str(timeout)}, timeout + 10)
        except ZaloApiError as error:
            if error.code == IDLE:
                return []
            raise
        return parse_updates(result) if result else []

    async def set_webhook(self, url: str, secret_token: str) -> Any:
        return await self.call("setWebhook", {"url": url, "secret_token": secret_token})

    async def delete_webhook(self) -> Any:
        return await self.call("deleteWebhook")

    async def get_webhook_info(self) -> dict[str, Any]:
        return await self.call("getWebhookInfo") or {}

    async def send_message(self, chat_id: str, text: str) -> str:
        """Send a text (split into several messages over 2000 characters); the last message's id."""
        message_id = ""
        for chunk in split_text(text, TEXT_LIMIT):
            result = await self.call("sendMessage", {"chat_id": chat_id, "text": chunk})
            message_id = str((result or {}).get("message_id", ""))
        return message_id

    async def send_photo(self, chat_id: str, photo_url: str, caption: str = "") -> str:
        payload = {"chat_id": chat_id, "photo": photo_url}
        if caption:
            payload["caption"] = split_text(caption, TEXT_LIMIT)[0]
        result = await self.call("sendPhoto", payload)
        return str((result or {}).get("message_id", ""))

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> None:
        await self.call("sendChatAction", {"chat_id": chat_id, "action": action})
