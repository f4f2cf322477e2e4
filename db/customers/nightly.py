"""The nightly job: lifecycle, RFM and rule tags for everyone, once a day per shop.

Every app process runs the same small scheduler; a claim row in the database (a unique key
per day) makes sure exactly one of them does the work, and a claim left behind by a process
that died is taken over after STALE. State lives in the database, so a restart loses nothing:
a night missed while the server was down is run when it comes back.
"""

from __future__ import annotations

import asyncio
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

log = logging.getLogger("crm.nightly")
STALE = dt.timedelta(hours=2)
CHECK_EVERY_S = 60


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
            if state == "running" and stamp - row["updated_at"] > STALE:
                await ShopSetting.update({ShopSetting.value: value, ShopSetting.updated_at: stamp}).where(
                    (ShopSetting.key == key) & (ShopSetting.updated_at == row["updated_at"])
                )
                return True
            return False
    except Exception as exc:
        if is_unique_violation(exc):  # another process claimed it first
            return False
        raise


async def _finish(day: dt.date, result: dict) -> None:
    value = json.dumps({"holder": _holder(), "state": "done", "result": result}, default=str)
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
    if day is None or not await _claim(day):
        return None
    log.info("nightly recompute for %s started", day)
    result = await recompute_all()
    from db.members.nightly import run_member_jobs  # members build on customers

    try:
        result["members"] = await run_member_jobs(day)
    except Exception:  # the lifecycle figures are done; the member jobs retry next night
        log.exception("nightly member jobs failed")
    await _finish(day, result)
    log.info("nightly recompute for %s done in %s s", day, result["seconds"])
    return result


async def scheduler(run_at: str, tz: str) -> None:
    """Runs for the life of the app process; errors are logged and retried next minute."""
    while True:
        try:
            await run_if_due(run_at, tz)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bad night must not take the web process down
            log.exception("nightly recompute failed")
        await asyncio.sleep(CHECK_EVERY_S)
