"""The runtime: open the database (migrating it), build the services, run the channels."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.telegram import TelegramChannel, file_downloader, make_bot
from bot.config import Config
from bot.outbox import OutboxWorker, Sender
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


async def run_telegram(config: Config, engine: AsyncEngine, clock: Callable[[], dt.datetime] = utc_now) -> None:
    """Long polling plus the outbox worker, until cancelled. `clock` is replaced by the tests and the sandbox."""
    assert config.telegram_token, "TELEGRAM_BOT_TOKEN is required"
    sessions = session_factory(engine)
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
    log.info("Telegram: long polling%s", f" via {config.telegram_api_url}" if config.telegram_api_url else "")
    worker_task = asyncio.create_task(worker.run(), name="outbox")
    try:
        await channel.run_polling()
    finally:
        worker_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker_task
