"""SQLite on the event loop's own thread: SQLAlchemy's pysqlite dialect, made usable by its asyncio extension.

aiosqlite runs every sqlite3 call on a worker thread: each call is a hand-off there and a wake-up of the event
loop on return, and SQLAlchemy's greenlet bridge around it. A wizard step's statements take SQLite itself tens
of microseconds; the hand-offs cost several times that in CPU (a one-statement transaction: about 0.8 ms of CPU
through aiosqlite, 0.5 ms here; `make bench-submission` for the whole step). So the statements run where
SQLAlchemy's asyncio extension calls them, synchronously, and the event loop waits for nothing but SQLite.

What that would cost, and how it is met:
- Waiting for another process's write lock would block the whole loop (SQLite's busy timeout sleeps in C).
  The connection has no busy timeout; a `BEGIN IMMEDIATE` (`do_begin`: every writing transaction starts
  with one, and WAL readers never wait) refused because the database is locked is tried again after an
  asynchronous sleep, for up to `LOCK_PATIENCE`, while the loop serves everyone else.
- A long statement holds the loop while it runs. The long reads (exports) run in the report worker process
  (bot/report_process.py), on read-only connections of their own; the others are a few milliseconds, and with
  one writing connection per process (storage/engine.py) they held everyone's database work anyway.

SQLAlchemy's asyncio extension insists that a statement awaited something (`AwaitRequired`, its guard against
a blocking driver): each statement awaits an already finished coroutine, which never yields to the loop.
`DATABASE_URL` stays `sqlite+aiosqlite://…` (`in_loop_url`); aiosqlite itself is no longer used.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import time
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.base import SQLiteExecutionContext
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.engine.interfaces import ConnectArgsType, DBAPICursor
from sqlalchemy.util.concurrency import await_

DRIVER_NAME = "inloop"
# How long a writing transaction waits for another process's write lock (SQLite's busy_timeout was 10 s).
LOCK_PATIENCE = 10.0
_FIRST_WAIT, _LONGEST_WAIT = 0.001, 0.05


class StreamingCursor(sqlite3.Cursor):
    """A streamed read's cursor (exports): SQLite gives the rows as they are fetched. With what SQLAlchemy's
    asyncio results call on an asynchronous driver's cursor."""

    async def _async_soft_close(self) -> None:
        """Nothing to release asynchronously: the cursor closes as sqlite3's do."""


class LoopCursor(StreamingCursor):
    """Every other statement's cursor: its rows are read whole when it runs (as aiosqlite's adapter did), so a
    result left half-read never keeps the statement open, and with it an old read snapshot: once another
    process had written, the next BEGIN IMMEDIATE would fail (SQLITE_BUSY_SNAPSHOT) until it was freed."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        super().__init__(connection)
        self._rows: collections.deque[Any] = collections.deque()

    def execute(self, sql: str, parameters: Any = (), /) -> LoopCursor:
        super().execute(sql, parameters)
        self._rows = collections.deque(super().fetchall() if self.description else ())
        return self

    def executemany(self, sql: str, parameters: Any, /) -> LoopCursor:
        super().executemany(sql, parameters)
        self._rows = collections.deque()
        return self

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        count = min(self.arraysize if size is None else size, len(self._rows))
        return [self._rows.popleft() for _ in range(count)]

    def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows


class LoopConnection(sqlite3.Connection):
    def cursor(self, factory: Any = LoopCursor) -> Any:
        return super().cursor(factory)


async def _finished() -> None:
    """Awaited by every statement (see the module's docstring)."""


def _locked(error: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY or one of its extended codes (the primary code in the low byte)."""
    return getattr(error, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY


def _begin_when_unlocked(cursor: sqlite3.Cursor, statement: str) -> None:
    """BEGIN, tried again while another connection holds the write lock (the loop sleeping meanwhile)."""
    deadline = time.monotonic() + LOCK_PATIENCE
    wait = _FIRST_WAIT
    while True:
        try:
            cursor.execute(statement)
            return
        except sqlite3.OperationalError as error:
            if not _locked(error) or time.monotonic() + wait > deadline:
                raise
        await_(asyncio.sleep(wait))
        wait = min(wait * 2, _LONGEST_WAIT)


class SQLiteExecutionContext_inloop(SQLiteExecutionContext):
    def create_server_side_cursor(self) -> DBAPICursor:
        """A streamed read: its rows are read from SQLite as they are fetched."""
        return self._dbapi_connection.cursor(StreamingCursor)  # type: ignore[call-arg]


class SQLiteDialect_inloop(SQLiteDialect_pysqlite):
    driver = DRIVER_NAME
    supports_statement_cache = True
    is_async = True
    # A connection dropped without being returned (its holder garbage-collected) is closed, not left holding
    # the write lock for every later transaction.
    has_terminate = True
    supports_server_side_cursors = True
    execution_ctx_cls = SQLiteExecutionContext_inloop

    def __init__(self, begin_statement: str = "BEGIN IMMEDIATE", **kwargs: Any) -> None:
        """`begin_statement`, an engine argument: how its transactions begin (storage/engine.py)."""
        super().__init__(**kwargs)
        self.begin_statement = begin_statement

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        return pool.AsyncAdaptedQueuePool if cls._is_url_file_db(url) else pool.StaticPool

    def create_connect_args(self, url: URL) -> ConnectArgsType:
        arguments, options = super().create_connect_args(url)
        # timeout 0: no busy timeout (BEGIN waits asynchronously); the pool may close a connection elsewhere.
        return arguments, {**options, "factory": LoopConnection, "timeout": 0, "check_same_thread": False}

    def do_terminate(self, dbapi_connection: Any) -> None:
        dbapi_connection.close()

    def do_begin(self, dbapi_connection: Any) -> None:
        """The engine's BEGIN, run on the connection itself: through SQLAlchemy's path for a statement
        (execution context, events, result) it cost a tenth of a one-statement transaction's CPU."""
        cursor = dbapi_connection.cursor()
        try:
            _begin_when_unlocked(cursor, self.begin_statement)
        finally:
            cursor.close()

    def do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        cursor.execute(statement, parameters)
        await_(_finished())

    def do_execute_no_params(self, cursor: Any, statement: str, context: Any = None) -> None:
        cursor.execute(statement)
        await_(_finished())

    def do_executemany(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        cursor.executemany(statement, parameters)
        await_(_finished())


registry.register(f"sqlite.{DRIVER_NAME}", __name__, "SQLiteDialect_inloop")


def in_loop_url(url: URL) -> URL:
    """`sqlite+aiosqlite://…` → the same database through this dialect; any other URL unchanged."""
    if url.get_backend_name() == "sqlite" and url.get_driver_name() == "aiosqlite":
        return url.set(drivername=f"sqlite+{DRIVER_NAME}")
    return url
