"""SQLAlchemy's aiosqlite dialect with one trip to SQLite's thread per statement instead of three or four.

aiosqlite runs every sqlite3 call on a worker thread; each call is a hand-off there and a wake-up of the event
loop on return (about 35 µs of CPU). SQLAlchemy's adapter makes one call to open a cursor, one to execute, one
to fetch the rows and one to close the cursor, so an ordinary wizard step (ten statements) paid some forty
hand-offs. Here a statement's cursor is opened, executed, read to the end and closed in a single call, and what
SQLAlchemy reads afterwards (description, rowcount, lastrowid, the rows) is kept on the adapter. A transaction's
BEGIN (storage/engine.py sends BEGIN IMMEDIATE or DEFERRED) travels with its first statement.

It relies on aiosqlite's `Connection._execute(function)` and `Connection._conn` (the sqlite3 connection, used
only on aiosqlite's thread), private but unchanged since aiosqlite 0.17; the version is pinned in uv.lock and
the whole test suite runs on this dialect. Server-side cursors (streamed reads) keep SQLAlchemy's own adapter,
after sending a pending BEGIN.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    AsyncAdapt_aiosqlite_ss_cursor,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.engine import URL
from sqlalchemy.util.concurrency import await_

DRIVER_NAME = "aiosqlite_onehop"

_Outcome = tuple[Any, int, int | None, list[Any]]
_BEGINS = frozenset({"BEGIN", "BEGIN DEFERRED", "BEGIN IMMEDIATE", "BEGIN EXCLUSIVE"})


class _BeginFailed(Exception):
    """The pending BEGIN itself failed (the database locked past busy_timeout): its cause is the error."""


def _run(statement: Callable[[sqlite3.Cursor], object], connection: sqlite3.Connection, begin: str | None) -> _Outcome:
    """On aiosqlite's thread: begin the transaction if one is pending, run the statement on a new cursor, read
    every row, close the cursor."""
    cursor = connection.cursor()
    try:
        if begin is not None:
            try:
                cursor.execute(begin)
            except sqlite3.Error as error:
                raise _BeginFailed from error
        statement(cursor)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def _no_statement(_cursor: sqlite3.Cursor) -> None:
    """The pending BEGIN alone (before a streamed read, which runs on a cursor of its own)."""


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor adapter holding a finished statement's results; no sqlite3 cursor outlives `execute`."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = {}
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        """Nothing to close: the sqlite3 cursor was closed where it ran."""

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> None:
        if not parameters and isinstance(operation, str) and operation.upper() in _BEGINS:
            self._adapt_connection._pending_begin = operation  # sent with the transaction's first statement
            self._description, self._rowcount, self._lastrowid = None, -1, None
            return
        arguments = () if parameters is None else parameters
        self._run_on_thread(lambda cursor: cursor.execute(operation, arguments))

    def executemany(self, operation: Any, seq_of_parameters: Any) -> None:
        self._run_on_thread(lambda cursor: cursor.executemany(operation, seq_of_parameters))

    def _run_on_thread(self, statement: Callable[[sqlite3.Cursor], object]) -> None:
        try:
            outcome = await_(self._adapt_connection._on_thread(statement))  # type: ignore[attr-defined]
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = collections.deque(rows)

    def nextset(self) -> None:
        raise NotImplementedError("SQLite has one result set per statement")

    def setinputsizes(self, *inputsizes: Sequence[Any]) -> None:
        """sqlite3 ignores input sizes."""


class OneHopStreamingCursor(AsyncAdapt_aiosqlite_ss_cursor):
    """SQLAlchemy's server-side cursor (rows fetched as they are read), sending a pending BEGIN first."""

    __slots__ = ()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._adapt_connection._send_pending_begin()  # type: ignore[attr-defined]
        return await super()._execute_async(operation, parameters)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """`_pending_begin`: the BEGIN SQLAlchemy asked for, not yet sent. It goes with the transaction's first
    statement (one trip fewer a transaction); a transaction that ran no statement ends without any."""

    __slots__ = ("_pending_begin",)
    _cursor_cls = OneHopCursor
    _ss_cursor_cls = OneHopStreamingCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._pending_begin: str | None = None

    async def _on_thread(self, statement: Callable[[sqlite3.Cursor], object]) -> _Outcome:
        """The statement, after the pending BEGIN if any, in one call on aiosqlite's thread."""
        connection = self._connection
        async with self._execute_mutex:
            begin, self._pending_begin = self._pending_begin, None
            try:
                return await connection._execute(_run, statement, connection._conn, begin)  # type: ignore[attr-defined]
            except _BeginFailed as failed:
                self._pending_begin = begin  # no transaction began: it is still to begin (or to end unsent)
                raise failed.__cause__ from None  # type: ignore[misc]

    async def _send_pending_begin(self) -> None:
        if self._pending_begin is not None:
            await self._on_thread(_no_statement)

    def commit(self) -> None:
        if self._pending_begin is not None:
            self._pending_begin = None
            return
        super().commit()

    def rollback(self) -> None:
        if self._pending_begin is not None:
            self._pending_begin = None
            return
        super().rollback()


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)


class SQLiteDialect_onehop(SQLiteDialect_aiosqlite):
    driver = DRIVER_NAME
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneHopDBAPI:
        return OneHopDBAPI(__import__("aiosqlite"), __import__("sqlite3"))


registry.register(f"sqlite.{DRIVER_NAME}", __name__, "SQLiteDialect_onehop")


def one_hop_url(url: URL) -> URL:
    """`sqlite+aiosqlite://…` → the same database through this dialect; any other URL unchanged."""
    if url.get_backend_name() == "sqlite" and url.get_driver_name() == "aiosqlite":
        return url.set(drivername=f"sqlite+{DRIVER_NAME}")
    return url
