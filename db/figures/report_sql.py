"""SQL pieces the report-only figures share (cohorts, structure, loyalty), beside the
dashboard's db/figures/sql.py (whose `at` they use): a shop-local month, the scope and
channel conditions of order figures, and month arithmetic."""

from __future__ import annotations

import datetime as dt

from db.engine import is_sqlite
from db.figures.filters import ReportFilter
from db.figures.period import Period, shop_zone
from db.figures.sql import at


def bounds(period: Period) -> tuple:
    """The period's [start, end) as the store compares times."""
    start, end = period.bounds()
    return at(start), at(end)


def month(column: str, period: Period, day: bool = False) -> str:
    """`column` (a stored UTC time) as the shop-local month 'YYYY-MM' (or day 'YYYY-MM-DD').
    PostgreSQL converts by the zone's rules; SQLite by the zone's offset at the period's end
    (exact for the zones without summer time, China's included)."""
    zone = shop_zone()
    if not is_sqlite():
        return f"to_char({column} AT TIME ZONE '{zone.key}', '{'YYYY-MM-DD' if day else 'YYYY-MM'}')"
    noon = dt.datetime.combine(period.end, dt.time(12), zone)
    minutes = int(noon.utcoffset().total_seconds() // 60)
    return f"strftime('{'%Y-%m-%d' if day else '%Y-%m'}', {column}, '{minutes:+d} minutes')"


def customer_where(filt: ReportFilter, alias: str = "c") -> tuple[str, list]:
    """The viewer's scope (narrowed to the team asked for) on the customers table."""
    return filt.customer_scope.clause(alias)


def order_where(filt: ReportFilter, alias: str = "o") -> tuple[str, list]:
    """Paid orders, of the channel asked for."""
    if filt.channel:
        return f"{alias}.status = 'paid' AND {alias}.channel = {{}}", [filt.channel]
    return f"{alias}.status = 'paid'", []


def months_between(first: str, later: str) -> int:
    """'2026-01', '2026-03' -> 2."""
    y1, m1 = int(first[:4]), int(first[5:7])
    y2, m2 = int(later[:4]), int(later[5:7])
    return (y2 - y1) * 12 + (m2 - m1)


def month_labels(period: Period) -> list[str]:
    """Every shop-local month the period touches, 'YYYY-MM', in order."""
    out, y, m = [], period.start.year, period.start.month
    while (y, m) <= (period.end.year, period.end.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out
