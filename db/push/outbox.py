"""The push outbox: callers queue a notification for people (staff: `enqueue`; members:
`enqueue_members`), the sender delivers it.

`enqueue` writes one row per device inside the caller's transaction (so a reminder is queued
if and only if the follow-up it belongs to was saved); after that transaction commits the
caller calls `wake()` so this process's sender sends at once instead of at its next poll.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json

from db.clock import now
from db.engine import raw, writing
from db.jobs.queue import wake as wake_jobs
from db.push.tables import URGENCIES

sender_events: set[asyncio.Event] = set()  # one per run_sender() loop in this process (sender.py)


def wake() -> None:
    """Tell this process's sender that messages are due now (call after your commit)."""
    wake_jobs("push.send")
    for event in list(sender_events):
        event.set()


def _user_ids(user_id: int | list[int]) -> list[int]:
    ids = [user_id] if isinstance(user_id, int) else list(user_id)
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise TypeError("user ids must be integers")
    return sorted(set(ids))


async def _enqueue(column: str, ids: list[int], payload: dict, urgency: str, ttl: int,
                   ref: str | None, not_before: dt.datetime | None) -> int:
    if urgency not in URGENCIES:
        raise ValueError(f"urgency must be one of {URGENCIES}")
    if not 0 < ttl <= 28 * 86400:  # TTL 0 drops the message when the phone is offline
        raise ValueError("ttl must be between 1 s and 28 days")
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    stamp = now()
    due = not_before or stamp
    count = 0
    async with writing():
        for start in range(0, len(ids), 1000):
            chunk = ids[start:start + 1000]
            marks = ", ".join("{}" for _ in chunk)
            rows = await raw(
                "INSERT INTO push_message (subscription, ref, payload, urgency, ttl, state, "
                "attempts, not_before, created_at, last_error) "
                "SELECT s.id, {}, {}, {}, {}, 'pending', 0, {}, {}, '' FROM push_subscription s "
                f"WHERE s.{column} IN ({marks}) RETURNING id",
                ref, body, urgency, ttl, due, stamp, *chunk,
            )
            count += len(rows)
    return count


async def enqueue(user_id: int | list[int], payload: dict, *, urgency: str = "normal",
                  ttl: int = 86400, ref: str | None = None,
                  not_before: dt.datetime | None = None) -> int:
    """Queue `payload` ({title, body, url}) for every device of these users; returns how many
    messages were queued (0 when nobody has a device). Set-based: one INSERT … SELECT per
    thousand users, whatever the number of devices."""
    return await _enqueue('"user"', _user_ids(user_id), payload, urgency, ttl, ref, not_before)


async def enqueue_members(member_ids: int | list[int], payload: dict, *, urgency: str = "normal",
                          ttl: int = 86400, ref: str | None = None,
                          not_before: dt.datetime | None = None) -> int:
    """The same for members' devices (subscribed on the member page): `payload`'s url should
    be a /m/ page. Call inside your transaction and wake() after it commits; returns how many
    messages were queued (0 when none of them turned notifications on)."""
    return await _enqueue("member", _user_ids(member_ids), payload, urgency, ttl, ref, not_before)


async def cancel(ref: str) -> int:
    """Drop the messages with this ref that have not been sent yet; returns how many."""
    async with writing():
        rows = await raw("DELETE FROM push_message WHERE ref = {} AND state = 'pending' "
                         "RETURNING id", ref)
    return len(rows)
