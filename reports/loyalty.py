"""The `loyalty` report (being written: data and charts to come)."""

from __future__ import annotations

from db.figures.filters import ReportFilter
from db.figures.period import Period


async def data(period: Period, filt: ReportFilter) -> dict:
    return {"has_data": False, "figures": [], "tables": {}, "definitions": []}


def charts(d: dict) -> dict:
    return {}
