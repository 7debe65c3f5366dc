"""Several bots on one database: one process serves every tenant declared in `[[tenants]]`.

Each tenant is a whole runtime of its own (its bots with their own sending limits, outbox worker,
scheduler, campaigns and organisation tree) over its own place in the database: a PostgreSQL schema its
connections are confined to, or a SQLite file of its own. They share the process, one web app (webhooks
at /webhook/<tenant>/<platform>, pages under /t/<tenant>/) and one worker process for the reports.
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
from bot.config import Config, tenant_configs
from bot.report_process import ReportProcess
from bot.web import build_tenants_app, serve
from handlers.context import utc_now
from storage.engine import open_database

log = logging.getLogger(__name__)


def serving(config: Config, environ: Mapping[str, str] | None = None) -> list[Config]:
    """The tenants with a token set (a declared tenant without one is skipped, and said so)."""
    configs = tenant_configs(config, environ)
    for tenant in configs:
        if not (tenant.telegram_token or tenant.zalo_token):
            log.warning("tenant %s: no token set in its environment variables; not served", tenant.tenant)
    active = [tenant for tenant in configs if tenant.telegram_token or tenant.zalo_token]
    if not active:
        names = [name for t in config.tenants for name in (t.telegram_token_env, t.zalo_token_env) if name]
        raise ValueError(f"no tenant has a bot token: set {', '.join(names) or 'their token variables'}")
    return active


async def run_tenants(
    config: Config,
    *,
    webhooks: bool = False,
    clock: Callable[[], dt.datetime] = utc_now,
    environ: Mapping[str, str] | None = None,
    started: Callable[[list[Runtime]], None] | None = None,
) -> None:
    """Until cancelled: every tenant with a token, polling or by webhooks, and the shared web app
    (`environ`: where the tenants' secrets are read, the process's environment by default; `started`: told
    the runtimes once they run, for the tests, which move their clock)."""
    reports = ReportProcess()
    engines: list[AsyncEngine] = []
    runtimes: list[Runtime] = []
    site: web.AppRunner | None = None
    tasks: list[asyncio.Task[None]] = []
    try:
        for tenant in serving(config, environ):
            engines.append(await open_database(tenant.database_url, tenant.database_schema))
            runtimes.append(await Runtime.create(tenant, engines[-1], clock, reports))
            log.info("tenant %s: ready (%s)", tenant.tenant, ", ".join(sorted(runtimes[-1].senders)))
        gc.freeze()  # as run_bot: what is loaded now lives as long as the process
        if webhooks or config.public_url:
            site, address = await serve(build_tenants_app(runtimes), config.web_host, config.web_port)
            log.info("web app on %s for %d tenants (public address: %s)", address, len(runtimes), config.public_url)
        tasks = [asyncio.create_task(r.run(webhooks=webhooks, own_web=False)) for r in runtimes]
        if started is not None:
            started(runtimes)
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()  # a runtime that stopped on its own: its error ends the deployment
    finally:
        if site is not None:  # no new webhooks or page posts first; then each runtime stops in order
            await site.cleanup()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        reports.close()
        for engine in engines:
            await engine.dispose()
