"""Retention cohorts: the customers whose first paid order fell in each month of the range,
and the share of them that bought again in each later month (up to the range's end).

A customer's first order is their first paid order ever (in the channel asked for, if any),
so a cohort is made of customers new in that month. Month 0 is the cohort month itself
(100%); month k counts a customer when they have a paid order in the k-th calendar month
after it. Months after the range's end are None (not yet observed).
"""

from __future__ import annotations

from dataclasses import dataclass

from db.engine import raw
from db.figures.filters import ReportFilter
from db.figures.period import Period
from db.figures.report_sql import bounds, customer_where, month, month_labels, months_between, order_where

MAX_LATER = 12  # months followed after the cohort month


@dataclass(frozen=True)
class Cohort:
    month: str  # 'YYYY-MM', shop-local
    size: int  # customers whose first paid order was in this month
    returned: tuple[int | None, ...]  # customers with a paid order in month 1..MAX_LATER after


async def monthly_cohorts(period: Period, filt: ReportFilter, later: int = MAX_LATER) -> list[Cohort]:
    start, end = bounds(period)
    cw, cargs = customer_where(filt)
    ow, oargs = order_where(filt, "o")
    ow2, oargs2 = order_where(filt, "o2")
    first_month, order_month = month("f.first_at", period), month("o2.placed_at", period)
    rows = await raw(
        "WITH firsts AS ("
        " SELECT o.customer AS cid, MIN(o.placed_at) AS first_at"
        ' FROM "order" o JOIN customer c ON c.id = o.customer'
        f" WHERE {ow} AND o.placed_at < {{}} AND {cw}"
        " GROUP BY o.customer HAVING MIN(o.placed_at) >= {})"
        f" SELECT {first_month} AS cohort, {order_month} AS m, COUNT(DISTINCT o2.customer) AS n"
        ' FROM firsts f JOIN "order" o2 ON o2.customer = f.cid'
        f" WHERE {ow2} AND o2.placed_at < {{}}"
        " GROUP BY 1, 2",
        *oargs, end, *cargs, start, *oargs2, end,
    )
    counts: dict[str, dict[int, int]] = {}
    for row in rows:
        k = months_between(row["cohort"], row["m"])
        counts.setdefault(row["cohort"], {})[k] = int(row["n"])
    months = month_labels(period)
    last = months[-1]
    out = []
    for m in months:
        found = counts.get(m, {})
        observed = months_between(m, last)
        out.append(Cohort(m, found.get(0, 0), tuple(
            (found.get(k, 0) if k <= observed else None) for k in range(1, later + 1))))
    return out
