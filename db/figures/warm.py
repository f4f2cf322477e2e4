"""Filling the figure store before anyone asks: after the nightly recompute (the lifecycle
stages it sets are on the dashboard), and once at start when the store holds nothing for
today (a fresh `crm demo && crm serve`), so the first view of the day reads a stored row.

What is warmed: the dashboard for each preset, for everyone and for each team (what admins
and managers open); the default preset for each active staff member's own figures; and the
`summary` report's data for the default preset, everyone and each team, when the reports
registered it (db/figures/store.register; a process without reports/ skips it).
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from db.customers.scope import Scope
from db.engine import raw
from db.figures import bundle, store
from db.figures.filters import ReportFilter
from db.figures.period import PRESETS, Period, shop_today
from db.jobs import queue

log = logging.getLogger("crm.figures")

WARM_KIND = "figures.warm"
DEFAULT_PRESET = "30d"
SUMMARY = "report:summary"


async def targets(today: dt.date | None = None) -> list[tuple[str, Period, ReportFilter]]:
    """(kind, period, filter) for everything warmed, the shop-wide ones first."""
    today = today or shop_today()
    teams = [r["id"] for r in await raw("SELECT id FROM team ORDER BY id")]
    staff = await raw("SELECT id, team FROM staff_user WHERE role = {} AND is_active = {} "
                      "ORDER BY id", "staff", True)
    everyone = Scope.everything()
    shops = [ReportFilter(everyone)] + [ReportFilter(everyone, None, t) for t in teams]
    default = Period.preset(DEFAULT_PRESET, today)
    out = [(bundle.KIND, Period.preset(p, today), f) for p in PRESETS for f in shops]
    out += [(bundle.KIND, default, ReportFilter(Scope("own", s["id"], s["team"]))) for s in staff]
    if store.computer(SUMMARY) is not None:
        out += [(SUMMARY, default, f) for f in shops]
    return out


async def warm(today: dt.date | None = None) -> dict:
    """Compute and store every target now. A failure is logged and the rest go on; returns
    what was done, for the nightly job's record."""
    if not store.enabled():
        return {"warmed": 0, "skipped": "CRM_FIGURES_MAX_AGE_SECONDS=0"}
    started, done, failed = time.perf_counter(), 0, 0
    for kind, period, filt in await targets(today):
        try:
            await store.cached(kind, period, filt, fresh=True)
            done += 1
        except Exception:
            failed += 1
            log.exception("warming %s failed", store.key_for(kind, period, filt))
    pruned = await store.prune()
    seconds = round(time.perf_counter() - started, 1)
    log.info("figure store warmed: %d entries in %s s (%d failed, %d old ones pruned)",
             done, seconds, failed, pruned)
    return {"warmed": done, "failed": failed, "pruned": pruned, "seconds": seconds}


async def warm_job(job: dict) -> dict:
    """The `figures.warm` job, queued at start by `queue_if_empty`."""
    return await warm()


async def queue_if_empty() -> int | None:
    """At start: queue a warm-up when the store has no dashboard for today's presets (a fresh
    install, a night missed). Through the job queue, so starting the server never waits for
    it, and once however many processes start (the day's unique key)."""
    if not store.enabled():
        return None
    today = shop_today()
    everyone = ReportFilter(Scope.everything())
    for preset in PRESETS:
        if await store.holds(bundle.KIND, Period.preset(preset, today), everyone):
            return None
    return await queue.enqueue(WARM_KIND, {"day": today.isoformat()},
                               unique_key=f"figures.warm:{today.isoformat()}", max_attempts=2)
