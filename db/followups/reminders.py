"""Reminders and the daily digest: which are due, claimed once, queued as push messages.

The `reminders` job (db/jobs: one recurring row, run every CRM_REMINDER_POLL_SECONDS by
whichever process claims it) runs `run_pass`; `run_reminders` is the same as a standalone
loop (benchmarks). A reminder is claimed by moving its follow-up's
reminder_state from pending to sent in the same transaction that puts its messages in the
push outbox (PostgreSQL: SKIP LOCKED, so processes take different rows; SQLite: the write
transaction serialises them). A reminder that came due while no process was running is sent
at the next start, marked late. The words of each message come from `compose`, given by
the web layer (it knows the assignee's language and zone).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from zoneinfo import ZoneInfo

from db.clock import now
from db.engine import as_datetime, is_sqlite, raw, writing
from db.followups.rules import ref
from db.followups.lists import day_bounds
from db.jobs import queue
from db.push import outbox

log = logging.getLogger("crm.reminders")

BATCH = 500
LATE_AFTER = dt.timedelta(minutes=2)
REMINDER_TTL = 12 * 3600
DIGEST_TTL = 6 * 3600

_events: set[asyncio.Event] = set()  # one per running reminder loop in this process


def wake() -> None:
    """Look for due reminders now (a follow-up was just saved with one already due)."""
    queue.wake("reminders")
    for event in list(_events):
        event.set()


Compose = Callable[[dict], dict]  # a follow-up row (with "late", "lang", "tz") -> payload


async def queue_due_reminders(compose: Compose, *, limit: int = BATCH) -> int:
    """Claim up to `limit` due reminders and queue a push to each assignee's devices."""
    at = now()
    lock = "" if is_sqlite() else " FOR UPDATE OF f SKIP LOCKED"
    async with writing():
        rows = await raw(
            "SELECT f.id, f.assignee, f.kind, f.title, f.priority, f.due_at, f.remind_at, "
            "f.updated_at, c.name AS customer_name, s.locale, s.timezone "
            "FROM follow_up f JOIN customer c ON c.id = f.customer "
            "JOIN staff_user s ON s.id = f.assignee "
            "WHERE f.reminder_state = 'pending' AND f.status = 'open' AND f.remind_at <= {} "
            "ORDER BY f.remind_at, f.id LIMIT {}" + lock,
            at, limit,
        )
        if not rows:
            return 0
        late_ids = []
        for row in rows:
            for key in ("due_at", "remind_at", "updated_at"):
                row[key] = as_datetime(row[key])
            # Late: it was still ahead when last set, and we are past it by more than a blink.
            row["late"] = row["remind_at"] < at - LATE_AFTER and row["updated_at"] < row["remind_at"]
            if row["late"]:
                late_ids.append(row["id"])
        ids = [row["id"] for row in rows]
        marks = ", ".join("{}" for _ in ids)
        await raw(f"UPDATE follow_up SET reminder_state = 'sent', reminded_at = {{}}, reminder_late = {{}} "
                  f"WHERE id IN ({marks})", at, False, *ids)
        if late_ids:
            late_marks = ", ".join("{}" for _ in late_ids)
            await raw(f"UPDATE follow_up SET reminder_late = {{}} WHERE id IN ({late_marks})", True, *late_ids)
        for row in rows:
            await outbox.enqueue(row["assignee"], compose(row), urgency="high", ttl=REMINDER_TTL,
                          ref=ref(row["id"]))
    return len(rows)


async def queue_digests(compose: Compose, default_tz: str) -> int:
    """The daily digest for each person whose chosen time has passed today (their zone)."""
    at = now()
    people = await raw(
        'SELECT d.id, d."user" AS user_id, d.digest_at, d.last_sent_on, s.locale, s.timezone '
        'FROM digest_setting d JOIN staff_user s ON s.id = d."user" '
        "WHERE d.digest_at <> '' AND s.is_active"
    )
    sent = 0
    for person in people:
        tz = zone_named(person["timezone"] or default_tz)
        local = at.astimezone(tz)
        day = local.date().isoformat()
        if person["last_sent_on"] == day or local.strftime("%H:%M") < person["digest_at"]:
            continue
        async with writing():
            claimed = await raw("UPDATE digest_setting SET last_sent_on = {} WHERE id = {} "
                                "AND last_sent_on = {} RETURNING id", day, person["id"], person["last_sent_on"])
            if not claimed:
                continue  # another process took it
            start, end = day_bounds(tz, at)
            items = await raw(
                "SELECT f.title, f.due_at, c.name AS customer_name FROM follow_up f "
                "JOIN customer c ON c.id = f.customer WHERE f.assignee = {} AND f.status = 'open' "
                "AND f.due_at < {} ORDER BY f.due_at LIMIT 50", person["user_id"], end,
            )
            if not items:
                continue
            for item in items:
                item["due_at"] = as_datetime(item["due_at"])
            payload = compose({**person, "items": items, "start": start, "tz": tz})
            await outbox.enqueue(person["user_id"], payload, urgency="normal", ttl=DIGEST_TTL,
                          ref=f"digest:{person['user_id']}:{day}")
            sent += 1
    return sent


def zone_named(name: str) -> ZoneInfo:
    """The time zone of that name; the shop default's for a name this system does not know."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("Asia/Shanghai")


async def run_pass(compose_reminder: Compose, compose_digest: Compose, default_tz: str) -> int:
    """Queue every due reminder (a batch at a time) and the digests that are due; wakes this
    process's push sender when it queued any. Returns how many it queued."""
    total = 0
    while True:
        queued = await queue_due_reminders(compose_reminder)
        total += queued
        if queued < BATCH:
            break
    total += await queue_digests(compose_digest, default_tz)
    if total:
        outbox.wake()
    return total


async def run_reminders(compose_reminder: Compose, compose_digest: Compose, default_tz: str,
                        poll_seconds: float) -> None:
    """The loop every process runs; a failure is logged and the loop goes on."""
    event = asyncio.Event()
    _events.add(event)
    try:
        while True:
            event.clear()
            try:
                queued = await queue_due_reminders(compose_reminder)
                queued += await queue_digests(compose_digest, default_tz)
                if queued:
                    outbox.wake()
                if queued >= BATCH:
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the loop must outlive one bad pass
                log.exception("reminder pass failed")
            try:
                await asyncio.wait_for(event.wait(), poll_seconds)
            except asyncio.TimeoutError:
                pass
    finally:
        _events.discard(event)
