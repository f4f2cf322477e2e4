"""Running a points operation written as a generator of SQL steps, in one write transaction.

One piece of logic runs two ways: on the current Piccolo transaction when there is one
(order ingest, imports), or on SQLite on a plain sqlite3 connection (about ten times faster per
statement than aiosqlite, which lets the API sustain 1,000 operations a second) and on
PostgreSQL on a pooled asyncpg connection. The ledger and coupons both write through it.
"""

from __future__ import annotations

import asyncio
import contextvars
import fcntl
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, Callable, Generator

from db.engine import BUSY_TIMEOUT_S, engine, is_unique_violation, raw, writing

# An operation yields (sql, args) and is sent back each statement's rows.
Steps = Generator[tuple[str, tuple], list[dict], Any]
# Set while an operation runs on its own transaction: it may then skip the replay lookup.
optimistic: contextvars.ContextVar[bool] = contextvars.ContextVar("ledger_optimistic", default=False)


def _rows_of(cursor: sqlite3.Cursor) -> list[dict]:
    if cursor.description is None:
        return []
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


class _Busy(Exception):
    """SQLite's write lock is held by a longer writer: wait for it off the event loop."""


class _SqliteRunner:
    """Ledger transactions on plain sqlite3 connections (each statement about ten times
    cheaper than through aiosqlite).

    The usual path runs on the event loop itself, holding the process-shared file lock for
    well under a millisecond: no thread hand-offs inside the transaction, where waiting for
    the GIL (5 ms switch interval) while holding the write lock capped throughput at about
    600 operations a second. Ledger writers of all processes queue on that file lock, which
    the kernel hands on at once, instead of on SQLite's busy handler, which sleeps in growing
    steps of up to 100 ms. If some other writer (an import batch, say) holds SQLite's lock,
    the inline attempt gives up after INLINE_WAIT_MS and the operation waits in a thread.
    """

    INLINE_WAIT_MS = 20

    def __init__(self, path: str):
        self.path = path
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="points")
        self.inline = self._connect(self.INLINE_WAIT_MS / 1000)
        self.threaded: sqlite3.Connection | None = None
        self.lock = os.open(path + ".ledger-lock", os.O_RDWR | os.O_CREAT, 0o600)

    def _connect(self, timeout: float) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _inline(self, make: Callable[[], Steps]):
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        try:
            try:
                self.inline.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise _Busy() from exc
                raise
            return self._steps(self.inline, make)
        finally:
            fcntl.flock(self.lock, fcntl.LOCK_UN)

    def _threaded(self, make: Callable[[], Steps]):
        if self.threaded is None:
            self.threaded = self._connect(BUSY_TIMEOUT_S)
        self.threaded.execute("BEGIN IMMEDIATE")
        return self._steps(self.threaded, make)

    @staticmethod
    def _steps(conn: sqlite3.Connection, make: Callable[[], Steps]):
        try:
            steps = make()
            rows: list[dict] | None = None
            while True:
                try:
                    sql, args = steps.send(rows)
                except StopIteration as done:
                    conn.execute("COMMIT")
                    return done.value
                rows = _rows_of(conn.execute(sql.replace("{}", "?"), args))
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def run(self, make: Callable[[], Steps]):
        try:
            return self._inline(make)
        except _Busy:
            return await asyncio.get_running_loop().run_in_executor(self.pool, self._threaded, make)


_runner: _SqliteRunner | None = None


def _sqlite_runner() -> _SqliteRunner | None:
    """The fast path: SQLite, and no Piccolo transaction open (which it would have to join)."""
    global _runner
    eng = engine()
    if eng.engine_type != "sqlite" or eng.current_transaction.get() is not None:
        return None
    if _runner is None or _runner.path != eng.path:
        _runner = _SqliteRunner(eng.path)
    return _runner


@lru_cache(maxsize=256)
def _numbered(sql: str) -> str:
    """`{}` placeholders as asyncpg's $1, $2, …"""
    parts = sql.split("{}")
    return "".join(part + (f"${i + 1}" if i < len(parts) - 1 else "") for i, part in enumerate(parts))


async def _drive(make: Callable[[], Steps], fetch):
    """Feed each step's rows back into the operation until it returns its result."""
    steps = make()
    rows: list[dict] | None = None
    while True:
        try:
            sql, args = steps.send(rows)
        except StopIteration as done:
            return done.value
        rows = await fetch(sql, args)


async def _run_postgres(pool, make: Callable[[], Steps]):
    """Straight on a pooled asyncpg connection: its prepared-statement cache makes each of
    the operation's statements a single round trip."""
    async with pool.acquire() as conn:
        async with conn.transaction():
            async def fetch(sql, args):
                return [dict(r) for r in await conn.fetch(_numbered(sql), *args)]

            return await _drive(make, fetch)


async def _piccolo_fetch(sql: str, args: tuple) -> list[dict]:
    return await raw(sql, *args)


async def run_steps(make: Callable[[], Steps]):
    """Run a ledger operation in one write transaction (joining an open one), retrying once
    when a concurrent request with the same idempotency key won the race."""
    for attempt in range(2):
        try:
            fast = _sqlite_runner()
            eng = engine()
            pool = getattr(eng, "pool", None)
            # On its own transaction an operation may skip the replay lookup and let the
            # unique key catch a replay (then retried, looking first). Inside someone else's
            # transaction it looks first: on PostgreSQL an error would abort that transaction.
            optimistic.set(attempt == 0 and (fast is not None or (
                pool is not None and eng.current_transaction.get() is None)))
            if fast is not None:
                return await fast.run(make)
            if pool is not None and eng.current_transaction.get() is None:
                return await _run_postgres(pool, make)
            async with writing():
                return await _drive(make, _piccolo_fetch)
        except Exception as exc:
            if attempt or not is_unique_violation(exc):
                raise
    raise AssertionError("unreachable")


def dialect() -> str:
    return engine().engine_type
