"""The Piccolo engine for the configured database, and the two ways domain code touches it.

SQLite: WAL (readers never wait for the writer), foreign keys on, and a busy timeout so a
writer waits for another process instead of failing. Piccolo opens a connection per query
on SQLite, so a request's reads go through `reading()` (one connection) and every write
through `writing()` (an IMMEDIATE transaction: a deferred one that upgrades to a write fails
at once with "database is locked" when another process writes).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import os
import sqlite3
import sys
import threading
import time
from contextlib import asynccontextmanager, closing
from functools import lru_cache
from string import Formatter

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory

from db.settings import Settings

BUSY_TIMEOUT_S = 15


READ_BUSY_S = 2  # a read in WAL mode waits only for a checkpoint's moment, never a writer


class _SQLiteTransaction(SQLiteTransaction):
    """Piccolo's transaction whose BEGIN runs to its end even if the task is cancelled meanwhile.

    A cancelled `await` does not stop aiosqlite's thread: BEGIN IMMEDIATE still takes the write
    lock, and Piccolo, which never reached its `__aexit__`, would leave that connection open
    in its transaction: every later write in every process then fails "database is locked".
    A job worker that stops while a job writes is such a task. Here the cancellation waits
    for BEGIN, rolls back and closes the connection, then goes on."""

    async def begin(self):
        began = asyncio.ensure_future(super().begin())
        try:
            await asyncio.shield(began)
        except asyncio.CancelledError:
            await asyncio.wait([began], timeout=BUSY_TIMEOUT_S * 2)
            with contextlib.suppress(Exception):
                await asyncio.shield(self._let_go(began))
            raise

    async def _let_go(self, began: asyncio.Future) -> None:
        if began.done() and not began.cancelled() and began.exception() is None:
            await self.connection.execute("ROLLBACK")
        await self.connection.close()


class ShopSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine, with reads that do not pay for a connection each.

    Piccolo opens a new aiosqlite connection (a thread, a connect and a PRAGMA: 1 to 3 ms) for
    every statement outside a transaction, and repeats the PRAGMA before every statement in
    one. Here a SELECT outside a transaction runs on one plain sqlite3 connection kept per
    thread, in autocommit (WAL: each statement sees what was committed when it began and
    blocks no writer), with `query_only` on so a misrouted write fails loudly; an index lookup
    is then about 0.02 ms instead of 1.2 ms. Writes and transactions are Piccolo's own."""

    _readers = threading.local()
    _all_readers: list[sqlite3.Connection] = []  # one per thread that read (a handful)

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._readers, "conn", None)
        if conn is None or getattr(self._readers, "path", None) != self.path:
            # check_same_thread off only so close_readers() may close it; one thread uses it
            conn = sqlite3.connect(**{**self.connection_kwargs, "timeout": READ_BUSY_S},
                                   check_same_thread=False)
            conn.row_factory = dict_factory
            conn.execute("PRAGMA foreign_keys = 1")
            conn.execute("PRAGMA query_only = 1")
            self._readers.conn, self._readers.path = conn, self.path
            self._all_readers.append(conn)
        return conn

    def close_readers(self) -> None:
        """Close every kept reader (before the file is replaced underneath, as tests do)."""
        for conn in list(self._all_readers):
            conn.close()
        self._all_readers.clear()
        self._readers.__dict__.clear()

    def transaction(self, transaction_type: TransactionType = TransactionType.deferred,
                    allow_nested: bool = True) -> SQLiteTransaction:
        return _SQLiteTransaction(self, transaction_type, allow_nested)

    def run_select(self, query: str, args) -> list[dict]:
        """A SELECT (with `?` marks) on the kept reader: new dicts, one per row."""
        try:
            cursor = self._reader().execute(query, args)
        except sqlite3.ProgrammingError:  # closed by close_readers() from another thread
            self._readers.__dict__.clear()
            cursor = self._reader().execute(query, args)
        try:
            return cursor.fetchall()
        finally:
            cursor.close()  # ends the statement's read snapshot at once

    async def _run_in_new_connection(self, query, args=None, query_type="generic", table=None):
        if query.lstrip()[:6].upper() == "SELECT":
            if _OFF_THE_LOOP.get():
                return await asyncio.to_thread(self.run_select, query, args or [])
            return self.run_select(query, args or [])
        return await super()._run_in_new_connection(query, args, query_type, table)

    async def _run_in_existing_connection(self, connection, query, args=None,
                                          query_type="generic", table=None):
        # Transaction connections got `PRAGMA foreign_keys` when they were opened.
        async with connection.execute(query, args or []) as cursor:
            return await cursor.fetchall()


def make_engine(settings: Settings) -> Engine:
    if settings.is_sqlite:
        path = settings.sqlite_path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(path)) as conn:  # WAL is a property of the file: set it once
            conn.execute("PRAGMA journal_mode=WAL")
        return ShopSQLiteEngine(path=str(path), timeout=BUSY_TIMEOUT_S)
    url = settings.database_url
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    # Plan every statement for its own parameters: asyncpg prepares and caches statements,
    # and after five runs PostgreSQL may switch to a generic plan that cannot see the
    # search pattern (a backward scan of the whole table for a rare search term).
    return PostgresEngine(
        config={"dsn": url, "server_settings": {"plan_cache_mode": "force_custom_plan"}},
        extensions=("pg_trgm",),
    )


def engine() -> Engine:
    # Piccolo's engine_finder imports the conf module again on every call (a few µs, and raw()
    # asks for the engine per statement): read DB off the imported module while it is there.
    conf = sys.modules.get(os.environ.get("PICCOLO_CONF") or "piccolo_conf")
    found = getattr(conf, "DB", None)
    if found is not None:  # (isinstance of Piccolo's abstract Engine costs more than the rest)
        return found
    from piccolo.engine.finder import engine_finder

    found = engine_finder()
    assert found is not None, "piccolo_conf.DB is not configured"
    return found


def is_sqlite() -> bool:
    return engine().engine_type == "sqlite"


_OFF_THE_LOOP = contextvars.ContextVar("off_the_loop", default=False)


@contextlib.contextmanager
def off_the_loop():
    """Reads inside this block that may take seconds (a year of figures over ten million
    orders) run on SQLite in a worker thread, on that thread's own kept reader: the kept
    reader is called on the event loop's thread otherwise, which is right for the
    millisecond reads of a page but would stop every other request of the process meanwhile.
    (PostgreSQL's driver never blocks the loop.)"""
    token = _OFF_THE_LOOP.set(True)
    try:
        yield
    finally:
        _OFF_THE_LOOP.reset(token)


@asynccontextmanager
async def writing():
    """A write transaction that waits its turn on SQLite and joins an outer one if any."""
    eng = engine()
    if eng.current_transaction.get() is not None:
        yield
        return
    if eng.engine_type == "sqlite":
        async with eng.transaction(transaction_type=TransactionType.immediate):
            yield
    else:
        async with eng.transaction():
            yield


@asynccontextmanager
async def reading():
    """Group a request's reads on one connection: on PostgreSQL one transaction (one
    snapshot); on SQLite the kept reader connection already is one (ShopSQLiteEngine)."""
    eng = engine()
    if eng.current_transaction.get() is not None or eng.engine_type == "sqlite":
        yield
        return
    async with eng.transaction():
        yield


@lru_cache(maxsize=1024)
def _sqlite_select(sql: str) -> tuple[str, int] | None:
    """A raw() SELECT as sqlite3 takes it (`?` for each `{}`, `{{` as `{`, as Piccolo's
    QueryString compiles it) and its count of marks; None for anything but a SELECT."""
    if sql.lstrip()[:6].upper() != "SELECT":
        return None
    parts = list(Formatter().parse(sql))
    marks = sum(1 for _, field, _, _ in parts if field is not None)
    return "".join(text + ("?" if field is not None else "") for text, field, _, _ in parts), marks


async def raw(sql: str, *args):
    """Run SQL with `{}` placeholders on the current transaction's connection, if any."""
    from piccolo.querystring import QueryString

    eng = engine()
    if type(eng) is ShopSQLiteEngine and not eng.log_queries and eng.current_transaction.get() is None:
        # A read outside a transaction goes straight to the kept reader: what Piccolo's
        # QueryString and run_querystring would send it, without their 10 µs a statement.
        compiled = _sqlite_select(sql)
        if compiled is not None and compiled[1] == len(args) and not any(
                isinstance(a, QueryString) for a in args):
            if _OFF_THE_LOOP.get():
                return await asyncio.to_thread(eng.run_select, compiled[0], args)
            return eng.run_select(compiled[0], args)
    rows = await eng.run_querystring(QueryString(sql, *args))
    return [dict(row) for row in rows]  # asyncpg gives read-only Records


def as_datetime(value):
    """A time from raw(): aggregates and raw SQL bypass Piccolo's converters on SQLite and come
    back as text; a time without an offset is UTC (how Piccolo stores them)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if value else None
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value


def as_date(value):
    """A date from raw(): text on SQLite (possibly with a time after it), "" for none."""
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10]) if value else None
    return value


def sqlite_timestamp(t: int) -> str:
    """An epoch second as Piccolo's SQLite adapter writes an aware datetime (UTC,
    `str(datetime)`): for bulk loads that bypass Piccolo."""
    return time.strftime("%Y-%m-%d %H:%M:%S+00:00", time.gmtime(t))


def postgres_timestamp(t: int) -> dt.datetime:
    """An epoch second as the aware datetime asyncpg writes: for bulk loads (COPY)."""
    return dt.datetime.fromtimestamp(t, dt.timezone.utc)


MAX_ID = 2**31 - 1  # Serial ids are 32-bit on PostgreSQL (and SQLite stores what we give it)


def parse_id(value) -> int | None:
    """A database id from a form field, query string or URL, or None for anything else ("",
    "abc", "²", "１２", 40 digits or 2147483648: a 32-bit id column would overflow)."""
    text = str(value or "")
    if not (text.isascii() and text.isdecimal() and len(text) <= 10):
        return None
    number = int(text)
    return number if number <= MAX_ID else None


def in_list(column: str, items: list, pg_type: str = "integer") -> tuple[str, list]:
    """`column IN (...)` on SQLite, `column = ANY(array)` on PostgreSQL (one parameter,
    however long the list)."""
    if is_sqlite():
        return f"{column} IN ({', '.join('{}' for _ in items)})", list(items)
    return f"{column} = ANY({{}}::{pg_type}[])", [list(items)]


def like_escape(text: str) -> str:
    """Text for a LIKE pattern with ESCAPE '\\': its own %, _ and \\ match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def is_unique_violation(exc: BaseException) -> bool:
    """True for a unique-index violation on either engine (a concurrent insert won)."""
    if isinstance(exc, sqlite3.IntegrityError):
        return "UNIQUE" in str(exc)
    return type(exc).__name__ == "UniqueViolationError"
