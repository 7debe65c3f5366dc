"""What the Telegram and Zalo emulators share: the chats they hold, waiting for a message, serving pages.

Every stored or edited message gets the next sequence number, so tests and the sandbox page can wait for
"a bot message after the last one I saw" without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import aiohttp
from aiohttp import web


class LoggedMessage(Protocol):
    chat_id: Any
    from_bot: bool
    seq: int

    @property
    def plain_text(self) -> str: ...

    def as_json(self) -> dict[str, Any]: ...


class ChatLog:
    def __init__(self) -> None:
        self.messages: dict[Any, list[Any]] = {}
        self.bots: dict[str, Any] = {}  # token → the emulator's state of that bot (with .arrived, .polls)
        self._seq = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._stopping = False
        self.url = ""

    async def stop(self) -> None:
        """Stop serving; long polls still waiting are answered at once instead of at their timeout."""
        self._stopping = True
        for bot in self.bots.values():
            bot.arrived.set()
        async with self._changed:  # the page's long polls, each waiting for its chat to change
            self._changed.notify_all()
        for task in list(self._background):
            task.cancel()
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` (a webhook delivery) without waiting for it; cancelled on stop."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _client_http(self) -> aiohttp.ClientSession:
        """The emulator's own HTTP client (webhook deliveries, fetching photos by URL)."""
        if self._http is None:
            self._http = aiohttp.ClientSession()
        return self._http

    def app(self) -> web.Application:
        raise NotImplementedError

    def add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self, host: str = "127.0.0.1", port: int = 0, *, sharing: tuple[ChatLog, ...] = ()) -> str:
        """Serve on `host:port` (0: any free port); `sharing` emulators are served by the same app."""
        app = self.app()
        for other in sharing:
            other.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{host}:{bound}"
        for other in sharing:
            other.url = self.url
        return self.url

    async def _store(self, message: Any) -> Any:
        """Add a message to its chat (or mark an edited one changed): either way it gets a new sequence number."""
        async with self._changed:
            self._seq += 1
            message.seq = self._seq
            chat = self.messages.setdefault(message.chat_id, [])
            if message not in chat:
                chat.append(message)
            self._changed.notify_all()
        return message

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def chat(self, chat_id: Any) -> list[Any]:
        return self.messages.get(chat_id, [])

    @property
    def seq(self) -> int:
        return self._seq

    async def wait_for(
        self,
        chat_id: Any,
        predicate: Callable[[Any], bool],
        *,
        after_seq: int = 0,
        timeout: float = 15.0,
    ) -> Any:
        """Wait until a bot message (new or edited after `after_seq`) in the chat satisfies predicate."""

        def found() -> Any:
            for message in self.chat(chat_id):
                if message.from_bot and message.seq > after_seq and predicate(message):
                    return message
            return None

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: found() is not None), timeout)
            except TimeoutError:
                recent = [m.plain_text[:120] for m in self.chat(chat_id) if m.from_bot][-5:]
                raise AssertionError(
                    f"no matching bot message in chat {chat_id}; last bot messages: {recent}"
                ) from None
            result = found()
            assert result is not None
            return result

    async def wait_until_polled(self, token: str, polls: int = 1, timeout: float = 30.0) -> None:
        """Wait until the bot has asked for updates at least `polls` times (i.e. it is running)."""
        bot = self.bots[token]
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: bot.polls >= polls), timeout)

    def _chat_key(self, raw: str) -> Any:
        """A chat id as it appears in a page's URL, as this emulator keys its chats."""
        return raw

    async def _client_poll(self, request: web.Request) -> web.Response:
        """Long poll for the sandbox page: messages of the chat changed after `since`, up to `timeout` s."""
        try:
            chat_id = self._chat_key(request.match_info["chat_id"])
        except ValueError:
            return web.json_response({"error": "bad chat id"}, status=400)
        since = int(request.query.get("since", "0"))
        timeout = min(float(request.query.get("timeout", "25")), 60.0)

        def changed() -> list[Any]:
            return [m for m in self.chat(chat_id) if m.seq > since]

        async with self._changed:
            if not changed():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait_for(lambda: self._stopping or bool(changed())), timeout)
            messages = changed()
        return web.json_response({"seq": self._seq, "messages": [m.as_json() for m in messages]})
