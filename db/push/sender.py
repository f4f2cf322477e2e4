"""Deliver the outbox: claim due messages, send them concurrently, record what happened.

The sender runs as the `push.send` job (db/jobs: one recurring row, run every
CRM_PUSH_POLL_SECONDS or at once when this process queues a message) whose handler is
`drain()`; `run_sender()` is the same as a standalone loop (tests, benchmarks). The outbox
rows keep their own claims and retry rules. A message goes to exactly one process: the claim moves
it to `sending` with a lease in one short write transaction (PostgreSQL: FOR UPDATE SKIP
LOCKED, so concurrent claimers take different rows; SQLite: the IMMEDIATE transaction makes
claims take turns). A process that dies mid-send leaves a lease that runs out after LEASE, and
then any process claims the message again.

Requests go through one shared aiohttp session, at most CRM_PUSH_CONCURRENCY at once, each
bounded by CRM_PUSH_TIMEOUT_SECONDS, so one slow push service cannot hold back the rest; results
are written in batches while the others are still in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.utils
import logging
import random
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from pywebpush import WebPusher

from db.clock import now
from db.engine import is_sqlite, raw, writing
from db.push.outbox import sender_events
from db.push.subscriptions import endpoint_problem
from db.push.vapid import signer
from db.settings import get_settings

log = logging.getLogger("crm.push")
LEASE = dt.timedelta(minutes=2)
MAX_DELAY_S = 3600  # the longest back-off between two attempts
MAX_RETRY_AFTER_S = 86400  # a push service's Retry-After beyond this is not believed
FLUSH_EVERY = 100  # results written per batch while the rest of a pass is still sending
PASSES_IN_FLIGHT = 2  # run_sender claims the next batch while a straggler finishes the last
VAPID_LIFETIME_S = 12 * 3600
VAPID_RENEW_S = 3600  # sign a fresh token this long before the cached one expires


@dataclass
class Outcome:
    message_id: int
    subscription_id: int
    kind: str  # sent | gone | retry | failed
    status: int | None = None
    error: str = ""
    retry_at: dt.datetime | None = None


# ---------------------------------------------------------------- VAPID


_vapid_cache: dict[tuple[str, str], tuple[str, float]] = {}


def vapid_header(endpoint: str) -> str:
    """`vapid t=<JWT>, k=<public key>` for the push service behind this endpoint, cached per
    audience (scheme://host) until an hour before its 12-hour expiry. The claims dict is new
    on every signature: pywebpush and py_vapid write into the one they are given."""
    settings = get_settings()
    parts = urlsplit(endpoint)
    audience = f"{parts.scheme}://{parts.netloc}"
    key = (audience, settings.push_contact)
    cached = _vapid_cache.get(key)
    if cached and cached[1] - VAPID_RENEW_S > time.time():
        return cached[0]
    exp = int(time.time()) + VAPID_LIFETIME_S
    claims = {"sub": settings.push_contact, "aud": audience, "exp": exp}
    header = signer(settings.data_dir).sign(claims)["Authorization"]
    _vapid_cache[key] = (header, exp)
    return header


# ---------------------------------------------------------------- claim


_CLAIM = (
    "UPDATE push_message SET state = 'sending', lease_until = {}, attempts = attempts + 1 "
    "WHERE id IN (SELECT id FROM push_message "
    "WHERE (state = 'pending' AND not_before <= {}) OR (state = 'sending' AND lease_until < {}) "
    "ORDER BY not_before, id LIMIT {}%s) RETURNING id"
)


async def claim(limit: int) -> list[dict]:
    """Take up to `limit` due messages (and expired leases) for this process."""
    stamp = now()
    lock = "" if is_sqlite() else " FOR UPDATE SKIP LOCKED"
    async with writing():
        taken = await raw(_CLAIM % lock, stamp + LEASE, stamp, stamp, limit)
        if not taken:
            return []
        ids = [row["id"] for row in taken]
        marks = ", ".join("{}" for _ in ids)
        return await raw(
            "SELECT m.id, m.subscription, m.payload, m.urgency, m.ttl, m.attempts, "
            "s.endpoint, s.p256dh, s.auth FROM push_message m "
            f"JOIN push_subscription s ON s.id = m.subscription WHERE m.id IN ({marks})", *ids)


# ---------------------------------------------------------------- one request


def backoff(attempts: int) -> float:
    """CRM_PUSH_RETRY_SECONDS × 2^(attempts-1), at most an hour, with jitter (half fixed,
    half random) so devices that failed together do not retry together."""
    base = get_settings().push_retry_seconds
    delay = min(MAX_DELAY_S, base * 2 ** max(0, attempts - 1))
    return delay / 2 + random.uniform(0, delay / 2)


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return min(max(0.0, (when - now()).total_seconds()), MAX_RETRY_AFTER_S)


def _retry(msg: dict, status: int | None, error: str, delay: float | None = None) -> Outcome:
    if msg["attempts"] >= get_settings().push_max_attempts:
        return Outcome(msg["id"], msg["subscription"], "failed", status, f"gave up: {error}")
    wait = backoff(msg["attempts"]) if delay is None else delay
    return Outcome(msg["id"], msg["subscription"], "retry", status, error,
                   now() + dt.timedelta(seconds=wait))


def classify(msg: dict, status: int, headers) -> Outcome:
    if 200 <= status < 300:
        return Outcome(msg["id"], msg["subscription"], "sent", status)
    if status in (404, 410):  # the browser unsubscribed or the subscription expired
        return Outcome(msg["id"], msg["subscription"], "gone", status, "subscription gone")
    if status == 429:
        return _retry(msg, status, "rate limited", retry_after(headers.get("Retry-After")))
    if status >= 500:
        return _retry(msg, status, f"push service error {status}")
    # 400 bad request, 401/403 VAPID refused, 413 payload too large: retrying cannot help
    return Outcome(msg["id"], msg["subscription"], "failed", status, f"refused with {status}")


async def deliver(msg: dict, session: aiohttp.ClientSession) -> Outcome:
    """One message to one push service; never raises."""
    if (problem := endpoint_problem(msg["endpoint"])) is not None:
        # CRM_PUSH_ALLOWED_HOSTS changed since the browser subscribed: never fetch it.
        return Outcome(msg["id"], msg["subscription"], "failed", None, f"endpoint {problem}")
    ttl = int(msg["ttl"]) or 86400
    info = {"endpoint": msg["endpoint"], "keys": {"p256dh": msg["p256dh"], "auth": msg["auth"]}}
    try:
        headers = {"Authorization": vapid_header(msg["endpoint"]), "Urgency": msg["urgency"],
                   "TTL": str(ttl)}
        pusher = WebPusher(info, aiohttp_session=session)
        response = await pusher.send_async(
            msg["payload"].encode(), headers, ttl=ttl, content_encoding="aes128gcm",
            timeout=aiohttp.ClientTimeout(total=get_settings().push_timeout_seconds))
    except (asyncio.TimeoutError, aiohttp.ClientError, OSError) as exc:
        return _retry(msg, None, f"{type(exc).__name__}: {exc}"[:500])
    except Exception as exc:  # bad keys and the like: the same message would fail again
        log.warning("push message %s cannot be sent: %r", msg["id"], exc)
        return Outcome(msg["id"], msg["subscription"], "failed", None, repr(exc)[:500])
    outcome = classify(msg, response.status, response.headers)
    if outcome.kind == "failed":
        log.warning("push message %s refused: %s %s", msg["id"], response.status,
                    urlsplit(msg["endpoint"]).hostname)
    return outcome


# ---------------------------------------------------------------- record results


def _in(ids) -> str:
    return ", ".join("{}" for _ in ids)


async def _mark_sent(outcomes: list[Outcome], stamp: dt.datetime) -> None:
    by_status: dict[int | None, list[int]] = {}
    for o in outcomes:
        by_status.setdefault(o.status, []).append(o.message_id)
    for status, ids in by_status.items():
        await raw("UPDATE push_message SET state = 'sent', sent_at = {}, last_status = {}, "
                  f"lease_until = NULL, last_error = '' WHERE id IN ({_in(ids)})",
                  stamp, status, *ids)
    subs = sorted({o.subscription_id for o in outcomes})
    await raw(f"UPDATE push_subscription SET last_success_at = {{}}, failures = 0 "
              f"WHERE id IN ({_in(subs)})", stamp, *subs)


async def _mark_unsent(outcomes: list[Outcome]) -> None:
    for o in outcomes:  # rare (an outage), and each has its own retry time
        if o.kind == "retry":
            await raw("UPDATE push_message SET state = 'pending', not_before = {}, "
                      "lease_until = NULL, last_status = {}, last_error = {} WHERE id = {}",
                      o.retry_at, o.status, o.error, o.message_id)
        else:
            await raw("UPDATE push_message SET state = 'failed', lease_until = NULL, "
                      "last_status = {}, last_error = {} WHERE id = {}",
                      o.status, o.error, o.message_id)
    subs = sorted({o.subscription_id for o in outcomes})
    await raw(f"UPDATE push_subscription SET failures = failures + 1 WHERE id IN ({_in(subs)})",
              *subs)


async def record(outcomes: list[Outcome]) -> None:
    """One write transaction for a batch of results."""
    sent = [o for o in outcomes if o.kind == "sent"]
    gone = sorted({o.subscription_id for o in outcomes if o.kind == "gone"})
    unsent = [o for o in outcomes if o.kind in ("retry", "failed")]
    async with writing():
        if sent:
            await _mark_sent(sent, now())
        if gone:  # its messages go with it (ON DELETE CASCADE)
            await raw(f"DELETE FROM push_subscription WHERE id IN ({_in(gone)})", *gone)
        if unsent:
            await _mark_unsent(unsent)


class _Results:
    """Outcomes waiting to be written; flushed every FLUSH_EVERY and at the end of a pass."""

    def __init__(self) -> None:
        self.waiting: list[Outcome] = []
        self.lock = asyncio.Lock()
        self.stats = {"claimed": 0, "sent": 0, "retry": 0, "failed": 0, "gone": 0}

    def add(self, outcome: Outcome) -> None:
        self.waiting.append(outcome)
        self.stats[outcome.kind] += 1

    async def flush(self) -> None:
        async with self.lock:
            batch, self.waiting = self.waiting, []
            if not batch:
                return
            try:
                await record(batch)
            except Exception:  # the leases run out and the messages are sent again later
                log.exception("could not record %d push results", len(batch))


# ---------------------------------------------------------------- passes and the loop


def client_session() -> aiohttp.ClientSession:
    limit = get_settings().push_concurrency
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit, ttl_dns_cache=300))


async def send_claimed(claimed: list[dict], session: aiohttp.ClientSession,
                       gate: asyncio.Semaphore) -> dict:
    results = _Results()
    results.stats["claimed"] = len(claimed)

    async def one(msg: dict) -> None:
        async with gate:
            outcome = await deliver(msg, session)
        results.add(outcome)
        if len(results.waiting) >= FLUSH_EVERY:
            await results.flush()

    await asyncio.gather(*(one(msg) for msg in claimed))
    await results.flush()
    return results.stats


async def send_due(limit: int = 500) -> dict:
    """One pass: claim up to `limit` due messages, send them, record the results. Returns
    counts: claimed, sent, retry, failed, gone."""
    claimed = await claim(limit)
    if not claimed:
        return {"claimed": 0, "sent": 0, "retry": 0, "failed": 0, "gone": 0}
    async with client_session() as session:
        return await send_claimed(claimed, session, asyncio.Semaphore(get_settings().push_concurrency))


async def drain(limit: int = 500) -> dict:
    """The `push.send` job: claim and send batches while they come back full (two in
    flight), then return the totals. Cancelled (shut-down), it lets the requests in flight
    finish as run_sender does."""
    totals = {"claimed": 0, "sent": 0, "retry": 0, "failed": 0, "gone": 0}
    running: set[asyncio.Task] = set()

    def add(task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is None:
            for key, value in task.result().items():
                totals[key] += value

    async with client_session() as session:
        gate = asyncio.Semaphore(get_settings().push_concurrency)
        try:
            while True:
                before = set(running)
                full = await _start_pass(limit, session, gate, running) >= limit
                for task in running - before:
                    task.add_done_callback(add)
                if not full:
                    break
            if running:
                await asyncio.wait(running)
        finally:
            await _finish(running)
    return totals


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("push pass failed", exc_info=task.exception())


async def _start_pass(limit, session, gate, running: set) -> int:
    """Claim a batch and send it in the background; returns how many were claimed."""
    while len(running) >= PASSES_IN_FLIGHT:  # bounded: a claimed batch must finish in its lease
        await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
    claimed = await claim(limit)
    if claimed:
        task = asyncio.create_task(send_claimed(claimed, session, gate))
        running.add(task)
        task.add_done_callback(running.discard)
        task.add_done_callback(_log_failure)
    return len(claimed)


async def run_sender(limit: int = 500) -> None:
    """The loop every app process runs: claim again at once while batches come back full,
    else sleep until `wake()` or CRM_PUSH_POLL_SECONDS. Errors are logged, never fatal."""
    event = asyncio.Event()
    sender_events.add(event)
    running: set[asyncio.Task] = set()
    try:
        async with client_session() as session:
            try:
                await _loop(limit, session, event, running)
            finally:  # before the session closes: the passes in flight still use it
                await _finish(running)
    finally:
        sender_events.discard(event)


async def _loop(limit: int, session, event: asyncio.Event, running: set) -> None:
    gate = asyncio.Semaphore(get_settings().push_concurrency)
    while True:
        event.clear()  # a wake() during the claim below still counts
        try:
            full = await _start_pass(limit, session, gate, running) >= limit
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("push claim failed")
            full = False
        if not full:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(event.wait(), get_settings().push_poll_seconds)


async def _finish(running: set) -> None:
    """On shutdown, let the passes in flight end (each request has its timeout); whatever is
    still out after that keeps its lease, which runs out, and another pass sends it."""
    if running:
        _, late = await asyncio.wait(running, timeout=min(5.0, get_settings().push_timeout_seconds))
        for task in late:
            task.cancel()
