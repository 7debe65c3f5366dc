"""`sangkien` command line: run the bot (or the sandbox), migrate the database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

import click

from bot.config import Config, ConfigError, load_config
from bot.logging_setup import setup_logging


def _load() -> Config:
    try:
        return load_config()
    except ConfigError as error:
        click.echo(f"Configuration error: {error}", err=True)
        sys.exit(2)


@click.group()
def main() -> None:
    """Sáng kiến Bot — chatbot for the "01 triệu sáng kiến" programme."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Sandbox only: address of the web page.")
@click.option("--port", default=8080, show_default=True, help="Sandbox only: port of the web page (0 = any).")
def run(host: str, port: int) -> None:
    """Start the bot with long polling; without TELEGRAM_BOT_TOKEN, the local sandbox."""
    config = _load()
    setup_logging([config.telegram_token or ""])
    from bot.app import open_database, run_telegram

    async def telegram() -> None:
        engine = await open_database(config)
        try:
            await run_telegram(config, engine)
        finally:
            await engine.dispose()

    if config.telegram_token:
        coroutine = telegram()
    else:
        from bot.sandbox.run import run_sandbox

        coroutine = run_sandbox(config, host, port, os.environ.get("DATABASE_URL"))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(coroutine)


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command()
def upgrade() -> None:
    """Apply the Alembic migrations (also done on every start)."""
    config = _load()
    from bot.app import open_database

    async def migrate() -> None:
        engine = await open_database(config)
        await engine.dispose()

    asyncio.run(migrate())
    click.echo("database is up to date")


if __name__ == "__main__":
    main()
