"""Engine and sessions: SQLite (on the event loop's thread, WAL, foreign keys on: storage/sqlite_driver.py) by
default, PostgreSQL through asyncpg."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, UOWTransaction

from storage import plain_updates
from storage.sqlite_driver import in_loop_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The sqlite3 module's legacy transaction control emits no BEGIN before a SAVEPOINT, so a savepoint
    # opened first would commit on its own when released (an update claimed by a handler that then
    # failed stayed claimed). The dialect runs BEGIN itself instead (`do_begin`), as SQLAlchemy's docs advise:
    # writers take the write lock at BEGIN IMMEDIATE, so a transaction that read first never fails to upgrade
    # because another process wrote meanwhile; it waits at BEGIN instead (storage/sqlite_driver.py).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=10000")  # while connecting only (rare): switching to WAL may wait
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=0")  # from now on BEGIN waits for the lock without blocking the loop
    cursor.close()


def create_engine(url: str, schema: str | None = None) -> AsyncEngine:
    """`schema` (PostgreSQL): a tenant's schema, the only one its connections see (their search_path), so no
    query of one tenant can reach another's tables, whatever it forgets to filter."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # SQLite has one writer at a time; waiting writers poll with growing sleeps (up to 100 ms), which
        # makes concurrent conversations slow. One connection serialises transactions inside the process
        # instead (each is a few milliseconds); BEGIN IMMEDIATE still waits for other processes.
        engine = create_async_engine(in_loop_url(parsed), pool_size=1, max_overflow=0, pool_timeout=60)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if schema is not None:
        # Each tenant has its own pool: one connection kept, more only while work waits for one.
        engine = create_async_engine(url, pool_size=1, max_overflow=9, pool_pre_ping=True,
                                     connect_args={"server_settings": {"search_path": schema}})  # fmt: skip
        event.listen(engine.sync_engine, "connect", functools.partial(_confined_to, schema))
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


class WrongSchema(RuntimeError):
    """A tenant's connection would see another schema than its own (a pooler dropping search_path)."""


def _confined_to(schema: str, dbapi_connection: Any, _record: Any) -> None:
    """Refuse a tenant's connection whose search_path is not the tenant's schema alone: a connection pooler
    that drops startup parameters (PgBouncer's ignore_startup_parameters) would otherwise put every tenant
    in the default schema, together."""
    cursor = dbapi_connection.cursor()
    cursor.execute("SHOW search_path")
    (search_path,) = cursor.fetchone()
    cursor.close()
    if search_path.strip('"') != schema:
        raise WrongSchema(f"the connection's search_path is {search_path!r}, not the tenant's schema {schema!r}")


def _sqlite_reader_pragmas(dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, record)
    dbapi_connection.execute("PRAGMA query_only=ON")


def reading_engine(engine: AsyncEngine) -> AsyncEngine:
    """Where long reads (exports) run. On SQLite: connections of their own, read-only, so that with WAL an
    export reads while the bot's one writing connection serves everyone else (on the shared connection a
    5-second export made every member wait 5 seconds); they begin DEFERRED, holding no lock that would block
    the bot. PostgreSQL's pool already serves both."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return engine
    reader = create_async_engine(engine.url, pool_size=2, max_overflow=0, pool_timeout=600,
                                 begin_statement="BEGIN DEFERRED")  # fmt: skip
    event.listen(reader.sync_engine, "connect", _sqlite_reader_pragmas)
    return reader


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


STAMPED_COLUMNS = ("created_at", "updated_at", "added_at", "processed_at", "ran_at")


class ClockedSession(Session):
    """A session that stamps rows (created_at, updated_at, …) with the runtime's clock (`info["clock"]`).

    Rows written by a conversation, the scheduler or the outbox then agree on what "now" is, including in
    the tests and the sandbox, whose clock can be moved: an idle draft is idle by the bot's clock."""


@event.listens_for(ClockedSession, "before_flush")
def _before_flush(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    """Stamp the rows with the session's clock; then, when that is all the flush holds, write changed columns
    as plain UPDATEs (storage/plain_updates.py)."""
    now = session.info.get("clock", _utc_now)()
    for row in session.new:
        for name in STAMPED_COLUMNS:
            if hasattr(row, name) and getattr(row, name) is None:
                setattr(row, name, now)
    for row in session.dirty:
        if hasattr(row, "updated_at") and session.is_modified(row):
            row.updated_at = now
    plain_updates.write(session)


@contextlib.asynccontextmanager
async def core_transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncConnection]:
    """A transaction on the sessions' database for Core statements alone: without an ORM session, which added
    about a fifth to a one-statement transaction's CPU (an inbox batch, the journal's deletions)."""
    async with sessions.kw["bind"].begin() as connection:
        yield connection


def session_factory(
    engine: AsyncEngine, clock: Callable[[], dt.datetime] | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions for the engine whose rows are stamped by `clock` (the machine's by default)."""
    return async_sessionmaker(
        engine, expire_on_commit=False, sync_session_class=ClockedSession, info={"clock": clock or _utc_now}
    )


def alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def open_database(url: str, schema: str | None = None) -> AsyncEngine:
    """An engine for `url` (a tenant's `schema` on PostgreSQL, created if new), migrated to the latest revision."""
    engine = create_engine(url, schema)
    if schema is not None:
        async with engine.begin() as connection:
            await connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    await upgrade_database(engine)
    return engine


async def upgrade_database(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply Alembic migrations up to `revision` (run on every start and by `sangkien db upgrade`)."""
    async with engine.connect() as connection:
        await connection.run_sync(_upgrade_in_one_transaction, revision)


def _upgrade_in_one_transaction(connection: Connection, revision: str) -> None:
    """On SQLite with its foreign keys off, then checked: a batch migration copies a table and drops the old
    one, which with them on failed (a member referenced) or deleted the rows that referenced it (ON DELETE
    CASCADE: an initiative's authors, files, history). SQLite reads the switch only outside a transaction."""
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    try:
        with connection.begin():
            before = MigrationContext.configure(connection).get_current_revision()
            _upgrade(connection, revision)
            migrated = MigrationContext.configure(connection).get_current_revision() != before
            # checked only after migrations ran: a start with nothing to migrate never refuses an old dangling row
            if sqlite and migrated and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").all()):
                raise RuntimeError(f"the migration to {revision} left rows referencing none: {broken[:5]}")
    finally:
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


def database_unreachable(error: BaseException) -> bool:
    """The database could not be reached or dropped the connection: refused, closed, or PostgreSQL's
    SQLSTATE classes 08 (connection exception) and 57P (shutting down, starting up) — not a query it refused."""
    if isinstance(error, (ConnectionError, socket.gaierror)):
        return True
    if not isinstance(error, DBAPIError):
        return False
    return (
        error.connection_invalidated
        or isinstance(error.orig, OSError)
        or any(code.startswith(("08", "57P")) for code in _sqlstates(error))
    )


def transaction_rolled_back(error: BaseException) -> bool:
    """PostgreSQL rolled the transaction back to break a deadlock (40P01) or a serialization conflict (40001):
    nothing of it remains, and the same work tried again succeeds (two transactions moving initiatives of the
    same branches in opposite orders: storage/tally.py)."""
    return isinstance(error, DBAPIError) and bool(_sqlstates(error) & {"40P01", "40001"})


def _sqlstates(error: DBAPIError) -> set[str]:
    return {
        str(getattr(e, name, "") or "") for e in (error.orig, error.orig.__cause__) for name in ("sqlstate", "pgcode")
    }
