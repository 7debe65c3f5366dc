"""The Bot API client under the Telegram channel: aiogram's session, its retries and send window, and a
lean path for the requests every conversation step makes.

`call(bot, "sendMessage", chat_id=…, text=…)` sends the parameters as they are, as one JSON body, and
answers with the result as parsed JSON (a dict, a list…). aiogram's typed methods build and validate a
pydantic model for the request and another for the answer: for a step's few requests that was about a
tenth of the bot's CPU (`make bench-submission`). A refused request still raises aiogram's exceptions
(aiogram reads the refusal), and goes through the same retries and send window as every other request.
The rarer requests (commands, files, webhooks) keep aiogram's typed methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, cast

from aiogram import Bot, methods
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiohttp import ClientError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential

from bot.channels.limits import SendWindow
from handlers.events import FileRef

_backoff = wait_exponential(multiplier=0.2, max=5)
RETRYABLE = (TelegramRetryAfter, TelegramServerError, TelegramNetworkError)


def _wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, TelegramRetryAfter):
        return float(error.retry_after)
    return _backoff(state)


def _first_delay(error: Exception) -> float:
    return float(error.retry_after) if isinstance(error, TelegramRetryAfter) else _backoff.multiplier


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
        except RETRYABLE as error:
            if self.attempts <= 1:
                raise
            await asyncio.sleep(_first_delay(error))
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(RETRYABLE),
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


def _pin_response_models() -> list[type]:
    """Keep aiogram's parametrised `Response[T]` models alive, for the requests this bot makes.

    aiogram builds `Response[method.__returning__]` on every call and pydantic caches generic models
    only weakly, so after each garbage collection they are rebuilt (about 3 ms each): a quarter of the
    bot's CPU in `make bench`. Strong references keep pydantic's cache warm. Only the bot's own requests:
    every method's would build all of aiogram's types at import (33 MB, bot/channels/lazy_aiogram.py); one
    not pinned still works, rebuilt after a collection.
    """
    typed = (methods.GetMe, methods.SetMyCommands, methods.DeleteWebhook, methods.SetWebhook, methods.GetFile,
             methods.SendDocument, methods.SendPhoto)  # fmt: skip
    return [methods.Response[Any], *(methods.Response[method.__returning__] for method in typed)]


_RESPONSE_MODELS = _pin_response_models()


class RawCall(TelegramMethod[Any]):
    """A request given as its JSON parameters (`call`); one subclass per API method, for the middlewares."""

    __returning__: ClassVar[Any] = Any
    __api_method__: ClassVar[str] = ""
    params: dict[str, Any]

    @property
    def chat_id(self) -> Any:
        """The chat the request is for (aiogram names it in a flood-control error)."""
        return self.params.get("chat_id")


@functools.cache
def _raw_method(name: str) -> type[RawCall]:
    """The request class of one API method, named as aiogram names its own (`sendMessage` → `SendMessage`)."""
    return cast(type[RawCall], type(name[:1].upper() + name[1:], (RawCall,), {"__api_method__": name}))


async def call(bot: Bot, method: str, **params: Any) -> Any:
    """The Bot API's `method` with these JSON parameters (None values left out); its result as parsed JSON."""
    request = _raw_method(method).model_construct(params={k: v for k, v in params.items() if v is not None})
    return await bot(request)


class JsonBodySession(AiohttpSession):
    """aiogram's session sending a request without files as one JSON body, which the Bot API takes
    (application/json), instead of the form aiogram builds for every request (a field per parameter, nested
    objects encoded as JSON strings, the whole URL-encoded): a share of each step's CPU. A request with a
    file keeps aiogram's multipart form. A `RawCall`'s answer is returned as parsed JSON when it succeeds;
    any other answer, and every refusal, is read and checked by aiogram as before."""

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        if isinstance(method, RawCall):
            payload = method.params
        else:
            files: dict[str, Any] = {}
            payload = {}
            for key, value in method.model_dump(warnings=False).items():
                prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
                if prepared is not None and prepared != "":  # what aiogram's form leaves out
                    payload[key] = prepared
            if files:
                return await super().make_request(bot, method, timeout)
        status, content = await self._post(bot, method, payload, timeout)
        if isinstance(method, RawCall) and status == 200:
            with contextlib.suppress(ValueError):
                answer = self.json_loads(content)
                if isinstance(answer, dict) and answer.get("ok") is True and "result" in answer:
                    return cast(TelegramType, answer["result"])
        checked = self.check_response(bot=bot, method=method, status_code=status, content=content)
        return cast(TelegramType, checked.result)

    async def _post(
        self, bot: Bot, method: TelegramMethod[Any], payload: dict[str, Any], timeout: int | None
    ) -> tuple[int, str]:
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(url, data=self.json_dumps(payload), headers=_JSON_BODY,
                                    timeout=self.timeout if timeout is None else timeout) as response:  # fmt: skip
                return response.status, await response.text()
        except TimeoutError as error:
            raise TelegramNetworkError(method=method, message="Request timeout error") from error
        except ClientError as error:
            raise TelegramNetworkError(method=method, message=f"{type(error).__name__}: {error}") from error


_JSON_BODY = {"Content-Type": "application/json"}


SENDS_PER_SECOND = 30  # Telegram's limit for a bot, all chats together


def make_bot(token: str, api_url: str | None, window: SendWindow | None = None) -> Bot:
    """`window`: the bot's sending window, shared out when several processes send (bot/limit_sharing.py)."""
    session = JsonBodySession(api=TelegramAPIServer.from_base(api_url)) if api_url else JsonBodySession()
    session.middleware(RetryMiddleware())
    # inside the retries: each attempt takes its place
    session.middleware(SendWindowMiddleware(window or SendWindow(SENDS_PER_SECOND)))
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
