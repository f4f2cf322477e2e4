"""The dashboard's figures for one period and filter as one bundle: the key figures and the
four breakdowns, computed together and kept in the figure store (db/figures/store.py) under
the kind `dashboard`, so a view of the dashboard is one read of one row."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from db.figures import store
from db.figures.breakdowns import (followups_by_person, lifecycle_counts, members_by_tier,
                                   pipeline_by_stage)
from db.figures.filters import ReportFilter
from db.figures.key import Figure, key_figures
from db.figures.period import Period

KIND = "dashboard"
VERSION = 1  # bump when the bundle's shape changes: older entries are then computed again


@dataclass
class Bundle:
    figures: dict[str, Figure]
    stages: list[dict]  # db/figures/breakdowns.py's rows
    tiers: list[dict]
    board: list[dict]
    people: list[dict]  # empty for staff (their own figures have no per-person table)
    computed_at: dt.datetime | None  # None: computed live, the store being off
    stale: bool = False


async def compute(period: Period, filt: ReportFilter) -> dict:
    """The bundle as plain values (what the store keeps; the store runs it on one read
    snapshot, off the event loop)."""
    figures = await key_figures(period, filt)
    stages = await lifecycle_counts(filt)
    tiers = await members_by_tier(filt)
    board = await pipeline_by_stage(filt)
    people = await followups_by_person(period, filt) if filt.scope.kind != "own" else []
    return {"version": VERSION,
            "figures": {k: dataclasses.asdict(f) for k, f in figures.items()},
            "stages": stages, "tiers": tiers, "board": board, "people": people}


store.register(KIND, compute)  # for the refresh job and the warm-up, wherever they run


def _bundle(value: dict, computed_at: dt.datetime | None, stale: bool) -> Bundle:
    if value.get("version") != VERSION:
        raise ValueError("a bundle of another version")
    return Bundle({k: Figure(**f) for k, f in value["figures"].items()}, value["stages"],
                  value["tiers"], value["board"], value["people"], computed_at, stale)


async def dashboard(period: Period, filt: ReportFilter, *, fresh: bool = False) -> Bundle:
    """The dashboard's bundle through the store (fresh: computed now)."""
    stored = await store.cached(KIND, period, filt, compute, fresh=fresh)
    try:
        return _bundle(stored.value, stored.computed_at, stored.stale)
    except (KeyError, TypeError, ValueError, AttributeError):  # stored by an older version
        stored = await store.cached(KIND, period, filt, compute, fresh=True)
        return _bundle(stored.value, stored.computed_at, stored.stale)
