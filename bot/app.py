"""The runtime: open the database (migrating it), build the services, run the channels and the web app."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import gc
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.background import BackgroundLoop
from bot.channels.limits import SendWindow
from bot.channels.telegram import TelegramChannel
from bot.channels.telegram_api import SENDS_PER_SECOND, file_downloader, make_bot
from bot.channels.zalo import ZaloChannel
from bot.channels.zalo_client import ZaloClient
from bot.config import Config
from bot.limit_sharing import LimitSharing, Shared
from bot.logging_setup import CURRENT_TENANT
from bot.outbox import OutboxWorker, Sender
from bot.report_process import ReportProcess
from bot.scheduler import Scheduler
from bot.web import build_app, serve
from handlers import broadcasts
from handlers.context import Services, typed_start_command, utc_now
from handlers.events import FileRef
from storage import campaigns, files, queries
from storage.engine import session_factory
from storage.reply_journal import ReplyJournal

log = logging.getLogger(__name__)
LOOP_GRACE_SECONDS = 10.0  # a background pass's, of a stop's budget (bot/cli.py: `_serve`)


async def seed_sample_branches(services: Services) -> None:
    """Load the clearly-labelled sample branches into an empty database (sandbox only)."""
    async with services.sessions() as session, session.begin():
        if await queries.branch_count(session) == 0:
            count = await queries.load_sample_branches(
                session, services.config.resolve(services.config.settings.sample_branches), services.config.campaign
            )
            log.info("loaded %d sample branches", count)


def telegram_deep_link(username: str) -> Callable[[str], str]:
    def link(payload: str) -> str:
        return f"https://t.me/{username}?start={payload}"

    return link


class Runtime:
    """Everything a running bot is: the services, its channels (Telegram, Zalo or both — whichever has a
    token), the outbox worker, the scheduler and the web app."""

    def __init__(
        self,
        services: Services,
        telegram: TelegramChannel | None,
        zalo: ZaloChannel | None,
        worker: OutboxWorker,
        senders: dict[str, Sender],
        sharing: LimitSharing,
        reports: ReportProcess | None = None,
    ) -> None:
        self.services, self.telegram, self.zalo, self.worker, self.senders = services, telegram, zalo, worker, senders
        self.sharing, self.reports = sharing, reports
        self.scheduler = Scheduler(services)
        self.web_url = ""
        self._web: web.AppRunner | None = None

    @classmethod
    async def create(
        cls,
        config: Config,
        engine: AsyncEngine,
        clock: Callable[[], dt.datetime] = utc_now,
        reports: ReportProcess | None = None,
    ) -> Runtime:
        """`clock` is replaced by the tests and the sandbox; `reports`: the deployment's shared report worker
        (several tenants), else the runtime starts and stops its own."""
        if not (config.telegram_token or config.zalo_token):
            raise ValueError("set TELEGRAM_BOT_TOKEN, ZALO_BOT_TOKEN or both")
        sessions = session_factory(engine, clock)
        senders: dict[str, Sender] = {}
        journal = ReplyJournal()
        worker = OutboxWorker(sessions, senders, clock, journal=journal)
        deep_links: dict[str, Callable[[str], str]] = {}
        downloads: dict[str, Callable[[FileRef], Awaitable[bytes]]] = {"zalo": stored_file_downloader(sessions, clock)}
        window = SendWindow(SENDS_PER_SECOND)
        bot = make_bot(config.telegram_token, config.telegram_api_url, window) if config.telegram_token else None
        client = ZaloClient(config.zalo_token, config.zalo_api_url) if config.zalo_token else None
        try:  # a wrong token or an unreachable platform stops start-up here, not at the first message
            if bot is not None:
                me = await bot.get_me()
                deep_links["telegram"] = telegram_deep_link(me.username or "")
                downloads["telegram"] = file_downloader(bot)
            if client is not None:
                zalo_me = await client.get_me()
                deep_links["zalo"] = typed_start_command
                log.info("Zalo: bot %s", zalo_me.get("account_name") or zalo_me.get("id"))
        except BaseException:
            if bot is not None:
                await bot.session.close()
            if client is not None:
                await client.close()
            raise
        own_reports = ReportProcess() if reports is None else None
        builder = (reports or own_reports or ReportProcess()).builder(config.database_url, config.database_schema)
        services = Services(config=config, sessions=sessions, clock=clock, deep_links=deep_links,
                            downloads=downloads, outbox_changed=worker.wake, report_builder=builder,
                            journal=journal)  # fmt: skip
        async with sessions() as session, session.begin():  # the config's campaign is the seed
            await campaigns.seed(session, config.campaign)
            await services.campaigns.refresh(session, force=True)
        telegram = TelegramChannel(services, bot) if bot is not None else None
        zalo = ZaloChannel(services, client) if client is not None else None
        for channel in (telegram, zalo):
            if channel is not None:
                senders[channel.platform] = channel
        worker.after_pass.append(functools.partial(broadcasts.report_finished, services))
        shared: list[Shared] = [window] if telegram is not None else []
        if zalo is not None and zalo.limits.overall is not None:
            shared.append(zalo.limits.overall)
        return cls(services, telegram, zalo, worker, senders, LimitSharing(sessions, shared), own_reports)

    def wake(self) -> None:
        """Look for due work now (after the clock moved, in the tests)."""
        self.scheduler.wake()
        self.worker.wake()

    async def start_web(self, host: str | None = None, port: int | None = None) -> str:
        """Serve the web app (webhooks, review pages, files, /healthz); returns its local address."""
        config = self.services.config
        port = config.web_port if port is None else port
        self._web, self.web_url = await serve(build_app(self), host or config.web_host, port)
        log.info("web app on %s (public address: %s)", self.web_url, config.public_url or "none")
        return self.web_url

    async def run(self, *, webhooks: bool = False, own_web: bool = True) -> None:
        """Until cancelled: the channels (long polling, or the webhooks registered with each platform),
        the outbox worker, the scheduler, and the web app when there is a public address or webhooks
        (`own_web` False: the deployment's web app serves this runtime among others)."""
        config = self.services.config
        CURRENT_TENANT.set(config.tenant)  # this task's context, inherited by every task it starts
        loops = (self.sharing.loop, self.worker.loop, self.scheduler.loop)
        try:
            await self.sharing.join()
            if own_web and (webhooks or config.public_url) and self._web is None:
                await self.start_web()
            for loop in loops:
                loop.start()
            if webhooks:
                await self._register_webhooks()
                await asyncio.Event().wait()
            else:
                channels = [c.run_polling() for c in (self.telegram, self.zalo) if c is not None]
                for name in self.senders:
                    log.info("%s: long polling", name)
                await asyncio.gather(*channels)
        finally:
            await self._shut_down(loops)

    async def _shut_down(self, loops: tuple[BackgroundLoop, ...]) -> None:
        """Stop in order, cancelling nothing in the middle of a transaction: the web app (no new webhooks
        or review decisions; those in flight finish), the background loops (each finishes its pass), then
        the channels (their queued work finishes, then their HTTP sessions close — after the outbox, whose
        delivery in flight would otherwise reopen a closed session); last, its part of the sending limits
        goes back to the other processes."""
        if self._web is not None:
            await self._web.cleanup()
            self._web = None
        await asyncio.gather(*(loop.stop(grace=LOOP_GRACE_SECONDS) for loop in loops))
        await self.close()
        await self.sharing.leave()  # once its last replies have gone: the others may take its part

    async def close(self) -> None:
        """Close the channels (their queued work finishes first, both at once: the stop's budget is one
        channel's), delete the rows of the replies they delivered (storage/reply_journal.py) and stop the
        runtime's own report worker."""
        await asyncio.gather(*(channel.close() for channel in (self.telegram, self.zalo) if channel is not None))
        await self.services.journal.close()
        if self.reports is not None:
            self.reports.close()

    async def _register_webhooks(self) -> None:
        config = self.services.config
        if not config.public_url:
            raise ValueError("PUBLIC_URL (the https address the platforms can reach) is required for webhooks")
        if self.telegram is not None:
            if not config.telegram_webhook_secret:
                raise ValueError("TELEGRAM_WEBHOOK_SECRET is required for the Telegram webhook")
            await self.telegram.use_webhook(config.webhook_url("telegram"), config.telegram_webhook_secret)
            log.info("Telegram: webhook %s", config.webhook_url("telegram"))
        if self.zalo is not None:
            if not config.zalo_webhook_secret:
                raise ValueError("ZALO_WEBHOOK_SECRET (8-256 characters) is required for the Zalo webhook")
            await self.zalo.handle_left_over()
            await self.zalo.client.set_webhook(config.webhook_url("zalo"), config.zalo_webhook_secret)
            log.info("Zalo: webhook %s", config.webhook_url("zalo"))


def stored_file_downloader(
    sessions: async_sessionmaker[AsyncSession], clock: Callable[[], dt.datetime]
) -> Callable[[FileRef], Awaitable[bytes]]:
    """`Services.downloads` for files kept by the bot itself (photos sent on Zalo)."""

    async def download(file: FileRef) -> bytes:
        async with sessions() as session:
            stored = await files.by_token(session, file.file_id, clock())
        if stored is None:
            raise RuntimeError("the file is no longer kept")
        return stored.content

    return download


async def run_bot(
    config: Config, engine: AsyncEngine, clock: Callable[[], dt.datetime] = utc_now, *, webhooks: bool = False
) -> None:
    runtime = await Runtime.create(config, engine, clock)
    # Everything loaded so far lives as long as the process: keep it out of the garbage collector's full
    # passes, which otherwise walk the whole of aiogram, SQLAlchemy and matplotlib again and again.
    gc.freeze()
    await runtime.run(webhooks=webhooks)
