"""Shared fixtures: the config, a throwaway PostgreSQL, and the end-to-end bot under test."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import pytest_asyncio

from bot.config import Config, load_config
from bot.sandbox.telegram_emulator import TelegramEmulator
from bot.sandbox.zalo_emulator import ZaloEmulator
from storage.engine import create_engine, upgrade_database
from tests import launcher
from tests.harness import (
    ROOT,
    TOKEN,
    ZALO_TOKEN,
    BotProcess,
    Database,
    ErrorRecords,
    FakeClock,
    InProcessBot,
    local,
    prepare_database,
)
from tests.postgres import PostgresServer, postgres_unavailable_reason

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_finish(session: pytest.Session) -> None:
    """The bot's imports, once, beside the first tests, when a test will start a bot or a command
    (tests/launcher.py); a run of other tests does not pay for them."""
    if any("launcher" in vars(item.module) or "bot_under_test" in item.fixturenames
           for item in session.items if isinstance(item, pytest.Function)):  # fmt: skip
        launcher.warm_up()


@pytest.fixture(scope="session")
def config() -> Config:
    return load_config(ROOT / "config.toml", environ={})


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    url = os.environ.get("SANGKIEN_TEST_POSTGRES_URL")
    if url:
        yield PostgresServer.external(url)
        return
    reason = postgres_unavailable_reason()
    if reason:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI: {reason}")
        pytest.skip(reason)
    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop()


def migrate(url: str) -> None:
    """Bring a database to the latest schema, from a test's thread whatever event loop it runs."""

    async def upgrade() -> None:
        engine = create_engine(url)
        await upgrade_database(engine)
        await engine.dispose()

    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, upgrade()).result()


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to the latest schema, copied for each test: migrating costs most of a second."""
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of each kind the bot supports, at the latest schema, without rows."""
    if request.param == "sqlite":
        shutil.copyfile(request.getfixturevalue("migrated_sqlite_file"), tmp_path / "test.db")
        return f"sqlite+aiosqlite:///{tmp_path}/test.db"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    migrate(url)
    return url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def emulator() -> AsyncIterator[TelegramEmulator]:
    emulator = TelegramEmulator()
    emulator.add_bot(TOKEN)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def zalo_emulator() -> AsyncIterator[ZaloEmulator]:
    emulator = ZaloEmulator()
    emulator.add_bot(ZALO_TOKEN)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def bot_under_test(
    request: pytest.FixtureRequest, emulator: TelegramEmulator, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BotProcess]:
    """The real bot process, once per module and database kind (SQLite, then PostgreSQL)."""
    folder = tmp_path_factory.mktemp("bot")
    if request.param == "sqlite":
        database_url = f"sqlite+aiosqlite:///{folder}/bot.db"
    else:
        database_url = request.getfixturevalue("postgres_server").create_database()
    await prepare_database(database_url)
    process = BotProcess(emulator, database_url, folder / "bot.log")
    await process.start()
    yield process
    await process.kill()
    errors = [line for line in process.log_tail(400).splitlines() if "Traceback" in line or " ERROR " in line]
    assert not errors, f"the bot logged errors during the tests:\n{process.log_tail(80)}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def database(bot_under_test: BotProcess) -> AsyncIterator[Database]:
    database = Database(bot_under_test.database_url)
    yield database
    await database.dispose()


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def live_bot(
    request: pytest.FixtureRequest,
    emulator: TelegramEmulator,
    zalo_emulator: ZaloEmulator,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[InProcessBot]:
    """The bot's runtime (Telegram and Zalo) in the test's event loop with a controllable clock
    (20/04/2022 10:00, phase 1)."""
    if request.param == "sqlite":
        database_url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('live')}/bot.db"
    else:
        database_url = request.getfixturevalue("postgres_server").create_database()
    await prepare_database(database_url)
    errors = ErrorRecords()
    logging.getLogger().addHandler(errors)
    webhooks = getattr(request.module, "WEBHOOKS", False)  # a module may serve both channels by webhook
    bot = InProcessBot(emulator, database_url, FakeClock(local(2022, 4, 20)), zalo_emulator, webhooks=webhooks)
    await bot.start()
    yield bot
    await bot.stop()
    gc.collect()  # an HTTP session left open by this module is reported here, not in a later one
    logging.getLogger().removeHandler(errors)
    assert not errors.records, f"the bot logged errors: {[r.getMessage() for r in errors.records]}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def live_database(live_bot: InProcessBot) -> AsyncIterator[Database]:
    database = Database(live_bot.database_url)
    yield database
    await database.dispose()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """A failing end-to-end test shows the bot process's last log lines (a CI flake is read from them)."""
    report = yield
    process = getattr(item, "funcargs", {}).get("bot_under_test")
    if report.failed and isinstance(process, BotProcess):
        report.sections.append(("bot process log (last 60 lines)", process.log_tail(60)))
    return report
