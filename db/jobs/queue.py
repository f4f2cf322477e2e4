"""Durable background jobs in the database: one mechanism for all background work.

The pattern of Oban and Rails' Solid Queue. A job is a row in `job` (kind, JSON args, status
queued → running → done | failed, run_after, attempts). Every app process runs one
`run_worker` loop that claims due jobs of the kinds it runs, runs their handlers and records
the outcome:

- **Claims** move jobs to `running` with a lease (`locked_by`, `locked_until`) in one short
  write transaction: PostgreSQL takes rows with `FOR UPDATE SKIP LOCKED`, so concurrent
  claimers take different jobs; on SQLite the `BEGIN IMMEDIATE` transaction of
  `db.engine.writing()` makes claims take turns. A running job's lease is renewed while its
  handler runs; a job whose process died keeps a lease that runs out, and then any process
  claims it again.
- **Enqueue** joins the caller's transaction when there is one, so work is queued if and only
  if the change that caused it commits. A `unique_key` is unique among the queued and running
  jobs (a partial unique index): enqueueing it again meanwhile is a no-op.
- **Failures** are retried with exponential back-off and jitter until `max_attempts`; then
  the job is `failed` with its last error, and an admin may retry it (/admin/jobs).
- **Recurring work** (the reminder poll, the push sender's wake-up) is one row per kind with
  a fixed unique key that is put back to `queued` with its next run_after after each run;
  daily work (the nightly job) enqueues the next day's job under that day's key.

This module knows no domain: the kinds and their handlers are registered by db/jobs/kinds.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import random
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from db.clock import now
from db.engine import as_datetime, is_sqlite, is_unique_violation, raw, writing

log = logging.getLogger("crm.jobs")

LEASE = dt.timedelta(minutes=2)  # a claimed job's lease; renewed every HEARTBEAT_S while it runs
HEARTBEAT_S = 30.0
POLL_S = 1.0  # how often an idle worker looks for due jobs
CONCURRENCY = 8  # jobs one process runs at once
MAX_ATTEMPTS = 5
BACKOFF_BASE_S = 15.0
MAX_BACKOFF_S = 6 * 3600.0
PAGE = 50  # rows per page on the admin page
KEEP_DONE = dt.timedelta(days=7)
KEEP_FAILED = dt.timedelta(days=30)


@dataclass(frozen=True)
class Kind:
    name: str
    handler: Callable[[dict], Awaitable[object]]  # gets the job (args decoded)
    every: Callable[[], float] | None = None  # recurring: seconds until the next run
    max_attempts: int = MAX_ATTEMPTS


_registry: dict[str, Kind] = {}


def register(name: str, handler: Callable[[dict], Awaitable[object]], *,
             every: Callable[[], float] | None = None, max_attempts: int = MAX_ATTEMPTS) -> None:
    """Say which async function runs jobs of `kind` (the last registration wins)."""
    _registry[name] = Kind(name, handler, every, max_attempts)


def registered() -> dict[str, Kind]:
    return dict(_registry)


# ---------------------------------------------------------------- wake-ups in this process


_events: set[asyncio.Event] = set()  # one per run_worker() in this process
_woken: set[str] = set()  # kinds whose queued jobs this process should run now, due or not


def wake(kind: str | None = None) -> None:
    """Tell this process's worker to look for jobs now; with a kind, its queued jobs count as
    due now (a recurring job's next poll is brought forward)."""
    if kind is not None:
        _woken.add(kind)
    for event in list(_events):
        event.set()


# ---------------------------------------------------------------- enqueue


def _json(args: dict | None) -> str:
    return json.dumps(args or {}, ensure_ascii=False, separators=(",", ":"), default=str)


async def enqueue(kind: str, args: dict | None = None, *, unique_key: str | None = None,
                  run_after: dt.datetime | None = None,
                  max_attempts: int | None = None) -> int | None:
    """Queue a job; returns its id, or None when a job with this unique_key is already queued
    or running. Inside a transaction it joins it (the job exists only if that commits)."""
    if max_attempts is None:
        max_attempts = _registry[kind].max_attempts if kind in _registry else MAX_ATTEMPTS
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    stamp = now()
    due = run_after or stamp
    async with writing():
        rows = await raw(
            "INSERT INTO job (kind, args, unique_key, status, run_after, attempts, max_attempts, "
            "locked_by, last_error, created_at, updated_at) "
            "VALUES ({}, {}, {}, 'queued', {}, 0, {}, '', '', {}, {}) "
            "ON CONFLICT DO NOTHING RETURNING id",
            kind, _json(args), unique_key, due, max_attempts, stamp, stamp,
        )
    if not rows:
        return None
    if due <= stamp:
        wake()
    return rows[0]["id"]


# ---------------------------------------------------------------- claim and outcomes


def worker_id() -> str:
    """This worker's name in `locked_by`: host, process and a random part (a process may run
    more than one worker, as the tests do)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def _marks(items) -> str:
    return ", ".join("{}" for _ in items)


def _decode(row: dict) -> dict:
    row = dict(row)
    for key in ("run_after", "locked_until", "created_at", "updated_at", "finished_at"):
        if key in row:
            row[key] = as_datetime(row[key])
    if isinstance(row.get("args"), str):
        try:
            row["args"] = json.loads(row["args"])
        except ValueError:
            row["args"] = {}
    return row


_COLUMNS = "id, kind, args, unique_key, status, run_after, attempts, max_attempts, locked_by"


async def claim(worker: str, kinds: Iterable[str], limit: int,
                woken: Iterable[str] = ()) -> list[dict]:
    """Take up to `limit` due jobs of these kinds for `worker`: queued ones whose run_after has
    come (or of a `woken` kind), and running ones whose lease ran out. A job whose lease ran
    out on its last attempt is failed instead (its handler kills its process, say)."""
    kinds, woken = list(kinds), [k for k in woken if k in kinds]
    if not kinds or limit < 1:
        return []
    stamp = now()
    due = "(status = 'queued' AND (run_after <= {}" + (
        f" OR kind IN ({_marks(woken)})" if woken else "") + ")) OR (status = 'running' AND locked_until < {})"
    where = f"kind IN ({_marks(kinds)}) AND ({due})"
    params = [*kinds, stamp, *woken, stamp]
    # Most polls find nothing: a plain read first, so an idle worker never takes the write lock.
    if not await raw(f"SELECT id FROM job WHERE {where} LIMIT 1", *params):
        return []
    lock = "" if is_sqlite() else " FOR UPDATE SKIP LOCKED"
    async with writing():
        await raw(
            "UPDATE job SET status = 'failed', locked_by = '', locked_until = NULL, "
            "finished_at = {}, updated_at = {}, last_error = {} "
            f"WHERE id IN (SELECT id FROM job WHERE kind IN ({_marks(kinds)}) AND status = 'running' "
            f"AND locked_until < {{}} AND attempts >= max_attempts{lock})",
            stamp, stamp, "the process running it stopped on its last attempt", *kinds, stamp,
        )
        rows = await raw(
            "UPDATE job SET status = 'running', locked_by = {}, locked_until = {}, "
            "attempts = attempts + 1, updated_at = {} "
            f"WHERE id IN (SELECT id FROM job WHERE {where} ORDER BY run_after, id LIMIT {{}}{lock}) "
            f"RETURNING {_COLUMNS}",
            worker, stamp + LEASE, stamp, *params, limit,
        )
    return sorted((_decode(r) for r in rows), key=lambda r: (r["run_after"], r["id"]))


async def heartbeat(worker: str, ids: list[int]) -> None:
    """Renew the leases of the jobs this worker is running."""
    if ids:
        stamp = now()
        async with writing():
            await raw(f"UPDATE job SET locked_until = {{}} WHERE id IN ({_marks(ids)}) "
                      "AND status = 'running' AND locked_by = {}", stamp + LEASE, *ids, worker)


async def complete(job: dict, worker: str) -> bool:
    """The job is done (False if its lease had run out and another worker took it)."""
    stamp = now()
    async with writing():
        rows = await raw(
            "UPDATE job SET status = 'done', locked_by = '', locked_until = NULL, last_error = '', "
            "finished_at = {}, updated_at = {} "
            "WHERE id = {} AND status = 'running' AND locked_by = {} RETURNING id",
            stamp, stamp, job["id"], worker)
    return bool(rows)


def backoff(attempts: int) -> float:
    """Seconds before the next attempt: BACKOFF_BASE_S × 2^(attempts-1), at most
    MAX_BACKOFF_S, half of it random (jobs that failed together do not retry together)."""
    delay = min(MAX_BACKOFF_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1))
    return delay / 2 + random.uniform(0, delay / 2)


async def fail(job: dict, worker: str, error: str) -> str:
    """Record a failed attempt: queued again after a back-off, or `failed` after the last
    attempt. Returns the new status ("" if another worker holds the job now)."""
    stamp = now()
    last = job["attempts"] >= job["max_attempts"]
    status = "failed" if last else "queued"
    run_after = job["run_after"] if last else stamp + dt.timedelta(seconds=backoff(job["attempts"]))
    async with writing():
        rows = await raw(
            "UPDATE job SET status = {}, run_after = {}, locked_by = '', locked_until = NULL, "
            "last_error = {}, finished_at = {}, updated_at = {} "
            "WHERE id = {} AND status = 'running' AND locked_by = {} RETURNING id",
            status, run_after, error[:2000], stamp if last else None, stamp, job["id"], worker)
    return status if rows else ""


async def reschedule(job: dict, worker: str, at: dt.datetime, error: str = "") -> bool:
    """A recurring job ran: the same row waits for its next run (attempts start again)."""
    async with writing():
        rows = await raw(
            "UPDATE job SET status = 'queued', run_after = {}, attempts = 0, locked_by = '', "
            "locked_until = NULL, last_error = {}, updated_at = {} "
            "WHERE id = {} AND status = 'running' AND locked_by = {} RETURNING id",
            at, error[:2000], now(), job["id"], worker)
    return bool(rows)


async def release(worker: str, ids: list[int]) -> None:
    """Put back jobs this worker stops running at shut-down (the attempt does not count)."""
    if ids:
        async with writing():
            await raw("UPDATE job SET status = 'queued', locked_by = '', locked_until = NULL, "
                      "attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, "
                      f"updated_at = {{}} WHERE id IN ({_marks(ids)}) AND status = 'running' "
                      "AND locked_by = {}", now(), *ids, worker)


async def retry(job_id: int) -> bool:
    """A failed job goes back to the queue with fresh attempts; False if it is not failed, or
    a job with its unique key is already queued or running."""
    stamp = now()
    try:
        async with writing():
            rows = await raw(
                "UPDATE job SET status = 'queued', attempts = 0, run_after = {}, finished_at = NULL, "
                "updated_at = {} WHERE id = {} AND status = 'failed' RETURNING id",
                stamp, stamp, job_id)
    except Exception as exc:
        if is_unique_violation(exc):
            return False
        raise
    if rows:
        wake()
    return bool(rows)


async def prune(at: dt.datetime | None = None) -> int:
    """Forget done jobs after KEEP_DONE and failed ones after KEEP_FAILED."""
    at = at or now()
    async with writing():
        rows = await raw("DELETE FROM job WHERE (status = 'done' AND finished_at < {}) OR "
                         "(status = 'failed' AND finished_at < {}) RETURNING id",
                         at - KEEP_DONE, at - KEEP_FAILED)
    return len(rows)


# ---------------------------------------------------------------- what the admin page shows


async def counts() -> list[dict]:
    """Jobs per kind and status: [{kind, queued, running, done, failed}], by kind."""
    rows = await raw("SELECT kind, status, COUNT(*) AS n FROM job GROUP BY kind, status")
    by_kind: dict[str, dict] = {}
    for row in rows:
        entry = by_kind.setdefault(row["kind"], {"kind": row["kind"], "queued": 0, "running": 0,
                                                 "done": 0, "failed": 0})
        if row["status"] in entry:
            entry[row["status"]] = int(row["n"])
    return [by_kind[k] for k in sorted(by_kind)]


LISTED = ("queued", "running", "failed")


async def listing(status: str | None = None, before: int | None = None,
                  limit: int = PAGE) -> tuple[list[dict], int | None]:
    """Queued, running and failed jobs (or one of those statuses), newest first, a page at a
    time: (rows, the id to pass as `before` for the next page, or None)."""
    statuses = [status] if status in LISTED else list(LISTED)
    where = f"status IN ({_marks(statuses)})"
    params: list = list(statuses)
    if before is not None:
        where += " AND id < {}"
        params.append(before)
    rows = await raw(
        "SELECT id, kind, args, unique_key, status, run_after, attempts, max_attempts, locked_by, "
        f"locked_until, last_error, created_at, updated_at FROM job WHERE {where} "
        "ORDER BY id DESC LIMIT {}", *params, limit + 1)
    rows = [_decode(r) for r in rows]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1]["id"] if more and rows else None)


# ---------------------------------------------------------------- the worker


async def _to_the_end(coro, undo=None):
    """Run a short write to its end even if the worker is cancelled meanwhile (then re-raise):
    a write cancelled while aiosqlite's thread is opening `BEGIN IMMEDIATE` would leave that
    connection holding the write lock with nobody to commit or close it. `undo(result)`, if
    given, runs on what the write did before the cancellation goes on (claimed jobs go back)."""
    task = asyncio.ensure_future(coro)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task], timeout=30)
        if undo is not None and task.done() and not task.cancelled() and task.exception() is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(undo(task.result())), 30)
        raise


async def _run_one(job: dict, worker: str) -> None:
    kind = _registry[job["kind"]]
    error = ""
    try:
        await kind.handler(job)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - a job's failure is recorded, never fatal
        log.exception("job %s (%s) failed", job["id"], job["kind"])
        error = f"{type(exc).__name__}: {exc}"
    if kind.every is not None:
        soon = job["kind"] in _woken  # woken while it ran: run again at once
        _woken.discard(job["kind"])
        delay = 0.0 if soon else kind.every()
        await _to_the_end(reschedule(job, worker, now() + dt.timedelta(seconds=delay), error))
    elif error:
        await _to_the_end(fail(job, worker, error))
    else:
        await _to_the_end(complete(job, worker))


async def run_worker(kinds: Iterable[str] | None = None, *, concurrency: int = CONCURRENCY,
                     poll_seconds: float = POLL_S) -> None:
    """The one background loop of a process: claim due jobs of `kinds` (default: every
    registered kind), run up to `concurrency` at once, renew their leases, and sleep
    `poll_seconds` (or until `wake()`) when there is nothing to do. On cancellation the jobs
    still running are stopped and put back in the queue."""
    names = [k for k in (kinds if kinds is not None else _registry) if k in _registry]
    worker = worker_id()
    event = asyncio.Event()
    _events.add(event)
    running: dict[int, asyncio.Task] = {}
    beat = asyncio.create_task(_heartbeats(worker, running))
    try:
        while True:
            event.clear()
            free = concurrency - len(running)
            claimed: list[dict] = []
            if free > 0 and names:
                woken = [k for k in names if k in _woken and not _running_kind(running, k)]
                try:
                    claimed = await _to_the_end(
                        claim(worker, names, free, woken),
                        undo=lambda jobs: release(worker, [j["id"] for j in jobs]))
                except asyncio.CancelledError:
                    raise
                except Exception:  # the database may be restarting: try again next poll
                    log.exception("job claim failed")
                for job in claimed:
                    _woken.discard(job["kind"])
                    task = asyncio.create_task(_run_one(job, worker), name=f"job-{job['id']}")
                    task.job = job  # type: ignore[attr-defined]
                    running[job["id"]] = task
                    task.add_done_callback(lambda t, i=job["id"]: running.pop(i, None))
                    task.add_done_callback(_log_crash)
                if claimed and len(claimed) == free:
                    continue  # there may be more
            waiters = [asyncio.ensure_future(event.wait())]
            try:
                await asyncio.wait([*waiters, *running.values()], timeout=poll_seconds,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()
    finally:
        _events.discard(event)
        beat.cancel()
        tasks = list(running.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await release(worker, [t.job["id"] for t in tasks])  # type: ignore[attr-defined]


def _running_kind(running: dict[int, asyncio.Task], kind: str) -> bool:
    return any(t.job["kind"] == kind for t in running.values())  # type: ignore[attr-defined]


def _log_crash(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("recording a job's outcome failed", exc_info=task.exception())


async def _heartbeats(worker: str, running: dict[int, asyncio.Task]) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_S)
        try:
            await _to_the_end(heartbeat(worker, list(running)))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job heartbeat failed")
