"""Customer structure for the `customers` report: the RFM grid, channels, provinces and
cities, and new against returning buyers.

Figures of a range count paid orders placed in it (of the channel asked for) by customers in
the viewer's scope. The RFM grid is the customers' current scores (db/customers/lifecycle.py),
for customers in scope with a paid order, narrowed to those who first came through the
channel asked for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from db.engine import raw
from db.figures.filters import ReportFilter
from db.figures.period import Period
from db.figures.report_sql import bounds, customer_where, month, month_labels, order_where

MAX_CITIES = 1000
DAILY_UP_TO = 62  # days: a longer range's sales are shown per month


@dataclass(frozen=True)
class Spend:
    customers: int
    orders: int
    sales_fen: int


async def rfm_grid(filt: ReportFilter) -> dict[tuple[int, int], dict]:
    """(R score, F score) -> {"customers", "spent_fen"} for scores 1..5 (cells with nobody
    are missing)."""
    cw, cargs = customer_where(filt)
    extra, eargs = ("AND c.first_channel = {}", [filt.channel]) if filt.channel else ("", [])
    rows = await raw(
        "SELECT c.rfm_r AS r, c.rfm_f AS f, COUNT(*) AS n, "
        "CAST(COALESCE(SUM(c.total_spent_fen), 0) AS BIGINT) AS s FROM customer c "
        f"WHERE c.rfm_r > 0 AND c.rfm_f > 0 AND {cw} {extra} GROUP BY c.rfm_r, c.rfm_f",
        *cargs, *eargs)
    return {(int(r["r"]), int(r["f"])): {"customers": int(r["n"]), "spent_fen": int(r["s"])}
            for r in rows}


async def _grouped(period: Period, filt: ReportFilter, key_sql: str, order_by: str = "3 DESC",
                   limit: int | None = None) -> list[dict]:
    start, end = bounds(period)
    cw, cargs = customer_where(filt)
    ow, oargs = order_where(filt)
    tail = f" LIMIT {int(limit)}" if limit else ""
    return await raw(
        f"SELECT {key_sql}, COUNT(DISTINCT o.customer) AS customers, COUNT(*) AS orders, "
        "CAST(COALESCE(SUM(o.total_fen), 0) AS BIGINT) AS sales_fen "
        'FROM "order" o JOIN customer c ON c.id = o.customer '
        f"WHERE {ow} AND o.placed_at >= {{}} AND o.placed_at < {{}} AND {cw} "
        f"GROUP BY {_group_of(key_sql)} "
        f"ORDER BY {order_by}{tail}",
        *oargs, start, end, *cargs)


def _group_of(key_sql: str) -> str:
    return ", ".join(part.split(" AS ")[0].strip() for part in key_sql.split(","))


def _spend(row: dict) -> dict:
    return {"customers": int(row["customers"]), "orders": int(row["orders"]),
            "sales_fen": int(row["sales_fen"])}


async def channels(period: Period, filt: ReportFilter) -> list[dict]:
    """Per order channel: {"channel", "customers", "orders", "sales_fen"}, by sales."""
    rows = await _grouped(period, filt, "o.channel AS channel", "sales_fen DESC, channel")
    return [{"channel": r["channel"], **_spend(r)} for r in rows]


async def provinces(period: Period, filt: ReportFilter) -> list[dict]:
    """Per buyer's province ("" when unknown), by sales."""
    rows = await _grouped(period, filt, "c.province AS province", "sales_fen DESC, province")
    return [{"province": r["province"] or "", **_spend(r)} for r in rows]


async def cities(period: Period, filt: ReportFilter, limit: int = MAX_CITIES) -> list[dict]:
    """Per buyer's (province, city), by sales, at most `limit`."""
    rows = await _grouped(period, filt, "c.province AS province, c.city AS city",
                          "sales_fen DESC, province, city", limit)
    return [{"province": r["province"] or "", "city": r["city"] or "", **_spend(r)} for r in rows]


async def new_and_returning(period: Period, filt: ReportFilter) -> dict[str, Spend]:
    """Buyers of the range split by whether their first paid order ever (of the channel
    asked for) was in the range ("new") or before it ("returning")."""
    start, end = bounds(period)
    cw, cargs = customer_where(filt)
    ow, oargs = order_where(filt, "o")
    ow2, oargs2 = order_where(filt, "o2")
    rows = await raw(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM \"order\" o2 WHERE o2.customer = o.customer "
        f"AND {ow2} AND o2.placed_at < {{}}) THEN 'returning' ELSE 'new' END AS kind, "
        "COUNT(DISTINCT o.customer) AS customers, COUNT(*) AS orders, "
        "CAST(COALESCE(SUM(o.total_fen), 0) AS BIGINT) AS sales_fen "
        'FROM "order" o JOIN customer c ON c.id = o.customer '
        f"WHERE {ow} AND o.placed_at >= {{}} AND o.placed_at < {{}} AND {cw} GROUP BY 1",
        *oargs2, start, *oargs, start, end, *cargs)
    found = {r["kind"]: Spend(**_spend(r)) for r in rows}
    return {k: found.get(k, Spend(0, 0, 0)) for k in ("new", "returning")}



async def sales_over_time(period: Period, filt: ReportFilter) -> tuple[list[dict], list[dict]]:
    """Paid orders and sales per shop-local day (ranges of up to 62 days) or month, every
    day or month of the range listed: [{"label", "orders", "sales_fen"}], and the same per
    order channel by sales: [{"channel", "orders", "sales_fen"}]; one pass over the orders."""
    daily = period.days <= DAILY_UP_TO
    start, end = bounds(period)
    cw, cargs = customer_where(filt)
    ow, oargs = order_where(filt)
    key = month("o.placed_at", period, day=daily)
    rows = await raw(
        f"SELECT {key} AS k, o.channel AS ch, COUNT(*) AS orders, "
        "CAST(COALESCE(SUM(o.total_fen), 0) AS BIGINT) AS s "
        'FROM "order" o JOIN customer c ON c.id = o.customer '
        f"WHERE {ow} AND o.placed_at >= {{}} AND o.placed_at < {{}} AND {cw} GROUP BY 1, 2",
        *oargs, start, end, *cargs)
    times: dict[str, list[int]] = {}
    chans: dict[str, list[int]] = {}
    for r in rows:
        for acc, k in ((times, r["k"]), (chans, r["ch"])):
            slot = acc.setdefault(k, [0, 0])
            slot[0] += int(r["orders"])
            slot[1] += int(r["s"])
    if daily:
        labels = [(period.start + dt.timedelta(days=i)).isoformat() for i in range(period.days)]
    else:
        labels = month_labels(period)
    series = [{"label": k, "orders": times.get(k, [0, 0])[0], "sales_fen": times.get(k, [0, 0])[1]}
              for k in labels]
    by_channel = sorted(({"channel": k, "orders": v[0], "sales_fen": v[1]} for k, v in chans.items()),
                        key=lambda r: (-r["sales_fen"], r["channel"]))
    return series, by_channel
