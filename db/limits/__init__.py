"""Attempt limits that hold under concurrency: the one way a guess (a password, a code) is let
through a limit, for staff and member sign-in alike, and the one table (limit_attempt) that
counts them. Inside `deciding(...)`: `take` (count one, or raise when the limit is reached),
`check`, `add`, `tally`; afterwards `let_go` forgets attempts that turned out right.

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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable

from db.engine import as_datetime, is_sqlite, raw, writing
from db.errors import RateLimited

LOCK_WAIT = "5s"
BUSY_RETRY_S = 5  # what a request that could not get its turn is told to wait
# Attempts older than this count for nothing (the longest window is an hour) and are purged.
KEEP = timedelta(days=1)


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


# ---------------------------------------------------------------- the attempt store


@dataclass(frozen=True)
class Tally:
    """The attempts of one key inside a window."""

    n: int
    oldest: datetime | None
    newest: datetime | None

    def wait(self, window: timedelta, stamp: datetime) -> int:
        """Seconds until the oldest counted attempt leaves the window (at least 1)."""
        if self.oldest is None:
            return 1
        return max(1, int((self.oldest + window - stamp).total_seconds()) + 1)


async def tally(key: str, window: timedelta, stamp: datetime) -> Tally:
    rows = await raw("SELECT count(*) AS n, min(at) AS oldest, max(at) AS newest "
                     "FROM limit_attempt WHERE key = {} AND at > {}", key, stamp - window)
    row = rows[0]
    return Tally(row["n"], row["oldest"] and as_datetime(row["oldest"]),
                 row["newest"] and as_datetime(row["newest"]))


async def check(key: str, window: timedelta, limit: int, stamp: datetime,
                limited: Callable[[int], Exception] = RateLimited) -> None:
    """Raise `limited(seconds)` when `limit` attempts of this key are inside the window."""
    counted = await tally(key, window, stamp)
    if counted.n >= limit:
        raise limited(counted.wait(window, stamp))


async def add(key: str, stamp: datetime) -> int:
    """Count one attempt; its id, for let_go."""
    rows = await raw("INSERT INTO limit_attempt (key, at) VALUES ({}, {}) RETURNING id",
                     key, stamp)
    return rows[0]["id"]


async def take(key: str, window: timedelta, limit: int, stamp: datetime,
               limited: Callable[[int], Exception] = RateLimited) -> int:
    """check, then add: one attempt counted before anything is checked. Call it inside
    deciding(key, ...), so parallel attempts take turns."""
    await check(key, window, limit, stamp, limited)
    return await add(key, stamp)


async def let_go(ids: Iterable[int] = (), keys: Iterable[str] = ()) -> None:
    """Forget these attempts and every attempt of these keys (a right answer)."""
    ids, keys = list(ids), list(keys)
    if not ids and not keys:
        return
    where = " OR ".join(
        ([f"id IN ({', '.join('{}' for _ in ids)})"] if ids else [])
        + ([f"key IN ({', '.join('{}' for _ in keys)})"] if keys else []))
    async with writing():
        await raw(f"DELETE FROM limit_attempt WHERE {where}", *ids, *keys)


async def purge(stamp: datetime) -> None:
    """Keep the table small: attempts older than KEEP no longer count for anything."""
    await raw("DELETE FROM limit_attempt WHERE at < {}", stamp - KEEP)
