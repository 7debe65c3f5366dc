"""The runtime: open the database (migrating it), build the services, run the channels."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.telegram import TelegramChannel, file_downloader, make_bot
from bot.config import Config
from bot.outbox import OutboxWorker, Sender
from bot.scheduler import Scheduler
from handlers import broadcasts
from handlers.context import Services, utc_now
from storage import queries
from storage.engine import create_engine, session_factory, upgrade_database

log = logging.getLogger(__name__)


async def open_database(config: Config) -> AsyncEngine:
    engine = create_engine(config.database_url)
    await upgrade_database(engine)
    return engine


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
    """Everything a running bot is: the services, the Telegram channel, the outbox worker, the scheduler."""

    def __init__(self, services: Services, channel: TelegramChannel, worker: OutboxWorker, scheduler: Scheduler):
        self.services, self.channel, self.worker, self.scheduler = services, channel, worker, scheduler

    @classmethod
    async def create(cls, config: Config, engine: AsyncEngine, clock: Callable[[], dt.datetime] = utc_now) -> Runtime:
        """`clock` is replaced by the tests and the sandbox."""
        assert config.telegram_token, "TELEGRAM_BOT_TOKEN is required"
        sessions = session_factory(engine, clock)
        bot = make_bot(config.telegram_token, config.telegram_api_url)
        me = await bot.get_me()
        senders: dict[str, Sender] = {}
        worker = OutboxWorker(sessions, senders, clock)
        services = Services(
            config=config,
            sessions=sessions,
            clock=clock,
            download=file_downloader(bot),
            deep_link=telegram_deep_link(me.username or ""),
            outbox_changed=worker.wake,
        )
        channel = TelegramChannel(services, bot)
        senders[channel.platform] = channel
        worker.after_pass.append(functools.partial(broadcasts.report_finished, services))
        return cls(services, channel, worker, Scheduler(services))

    def wake(self) -> None:
        """Look for due work now (after the clock moved, in the tests)."""
        self.scheduler.wake()
        self.worker.wake()

    async def run(self) -> None:
        """Long polling, the outbox worker and the scheduler, until cancelled."""
        config = self.services.config
        log.info("Telegram: long polling%s", f" via {config.telegram_api_url}" if config.telegram_api_url else "")
        tasks = [
            asyncio.create_task(self.worker.run(), name="outbox"),
            asyncio.create_task(self.scheduler.run(), name="scheduler"),
        ]
        try:
            await self.channel.run_polling()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def run_telegram(config: Config, engine: AsyncEngine, clock: Callable[[], dt.datetime] = utc_now) -> None:
    await (await Runtime.create(config, engine, clock)).run()
