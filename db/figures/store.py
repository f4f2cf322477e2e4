"""The figure store: the dashboard's and the reports' figures, computed once and read many
times (issue 13: "figures may be precomputed by the nightly job and the ingest").

At 1,000,000 customers and 10M orders a dashboard computed live takes seconds; a manager
glancing at it on a phone should wait milliseconds. So a bundle of figures (one kind, one
period, one scope) is stored as JSON in `figure_entry` and `cached()` serves it:

- an entry no older than CRM_FIGURES_MAX_AGE_SECONDS (default 900) is returned as it is;
- an older one is returned too, with its time, and a `figures.refresh` job recomputes it in
  the background (stale-while-revalidate: nobody waits for the slow part, and the figures say
  how old they are); the job's unique key queues it once however many people look;
- without an entry, or with `fresh=True` (the dashboard's Refresh button), it is computed
  now, stored and returned;
- CRM_FIGURES_MAX_AGE_SECONDS=0 turns the store off: always computed live, nothing stored.

The key is the kind, the period's days, the effective customer scope and the channel: an
admin narrowed to team A shares the entry of A's managers (the figures are the same rows),
two admins share one, staff have their own (user and team: their scope is their customers
and their team's unassigned ones).

What a kind computes is registered here (`register`), by the layer that knows it: the
dashboard bundle by db/figures/bundle.py's caller (db/jobs/kinds.py), the reports' data by
reports/jobs.py (db never imports reports/). The refresh job finds it by the kind's name.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from db.clock import now
from db.customers.scope import Scope
from db.engine import as_datetime, engine, off_the_loop, raw, reading, writing
from db.figures import codec
from db.figures.filters import ReportFilter
from db.figures.period import Period
from db.jobs import queue
from db.settings import get_settings

log = logging.getLogger("crm.figures")

REFRESH_KIND = "figures.refresh"
KEEP = dt.timedelta(days=7)  # entries not recomputed for this long are pruned by the nightly job
MAX_KIND = 60

Compute = Callable[[Period, ReportFilter], Awaitable[Any]]
_computers: dict[str, Compute] = {}
# Computations running in this process, by key: a second asker waits for the first one's
# result instead of running the same seconds-long queries again (a cold start, a double tap).
_running: dict[str, asyncio.Task] = {}


@dataclass(frozen=True)
class Stored:
    value: Any  # what the kind's compute returned, back from JSON (db/figures/codec.py)
    computed_at: dt.datetime | None  # aware UTC; None: computed just now and not stored
    took_ms: int = 0
    stale: bool = False  # older than the maximum age: a refresh is queued


def register(kind: str, compute: Compute) -> None:
    """Say how figures of `kind` are computed (for the refresh job; the last one wins)."""
    if not kind or len(kind) > MAX_KIND or "|" in kind:
        raise ValueError(f"a figure kind is 1-{MAX_KIND} characters without '|': {kind!r}")
    _computers[kind] = compute


def computer(kind: str) -> Compute | None:
    return _computers.get(kind)


def max_age() -> int:
    """CRM_FIGURES_MAX_AGE_SECONDS: 0 turns the store off."""
    return get_settings().figures_max_age_seconds


def enabled() -> bool:
    return max_age() > 0


def key_for(kind: str, period: Period, filt: ReportFilter) -> str:
    """`dashboard|2026-11-01|2026-11-30|team|t3|c-`: the kind, the days, the effective scope
    (a team for managers and admins narrowed to one; user and team for staff) and channel."""
    scope = filt.customer_scope
    parts = [kind, period.start.isoformat(), period.end.isoformat(), scope.kind]
    if scope.kind == "own":
        parts.append(f"u{scope.user_id}")
    if scope.kind != "all":
        parts.append(f"t{'-' if scope.team_id is None else scope.team_id}")
    parts.append(f"c{filt.channel or '-'}")
    return "|".join(parts)


def _job_key(key: str) -> str:
    """The refresh job's unique key (job.unique_key holds 200 characters; a key fits, but a
    hash keeps that true whatever a kind is called)."""
    return "figures:" + hashlib.sha1(key.encode()).hexdigest()


# ---------------------------------------------------------------- the one entry point


async def cached(kind: str, period: Period, filt: ReportFilter, compute: Compute | None = None,
                 *, fresh: bool = False) -> Stored:
    """The figures of `kind` for the period and filter, from the store when it holds them
    (see the module's docstring for the policy). `compute` defaults to the registered one."""
    compute = compute or _computers.get(kind)
    if compute is None:
        raise LookupError(f"no figures of kind {kind!r} are registered")
    limit = max_age()
    if limit <= 0:
        text, took = await _compute(compute, period, filt)
        return Stored(codec.loads(text), None, took)
    key = key_for(kind, period, filt)
    if not fresh:
        found = await _read(key)
        if found is not None:
            if (now() - found.computed_at).total_seconds() <= limit:
                return found
            await _queue_refresh(kind, period, filt, key)
            return Stored(found.value, found.computed_at, found.took_ms, stale=True)
    return await _compute_once(key, compute, period, filt)


# ---------------------------------------------------------------- reading and writing entries


async def _read(key: str) -> Stored | None:
    rows = await raw("SELECT value, computed_at, took_ms FROM figure_entry WHERE key = {}", key)
    if not rows:
        return None
    try:
        value = codec.loads(rows[0]["value"])
    except ValueError:  # written by hand or cut short: computed again as if it were missing
        log.warning("figure entry %s does not decode; computing it again", key)
        return None
    return Stored(value, as_datetime(rows[0]["computed_at"]), int(rows[0]["took_ms"] or 0))


async def _compute(compute: Compute, period: Period, filt: ReportFilter) -> tuple[str, int]:
    """Run a computation on one read snapshot: its value as JSON and the milliseconds it took.
    Callers decode the JSON even when nothing is stored, so live and stored figures never
    differ, and each asker gets a copy of its own to add its links and words to."""
    started = time.perf_counter()
    with off_the_loop():  # seconds of SQLite reads must not stop the process's requests
        async with reading():
            value = await compute(period, filt)
    return codec.dumps(value), int((time.perf_counter() - started) * 1000)


async def _compute_once(key: str, compute: Compute, period: Period, filt: ReportFilter) -> Stored:
    if engine().current_transaction.get() is not None:  # the caller's transaction: join it
        text, stamp, took = await _compute_and_store(key, compute, period, filt)
        return Stored(codec.loads(text), stamp, took)
    task = _running.get(key)
    if task is None:
        # In a context of its own: the computation is shared, so it must not run on the
        # connection of whichever request happened to start it.
        task = asyncio.get_running_loop().create_task(
            _compute_and_store(key, compute, period, filt), context=contextvars.Context())
        _running[key] = task
        task.add_done_callback(lambda _t: _running.pop(key, None))
    text, stamp, took = await asyncio.shield(task)  # an asker that goes away stops no other
    return Stored(codec.loads(text), stamp, took)


async def _compute_and_store(key: str, compute: Compute, period: Period,
                             filt: ReportFilter) -> tuple[str, dt.datetime, int]:
    stamp = now().replace(microsecond=0)  # as of the start: the snapshot the queries read
    text, took = await _compute(compute, period, filt)
    await _put(key, text, stamp, took)
    return text, stamp, took


async def _put(key: str, text: str, stamp: dt.datetime, took_ms: int) -> None:
    """Upsert one entry (its JSON); a computation that began before the stored one never
    replaces it (a slow refresh finishing after the Refresh button's)."""
    async with writing():
        await raw(
            "INSERT INTO figure_entry (key, value, computed_at, took_ms) VALUES ({}, {}, {}, {}) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
            "computed_at = excluded.computed_at, took_ms = excluded.took_ms "
            "WHERE figure_entry.computed_at <= excluded.computed_at",
            key, text, stamp, took_ms)


async def prune(at: dt.datetime | None = None) -> int:
    """Forget entries not recomputed for KEEP (yesterday's presets, one-off ranges)."""
    async with writing():
        rows = await raw("DELETE FROM figure_entry WHERE computed_at < {} RETURNING id",
                         (at or now()) - KEEP)
    return len(rows)


async def clear() -> int:
    """Forget every entry (after a bulk load that went past the ingest, like `crm demo`)."""
    async with writing():
        return len(await raw("DELETE FROM figure_entry RETURNING id"))


async def holds(kind: str, period: Period, filt: ReportFilter) -> bool:
    """Whether the store has an entry (fresh or not) for these figures."""
    return bool(await raw("SELECT 1 AS x FROM figure_entry WHERE key = {}",
                          key_for(kind, period, filt)))


# ---------------------------------------------------------------- the refresh job


def _job_args(kind: str, period: Period, filt: ReportFilter) -> dict:
    s = filt.scope
    return {"kind": kind, "from": period.start.isoformat(), "to": period.end.isoformat(),
            "scope": {"kind": s.kind, "user_id": s.user_id, "team_id": s.team_id},
            "channel": filt.channel, "team": filt.team_id}


def _from_args(args: dict) -> tuple[str, Period, ReportFilter]:
    """The job's arguments back as a kind, period and filter; ValueError when they are not."""
    try:
        kind, scope = str(args["kind"]), args["scope"]
        period = Period(dt.date.fromisoformat(args["from"]), dt.date.fromisoformat(args["to"]))
        if scope["kind"] not in ("all", "team", "own") or period.end < period.start:
            raise ValueError("no such scope or range")
        ids = [None if v is None else int(v) for v in (scope["user_id"], scope["team_id"], args["team"])]
        channel = args.get("channel") or None
        return kind, period, ReportFilter(Scope(scope["kind"], ids[0], ids[1]), channel, ids[2])
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a refresh job's arguments: {exc!r}") from None


async def _queue_refresh(kind: str, period: Period, filt: ReportFilter, key: str) -> None:
    try:
        await queue.enqueue(REFRESH_KIND, _job_args(kind, period, filt), unique_key=_job_key(key),
                            max_attempts=2)
    except Exception:  # a busy database: the stale figures are still shown, the next view asks again
        log.exception("queueing a refresh of %s failed", key)


async def refresh_job(job: dict) -> None:
    """The `figures.refresh` job: compute one entry again, unless it became fresh meanwhile
    (the Refresh button, the nightly warm-up). Arguments that name no figures are dropped."""
    if not enabled():
        return
    try:
        kind, period, filt = _from_args(job.get("args") or {})
    except ValueError as exc:
        log.warning("figures.refresh job %s dropped: %s", job.get("id"), exc)
        return
    compute = _computers.get(kind)
    if compute is None:
        log.warning("figures.refresh job %s dropped: no figures of kind %r", job.get("id"), kind)
        return
    key = key_for(kind, period, filt)
    found = await _read(key)
    if found is not None and (now() - found.computed_at).total_seconds() <= max_age():
        return
    await _compute_once(key, compute, period, filt)
