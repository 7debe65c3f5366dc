"""The local sandbox: the Bot API emulator on loopback, the real bot connected to it, a web chat page."""

from __future__ import annotations

import logging

from bot.app import open_database, run_telegram, seed_sample_branches
from bot.config import Config
from bot.sandbox.telegram_emulator import TelegramEmulator
from handlers.context import Services
from storage.engine import session_factory

log = logging.getLogger(__name__)

# Not a secret: it only opens the emulator running on this machine.
SANDBOX_TOKEN = "1000001:sandbox-not-a-real-token"
SANDBOX_DATABASE = "sqlite+aiosqlite:///sandbox-data/sandbox.db"
# Sample people a person can play in the sandbox page (clearly labelled, never real members).
PERSONAS = ((1001, "Nguyễn Văn An"), (1002, "Trần Thị Bình"))


def sandbox_config(config: Config, api_url: str, database_url: str | None) -> Config:
    settings = config.settings.model_copy(update={"database_url": database_url or SANDBOX_DATABASE})
    return config.model_copy(
        update={"telegram_token": SANDBOX_TOKEN, "telegram_api_url": api_url, "settings": settings}
    )


async def run_sandbox(config: Config, host: str, port: int, database_url: str | None) -> None:
    emulator = TelegramEmulator()
    emulator.add_bot(SANDBOX_TOKEN, username="sangkien_sandbox_bot")
    for user_id, name in PERSONAS:
        emulator.add_user(user_id, first_name=name)
    url = await emulator.start(host, port)
    config = sandbox_config(config, url, database_url)
    engine = await open_database(config)
    await seed_sample_branches(Services(config=config, sessions=session_factory(engine)))
    print(
        f"\n  Sáng kiến Bot — sandbox (không có TELEGRAM_BOT_TOKEN)\n  Mở trình duyệt: {url}/\n  Dừng: Ctrl+C\n",
        flush=True,
    )
    try:
        await run_telegram(config, engine)
    finally:
        await emulator.stop()
        await engine.dispose()
