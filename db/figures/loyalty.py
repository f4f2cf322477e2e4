"""Members and points for the `loyalty` report, beyond the key figures: tier moves in a
period and the points that will expire in each of the next 12 months.

Both cover the members whose customer is in the filter (db/figures/sql.customers: the
scope and, with a channel, the customers who first came through it).
"""

from __future__ import annotations

import datetime as dt

from db.engine import is_sqlite, raw
from db.figures import sql
from db.figures.filters import ReportFilter
from db.figures.period import Period, shop_today
from db.figures.report_sql import bounds

FORECAST_MONTHS = 12


async def tier_moves(period: Period, filt: ReportFilter) -> list[dict]:
    """Tier changes recorded in the period, per (from, to): {"from_tier", "to_tier",
    "direction" (join | up | down), "count"}; a member joining has no from tier. Ordered
    joins, ups, downs, then by tier."""
    start, end = bounds(period)
    where, args = sql.customers(filt)
    rows = await raw(
        "SELECT f.name AS from_name, f.position AS from_pos, t.name AS to_name, "
        "t.position AS to_pos, COUNT(*) AS n FROM tier_change x "
        "JOIN member m ON m.id = x.member JOIN customer c ON c.id = m.customer "
        "LEFT JOIN tier f ON f.id = x.from_tier LEFT JOIN tier t ON t.id = x.to_tier "
        f"WHERE x.at >= {{}} AND x.at < {{}} AND {where} "
        "GROUP BY f.name, f.position, t.name, t.position", start, end, *args)
    out = []
    for r in rows:
        if r["from_pos"] is None:
            direction = "join"
        elif r["to_pos"] is not None and r["to_pos"] > r["from_pos"]:
            direction = "up"
        else:
            direction = "down"
        out.append({"from_tier": r["from_name"] or "", "to_tier": r["to_name"] or "",
                    "direction": direction, "count": sql.number(r["n"]),
                    "_order": ({"join": 0, "up": 1, "down": 2}[direction],
                               r["from_pos"] if r["from_pos"] is not None else -1,
                               r["to_pos"] if r["to_pos"] is not None else -1)})
    out.sort(key=lambda r: r["_order"])
    for r in out:
        del r["_order"]
    return out


def _dates(*days: dt.date) -> list:
    """Dates as the store compares them (SQLite: ISO text)."""
    return [d.isoformat() for d in days] if is_sqlite() else list(days)


def _months_from(today: dt.date, n: int) -> list[str]:
    y, m, out = today.year, today.month, []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


async def expiry_forecast(filt: ReportFilter, today: dt.date | None = None,
                          months: int = FORECAST_MONTHS) -> list[dict]:
    """The points still unspent in earning lots that expire from today to the end of the
    12th calendar month from now, per month: {"month", "points", "members"}. Every month is
    listed (0 where nothing expires). What members spend first (FIFO) expires less."""
    today = today or shop_today()
    labels = _months_from(today, months)
    y, m = int(labels[-1][:4]), int(labels[-1][5:7])
    last = (dt.date(y + (m == 12), m % 12 + 1, 1))  # the day after the forecast's last month
    where, args = sql.customers(filt)
    month = "substr(CAST(l.expires_on AS TEXT), 1, 7)" if is_sqlite() else "to_char(l.expires_on, 'YYYY-MM')"
    rows = await raw(
        f"SELECT {month} AS month, CAST(SUM(l.remaining) AS BIGINT) AS points, "
        "COUNT(DISTINCT l.member) AS members FROM points_lot l "
        "JOIN member m ON m.id = l.member JOIN customer c ON c.id = m.customer "
        f"WHERE l.remaining > 0 AND l.expires_on >= {{}} AND l.expires_on < {{}} AND {where} "
        "GROUP BY 1", *_dates(today, last), *args)
    found = {r["month"]: r for r in rows}
    return [{"month": label, "points": sql.number(found.get(label, {}).get("points")),
             "members": sql.number(found.get(label, {}).get("members"))} for label in labels]
