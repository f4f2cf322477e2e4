"""Attempt limits that hold under concurrency: the one way a guess (a password, a code) is let
through a limit, for staff and member sign-in alike.

A guess is counted before its secret is checked, in the transaction that decides whether it
may be checked at all, so N guesses sent at once evaluate at most the limit, on SQLite with
several processes and on PostgreSQL:
- SQLite: the decision runs in an IMMEDIATE transaction, so deciders take turns;
- PostgreSQL: READ COMMITTED would let parallel deciders all read the same count, so each key
  is held with a transaction-level advisory lock first (in sorted order: no deadlock).
Waiting for that turn is bounded: a writer that cannot get in within the engine's busy
timeout (SQLite) or LOCK_WAIT (PostgreSQL) is answered as rate limited, never with a 500.
"""

from __future__ import annotations

import sqlite3
from contextlib import asynccontextmanager
from typing import Callable

from db.engine import is_sqlite, raw, writing
from db.errors import RateLimited

LOCK_WAIT = "5s"
BUSY_RETRY_S = 5  # what a request that could not get its turn is told to wait


def is_lock_timeout(exc: BaseException) -> bool:
    """SQLite's "database is locked" after its busy timeout, or PostgreSQL's lock_timeout."""
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return "locked" in text or "busy" in text
    return type(exc).__name__ in {"LockNotAvailableError", "QueryCanceledError"}


@asynccontextmanager
async def deciding(*keys: str, busy: Callable[[int], Exception] = RateLimited):
    """A write transaction in which the given limit keys are decided one request at a time;
    `busy(seconds)` is raised when the turn did not come in time."""
    try:
        async with writing():
            if not is_sqlite():
                await raw(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'")
                for key in sorted(set(keys)):
                    await raw("SELECT pg_advisory_xact_lock(hashtextextended({}, 0))", key)
            yield
    except Exception as exc:
        if is_lock_timeout(exc):
            raise busy(BUSY_RETRY_S) from None
        raise
