"""Several bots on one database: one process serves every tenant declared in `[[tenants]]`.

Each tenant is a whole runtime of its own (its bots with their own sending limits, outbox worker, reply
journal, scheduler, campaigns and organisation tree) over its own place in the database: a PostgreSQL schema
its connections are confined to, or a SQLite file of its own. They share the process, one web app (webhooks
at /webhook/<tenant>/<platform>, pages under /t/<tenant>/) and one worker process for the reports. A tenant
that cannot start (a revoked token, its database place unreachable) or stops is logged and left out; the
others go on serving.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
from collections.abc import Callable, Mapping

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import Runtime
from bot.config import Config, ConfigError, tenant_configs
from bot.logging_setup import CURRENT_TENANT
from bot.report_process import ReportProcess
from bot.web import build_tenants_app, serve
from handlers.context import utc_now
from storage.engine import open_database

log = logging.getLogger(__name__)


def serving(
    config: Config, environ: Mapping[str, str] | None = None, *, webhooks: bool = False, only: str | None = None
) -> list[Config]:
    """The tenants to serve: every one with a token set (or `only` that one); one without a token, or without
    the webhook secret its token needs (`webhooks`), is left out and said so."""
    configs = [tenant for tenant in tenant_configs(config, environ) if only in (None, tenant.tenant)]
    if only is not None and not configs:
        raise ConfigError(f"unknown tenant {only!r} (declared in [[tenants]]: "
                          f"{', '.join(t.code for t in config.tenants)})")  # fmt: skip
    active = []
    for tenant in configs:
        declared = next(t for t in config.tenants if t.code == tenant.tenant)
        missing = [name or "its token variable" for name, needed, value in (
            (f"{declared.telegram_token_env} or {declared.zalo_token_env}", True,
             tenant.telegram_token or tenant.zalo_token),
            (declared.telegram_webhook_secret_env, webhooks and bool(tenant.telegram_token),
             tenant.telegram_webhook_secret),
            (declared.zalo_webhook_secret_env, webhooks and bool(tenant.zalo_token), tenant.zalo_webhook_secret),
        ) if needed and not value]  # fmt: skip
        if missing:
            log.warning("tenant %s: not served: %s not set", tenant.tenant, ", ".join(missing))
        else:
            active.append(tenant)
    if not active:
        names = [name for t in config.tenants for name in (t.telegram_token_env, t.zalo_token_env) if name]
        raise ValueError(f"no tenant can be served: set {', '.join(names) or 'their token variables'}"
                         + (" and their webhook secrets" if webhooks else ""))  # fmt: skip
    return active


async def _start(
    tenant: Config, clock: Callable[[], dt.datetime], reports: ReportProcess
) -> tuple[Runtime, AsyncEngine]:
    engine = await open_database(tenant.database_url, tenant.database_schema)
    try:
        return await Runtime.create(tenant, engine, clock, reports), engine
    except BaseException:
        await engine.dispose()
        raise


async def run_tenants(
    config: Config,
    *,
    webhooks: bool = False,
    clock: Callable[[], dt.datetime] = utc_now,
    environ: Mapping[str, str] | None = None,
    only: str | None = None,
    started: Callable[[list[Runtime]], None] | None = None,
) -> None:
    """Until cancelled or every tenant has stopped: the tenants with a token (or `only` that one), polling or
    by webhooks, and the shared web app. `environ`: where the tenants' secrets are read (the process's
    environment by default); `started`: told the runtimes once they run (the tests move their clock)."""
    reports = ReportProcess()
    engines: list[AsyncEngine] = []
    runtimes: list[Runtime] = []
    site: web.AppRunner | None = None
    tasks: dict[asyncio.Task[None], str] = {}
    try:
        for tenant in serving(config, environ, webhooks=webhooks, only=only):
            token = CURRENT_TENANT.set(tenant.tenant)
            try:
                runtime, engine = await _start(tenant, clock, reports)
            except Exception as error:  # the others go on: one province's revoked token stops no one else
                log.error("tenant %s: not started: %s: %s", tenant.tenant, type(error).__name__, error)
                continue
            finally:
                CURRENT_TENANT.reset(token)
            runtimes.append(runtime)
            engines.append(engine)
            log.info("tenant %s: ready (%s)", tenant.tenant, ", ".join(sorted(runtime.senders)))
        if not runtimes:
            raise ValueError("no tenant could be started (see the errors above)")
        gc.freeze()  # as run_bot: what is loaded now lives as long as the process
        # Counted in by the other processes before the shared web app answers any webhook (as Runtime.run).
        await asyncio.gather(*(runtime.sharing.join() for runtime in runtimes))
        if webhooks or config.public_url:
            site, address = await serve(build_tenants_app(runtimes), config.web_host, config.web_port)
            log.info("web app on %s for %d tenants (public address: %s)", address, len(runtimes), config.public_url)
        for runtime in runtimes:
            tasks[asyncio.create_task(runtime.run(webhooks=webhooks, own_web=False))] = (
                runtime.services.config.tenant or ""
            )
        if started is not None:
            started(runtimes)
        running = set(tasks)
        while running:
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                error = task.exception()
                log.error("tenant %s: stopped: %s", tasks[task], f"{type(error).__name__}: {error}" if error else "")
        raise RuntimeError("every tenant has stopped (see the errors above)")
    finally:
        if site is not None:  # no new webhooks or page posts first; then each runtime stops in order
            await site.cleanup()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for runtime in runtimes[len(tasks) :]:  # created, never run: its HTTP sessions still need closing
            await runtime.close()
            await runtime.sharing.leave()
        reports.close()
        for engine in engines:
            await engine.dispose()
