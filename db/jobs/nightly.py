"""The nightly job: lifecycle, RFM and rule tags for everyone, then the member jobs (tiers,
birthdays, expiry), then the figure store's warm-up (db/figures/warm.py: the dashboard's and
the summary report's figures of the new day), once a day per shop.

It runs as a durable job (db/jobs): `nightly:YYYY-MM-DD`, queued for CRM_NIGHTLY_AT shop time
on that day; each run queues the next night's, and a process that starts queues the night
that is due if it has not run (so a night missed while the server was down runs at start).
A claim row in shop_setting (a unique key per day) is the once-per-day guard beneath it:
whoever asks, one run a day does the work, and a claim left behind by a process that died is
taken over after STALE (a failed run may be tried again at once).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
from zoneinfo import ZoneInfo

from db.clock import now
from db.customers.lifecycle import recompute_all
from db.customers.tables import ShopSetting
from db.engine import is_unique_violation, writing
from db.figures import warm as figure_warm
from db.jobs.queue import enqueue, prune
from db.members.nightly import run_member_jobs

log = logging.getLogger("crm.nightly")
STALE = dt.timedelta(hours=2)


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _key(day: dt.date) -> str:
    return f"nightly:{day.isoformat()}"


async def _claim(day: dt.date) -> bool:
    """True if this process now owns tonight's run (new, or taken over from a dead one)."""
    key, stamp = _key(day), now()
    value = json.dumps({"holder": _holder(), "state": "running", "at": stamp.isoformat()})
    try:
        async with writing():
            row = await ShopSetting.select().where(ShopSetting.key == key).first()
            if row is None:
                await ShopSetting.insert(ShopSetting(key=key, value=value, updated_at=stamp))
                return True
            state = json.loads(row["value"]).get("state")
            if state == "failed" or (state == "running" and stamp - row["updated_at"] > STALE):
                await ShopSetting.update({ShopSetting.value: value, ShopSetting.updated_at: stamp}).where(
                    (ShopSetting.key == key) & (ShopSetting.updated_at == row["updated_at"])
                )
                return True
            return False
    except Exception as exc:
        if is_unique_violation(exc):  # another process claimed it first
            return False
        raise


async def _finish(day: dt.date, result: dict, state: str = "done") -> None:
    value = json.dumps({"holder": _holder(), "state": state, "result": result}, default=str)
    async with writing():
        await ShopSetting.update({ShopSetting.value: value, ShopSetting.updated_at: now()}).where(
            ShopSetting.key == _key(day)
        )


def due_day(at: dt.datetime, run_at: str, tz: str) -> dt.date | None:
    """The shop-local day whose run is due at `at`, or None before the first run time."""
    hour, minute = (int(p) for p in run_at.split(":"))
    local = at.astimezone(ZoneInfo(tz))
    start = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return local.date() if local >= start else local.date() - dt.timedelta(days=1)


async def run_if_due(run_at: str, tz: str, at: dt.datetime | None = None) -> dict | None:
    day = due_day(at or now(), run_at, tz)
    return None if day is None else await run_day(day)


async def run_day(day: dt.date) -> dict | None:
    """The run for this shop-local day, unless it has been done or is running elsewhere."""
    if not await _claim(day):
        return None
    log.info("nightly recompute for %s started", day)
    try:
        result = await recompute_all()
    except BaseException as exc:
        await _finish(day, {"error": repr(exc)[:500]}, state="failed")  # the job's retry may claim it
        raise
    try:
        result["members"] = await run_member_jobs(day)
    except Exception:  # the lifecycle figures are done; the member jobs retry next night
        log.exception("nightly member jobs failed")
    try:
        result["figures"] = await figure_warm.warm()  # today's presets, whichever night this is
    except Exception:  # the figures are then computed when first viewed: never fail the night
        log.exception("warming the figure store failed")
    await _finish(day, result)
    log.info("nightly recompute for %s done in %s s", day, result["seconds"])
    return result


async def is_done(day: dt.date) -> bool:
    row = await ShopSetting.select(ShopSetting.value).where(ShopSetting.key == _key(day)).first()
    return row is not None and json.loads(row["value"]).get("state") == "done"


def run_time(day: dt.date, run_at: str, tz: str) -> dt.datetime:
    """The moment CRM_NIGHTLY_AT falls on this shop-local day."""
    hour, minute = (int(p) for p in run_at.split(":"))
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo(tz))


async def queue_night(day: dt.date, run_at: str, tz: str, *, at: dt.datetime | None = None) -> int | None:
    """Queue the job for this night (a no-op if it is already queued or running)."""
    when = max(run_time(day, run_at, tz), at or now())
    return await enqueue("nightly", {"day": day.isoformat()}, unique_key=_key(day), run_after=when)


async def schedule(run_at: str, tz: str, at: dt.datetime | None = None) -> None:
    """At start: the night that is due, if it has not run, and the next one."""
    at = at or now()
    day = due_day(at, run_at, tz)
    if not await is_done(day):
        await queue_night(day, run_at, tz, at=at)
    await queue_night(day + dt.timedelta(days=1), run_at, tz, at=at)


async def handle(job: dict, run_at: str, tz: str) -> dict | None:
    """The `nightly` job: queue the next night first (a failing night must not stop the
    schedule), then this one's run."""
    day = dt.date.fromisoformat(job["args"]["day"])
    await queue_night(day + dt.timedelta(days=1), run_at, tz)
    result = await run_day(day)
    await prune()
    return result
