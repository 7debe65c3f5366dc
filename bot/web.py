"""The bot's one web app (aiohttp): the two webhooks, /healthz, stored files, the chairs' review pages.

Webhooks check their platform's secret header in constant time (401 otherwise), answer 200 at once and
hand the update to the channel's per-person queue; the work happens after the response, so a slow
database never makes Telegram or Zalo retry.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy import text

from bot import dossier_pages, metrics, review_pages
from bot.channels.zalo_client import parse_updates
from bot.logging_setup import CURRENT_TENANT
from storage import files

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)
TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ZALO_SECRET_HEADER = "X-Bot-Api-Secret-Token"
TELEGRAM_WEBHOOK_PATH = "/webhook/telegram"
ZALO_WEBHOOK_PATH = "/webhook/zalo"


def secret_matches(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; no secret configured means no webhook."""
    return bool(expected) and hmac.compare_digest((given or "").encode(), (expected or "").encode())


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# Anything that is not one of our pages (files, JSON) may run nothing and load nothing.
FILE_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'"


async def _security_headers(_request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Content-Security-Policy", FILE_CSP)


def _new_app() -> web.Application:
    app = web.Application(client_max_size=10 * 1024 * 1024)
    app.on_response_prepare.append(_security_headers)
    return app


def build_app(runtime: Runtime, *, alone: bool = True) -> web.Application:
    """One bot's web app (`alone` False: a tenant's pages; the deployment's app routes its webhooks and
    answers /healthz and /metrics for all)."""
    app = _new_app()
    if alone:
        app.router.add_get("/healthz", _healthz([runtime]))
        app.router.add_get("/metrics", metrics.route([runtime.services]))
    if alone and runtime.telegram is not None:
        app.router.add_post(TELEGRAM_WEBHOOK_PATH, _telegram_webhook(runtime))
    if alone and runtime.zalo is not None:
        app.router.add_post(ZALO_WEBHOOK_PATH, _zalo_webhook(runtime))
    _add_pages(app, runtime)
    return app


def _add_pages(app: web.Application, runtime: Runtime) -> None:
    """The pages a bot links to: stored files, the chairs' review pages, the dossier page."""
    app.router.add_get("/f/{token}/{name}", _file(runtime))
    review_pages.add_routes(app, runtime.services)
    dossier_pages.add_routes(app, runtime.services)


def build_tenants_app(runtimes: list[Runtime]) -> web.Application:
    """The web app of a deployment serving several tenants: each tenant's webhooks at
    /webhook/<tenant>/telegram and /webhook/<tenant>/zalo, its pages (review links, files) under /t/<tenant>/
    (its `public_url`), and one /healthz and /metrics for all."""
    app = _new_app()
    app.router.add_get("/healthz", _healthz(runtimes))
    app.router.add_get("/metrics", metrics.route([runtime.services for runtime in runtimes]))
    for runtime in runtimes:
        tenant = runtime.services.config.tenant
        if runtime.telegram is not None:
            app.router.add_post(f"/webhook/{tenant}/telegram", _as_tenant(tenant, _telegram_webhook(runtime)))
        if runtime.zalo is not None:
            app.router.add_post(f"/webhook/{tenant}/zalo", _as_tenant(tenant, _zalo_webhook(runtime)))
        pages = build_app(runtime, alone=False)
        pages.middlewares.append(_tagged_with(tenant))
        app.add_subapp(f"/t/{tenant}/", pages)
        if runtime.services.config.tenant_existing:  # links sent before tenants were declared still open
            _add_pages(app, runtime)
    return app


def _tagged_with(tenant: str | None) -> Any:
    """A middleware naming the tenant in the log lines of its pages' requests."""

    @web.middleware
    async def tag(request: web.Request, handler: Handler) -> web.StreamResponse:
        CURRENT_TENANT.set(tenant)
        return await handler(request)

    return tag


def _as_tenant(tenant: str | None, handler: Handler) -> Handler:
    """The handler with the tenant named in its log lines (and in those of the work it starts)."""

    async def tagged(request: web.Request) -> web.StreamResponse:
        CURRENT_TENANT.set(tenant)
        return await handler(request)

    return tagged


async def serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Start serving `app`; the runner (to clean up) and the local address it listens on."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)  # requests in flight, at a stop
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()  # type: ignore[union-attr]
    return runner, f"http://{bound[0]}:{bound[1]}"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _healthz(runtimes: list[Runtime]) -> Handler:
    async def healthz(request: web.Request) -> web.Response:
        for runtime in runtimes:
            try:
                async with runtime.services.sessions() as session:
                    await session.execute(text("SELECT 1"))
            except Exception as error:
                log.warning("health check: database unavailable: %s", type(error).__name__)
                return web.json_response({"ok": False, "database": "unavailable"}, status=503)
        channels = sorted({name for runtime in runtimes for name in runtime.senders})
        return web.json_response({"ok": True, "database": "ok", "channels": channels})

    return healthz


def _file(runtime: Runtime) -> Handler:
    async def serve_file(request: web.Request) -> web.Response:
        services = runtime.services
        async with services.sessions() as session:
            stored = await files.by_token(session, request.match_info["token"], services.clock())
        if stored is None:
            return web.Response(status=404, text="Tệp không tồn tại hoặc đã hết hạn.")
        return review_pages.file_response(stored.content, stored.mime_type, stored.file_name)

    return serve_file


async def _json_body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _webhook(header: str, secret: str | None, feed: Callable[[Any], Awaitable[bool]]) -> Handler:
    """A platform's webhook: its secret header checked, the body handed on, 200 at once (an empty probe
    too); a body that is not an update the platform would send is answered 400, never 500."""

    async def webhook(request: web.Request) -> web.Response:
        if not secret_matches(request.headers.get(header), secret):
            return web.Response(status=401, text="unauthorized")
        body = await _json_body(request)
        if body is not None and not await feed(body):
            log.warning("webhook %s: a body that is not an update was refused", request.path)
            return web.Response(status=400, text="not an update")
        return web.Response(text="ok")

    return webhook


def _telegram_webhook(runtime: Runtime) -> Handler:
    async def feed(body: Any) -> bool:
        return isinstance(body, dict) and runtime.telegram is not None and await runtime.telegram.feed(body)

    return _webhook(TELEGRAM_SECRET_HEADER, runtime.services.config.telegram_webhook_secret, feed)


def _zalo_webhook(runtime: Runtime) -> Handler:
    async def feed(body: Any) -> bool:
        messages = parse_updates(body)
        if runtime.zalo is not None and messages:
            await runtime.zalo.keep(messages)  # kept before the 200: Zalo does not send an update twice
            for message in messages:
                runtime.zalo.submit(message)
        return bool(messages) or body == {} or (isinstance(body, dict) and "event_name" in body)

    return _webhook(ZALO_SECRET_HEADER, runtime.services.config.zalo_webhook_secret, feed)
