"""The runtime: open the database (migrating it), build the services, run the channels."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.telegram import TelegramChannel, make_bot
from bot.config import Config
from handlers.context import Services
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
                session, services.config.resolve(services.config.settings.sample_branches)
            )
            log.info("loaded %d sample branches", count)


async def run_telegram(config: Config, engine: AsyncEngine) -> None:
    assert config.telegram_token, "TELEGRAM_BOT_TOKEN is required"
    services = Services(config=config, sessions=session_factory(engine))
    channel = TelegramChannel(services, make_bot(config.telegram_token, config.telegram_api_url))
    log.info("Telegram: long polling%s", f" via {config.telegram_api_url}" if config.telegram_api_url else "")
    await channel.run_polling()
