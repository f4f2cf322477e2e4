"""The shop's key figures for a period, each with the same figure for the period before it.

Every figure is defined here once and read by the dashboard, the PDF reports and their
spreadsheets alike; `DEFINITIONS` holds the one sentence each of them shows. Money is integer
fen, rates integer permille (‰), so nothing here is a float.

Which rows count (the filter, db/figures/filters.py): customer figures cover the customers of
the viewer's scope (narrowed to a team) and, with a channel, those whose first order came from
it; order figures cover those customers' orders and, with a channel, only orders placed in it;
follow-up figures cover the work of the people in the scope (staff: their own follow-ups; a
manager: their team's; an admin: everyone's, or one team's).
"""

from __future__ import annotations

from db.i18n import N_

from dataclasses import dataclass

from db.clock import now
from db.engine import raw, reading
from db.figures import sql
from db.figures.filters import ReportFilter
from db.figures.period import Period
from db.settings import get_settings

UNITS = ("count", "fen", "permille", "points")



DEFINITIONS: dict[str, str] = {
    "new_customers": N_(
        "Customers added in the period (by their first order, an import or by hand); with a "
        "channel, those whose first order came from it."),
    "active_customers": N_(
        "Customers with at least one paid order placed in the period."),
    "repurchase_rate": N_(
        "Of the customers with a paid order in the period, the share who had paid for an order "
        "before the period or paid for two or more in it."),
    "churn_rate": N_(
        "Of the customers with a paid order in the previous period of the same length, the "
        "share with no paid order in this one."),
    "orders": N_(
        "Paid orders placed in the period. A refunded or cancelled order no longer counts, in "
        "whichever period it was placed."),
    "sales_fen": N_(
        "The total of the paid orders placed in the period. A refund takes the whole order out "
        "of the period it was placed in; nothing else is deducted."),
    "average_order_fen": N_(
        "Sales divided by paid orders, rounded to the fen."),
    "points_issued": N_(
        "Points credited to members in the period: earned on orders, bonuses and positive "
        "adjustments."),
    "points_redeemed": N_("Points members spent on rewards in the period."),
    "points_expired": N_("Points that expired in the period."),
    "points_liability_fen": N_(
        "Points members held at the end of the period, valued at the shop's value per point "
        "(what the shop still owes in rewards)."),
    "followups_done": N_("Follow-ups completed in the period."),
    "followups_overdue": N_(
        "Follow-ups due in the period whose time has passed and that are still open."),
}
KEYS = tuple(DEFINITIONS)

UNIT_OF = {
    "repurchase_rate": "permille", "churn_rate": "permille", "sales_fen": "fen",
    "average_order_fen": "fen", "points_issued": "points", "points_redeemed": "points",
    "points_expired": "points", "points_liability_fen": "fen",
}


@dataclass(frozen=True)
class Figure:
    key: str
    value: int
    previous: int | None  # the same figure for the period before; None: nothing to compare
    unit: str  # "count" | "fen" | "permille" | "points"
    base: int | None = None  # what a rate or an average is taken of; 0: no data for it
    part: int | None = None  # a rate's numerator (of `base`): what its drill-down lists

    @property
    def no_data(self) -> bool:
        """A rate or average of nothing (no buyers, no orders): shown as "no data", not 0."""
        return self.base == 0

    @property
    def change(self) -> int | None:
        """value - previous, in the figure's unit (None without a previous figure)."""
        if self.previous is None or self.no_data:
            return None
        return self.value - self.previous

    @property
    def change_permille(self) -> int | None:
        """The change as a share of the previous figure, in permille (None from 0)."""
        if self.change is None or not self.previous:
            return None
        return sql.ratio(self.change, abs(self.previous), 1000) if self.change >= 0 else \
            -sql.ratio(-self.change, abs(self.previous), 1000)

    @property
    def direction(self) -> str:
        """"up", "down" or "flat" ("" without a comparison)."""
        change = self.change
        if change is None:
            return ""
        return "up" if change > 0 else "down" if change < 0 else "flat"


def point_value_fen() -> int:
    """What one point is worth to the shop, in fen (CRM_POINT_VALUE_FEN)."""
    return get_settings().point_value_fen


async def key_figures(period: Period, filt: ReportFilter) -> dict[str, Figure]:
    """The KEYS for `period` and the previous period of the same length."""
    prev = period.previous()
    async with reading():
        new = await _new_customers(period, prev, filt)
        found = await _orders(period, filt)
        points = await _points(period, prev, filt)
        followups = await _followups(period, prev, filt)
    cur_orders, prev_orders = found["cur"], found["prev"]
    cur_churn, prev_churn = cur_orders["churn"], prev_orders["churn"]
    out: dict[str, Figure] = {}

    def put(key: str, value: int, previous: int | None, base: int | None = None,
            previous_base: int | None = None, part: int | None = None) -> None:
        if previous_base == 0:
            previous = None
        out[key] = Figure(key, value, previous, UNIT_OF.get(key, "count"), base, part)

    put("new_customers", *new)
    put("active_customers", cur_orders["active"], prev_orders["active"])
    put("repurchase_rate", sql.permille(cur_orders["repeat"], cur_orders["active"]),
        sql.permille(prev_orders["repeat"], prev_orders["active"]),
        cur_orders["active"], prev_orders["active"], cur_orders["repeat"])
    put("churn_rate", sql.permille(cur_churn[1], cur_churn[0]),
        sql.permille(prev_churn[1], prev_churn[0]), cur_churn[0], prev_churn[0], cur_churn[1])
    put("orders", cur_orders["orders"], prev_orders["orders"])
    put("sales_fen", cur_orders["sales"], prev_orders["sales"])
    put("average_order_fen", sql.ratio(cur_orders["sales"], cur_orders["orders"]),
        sql.ratio(prev_orders["sales"], prev_orders["orders"]),
        cur_orders["orders"], prev_orders["orders"])
    for key in ("points_issued", "points_redeemed", "points_expired"):
        put(key, points[key][0], points[key][1])
    value = point_value_fen()
    put("points_liability_fen", points["held"][0] * value, points["held"][1] * value)
    put("followups_done", *followups["done"])
    put("followups_overdue", *followups["overdue"])
    return {key: out[key] for key in KEYS}


async def _new_customers(period: Period, prev: Period, filt: ReportFilter) -> tuple[int, int]:
    (s, e), (ps, _) = period.bounds(), prev.bounds()
    where, args = sql.customers(filt)
    row = (await raw(
        "SELECT SUM(CASE WHEN c.created_at >= {} THEN 1 ELSE 0 END) AS cur, "
        "SUM(CASE WHEN c.created_at < {} THEN 1 ELSE 0 END) AS prev FROM customer c "
        f"WHERE c.created_at >= {{}} AND c.created_at < {{}} AND {where}",
        sql.at(s), sql.at(s), sql.at(ps), sql.at(e), *args))[0]
    return sql.number(row["cur"]), sql.number(row["prev"])


async def _orders(period: Period, filt: ReportFilter) -> dict[str, dict[str, int]]:
    """Per period ("cur", "prev"): buyers, repeat buyers, paid orders, their total, and the
    churn pair (buyers of the period before, how many of them bought nothing in it), in one
    pass over the paid orders of three periods (the order_placed_figures index), per customer.

    A buyer had an earlier paid order when their first paid order (customer.first_order_at,
    kept current by every ingest) is before the period; with a channel, when they had one in
    that channel."""
    prev = period.previous()
    (s, e), (ps, _), (pps, _) = period.bounds(), prev.bounds(), prev.previous().bounds()
    join, where, args = sql.orders(filt)
    if filt.channel:
        earlier = ("EXISTS (SELECT 1 FROM \"order\" p WHERE p.customer = t.cid "
                   "AND p.status = 'paid' AND p.placed_at < {} AND p.channel = {})")
        earlier_args = lambda at: [sql.at(at), filt.channel]  # noqa: E731
    else:
        earlier, earlier_args = "b.first_order_at < {}", lambda at: [sql.at(at)]  # noqa: E731
    row = (await raw(
        "SELECT SUM(CASE WHEN t.n1 > 0 THEN 1 ELSE 0 END) AS active_cur, SUM(t.n1) AS orders_cur, "
        "SUM(t.s1) AS sales_cur, "
        f"SUM(CASE WHEN t.n1 >= 2 OR (t.n1 > 0 AND {earlier}) THEN 1 ELSE 0 END) AS repeat_cur, "
        "SUM(CASE WHEN t.n0 > 0 THEN 1 ELSE 0 END) AS active_prev, SUM(t.n0) AS orders_prev, "
        "SUM(t.s0) AS sales_prev, "
        f"SUM(CASE WHEN t.n0 >= 2 OR (t.n0 > 0 AND {earlier}) THEN 1 ELSE 0 END) AS repeat_prev, "
        "SUM(CASE WHEN t.n0 > 0 AND t.n1 = 0 THEN 1 ELSE 0 END) AS gone_cur, "
        "SUM(CASE WHEN t.nb > 0 THEN 1 ELSE 0 END) AS base_prev, "
        "SUM(CASE WHEN t.nb > 0 AND t.n0 = 0 THEN 1 ELSE 0 END) AS gone_prev "
        "FROM (SELECT o.customer AS cid, "
        "SUM(CASE WHEN o.placed_at >= {} THEN 1 ELSE 0 END) AS n1, "
        "SUM(CASE WHEN o.placed_at >= {} THEN o.total_fen ELSE 0 END) AS s1, "
        "SUM(CASE WHEN o.placed_at >= {} AND o.placed_at < {} THEN 1 ELSE 0 END) AS n0, "
        "SUM(CASE WHEN o.placed_at >= {} AND o.placed_at < {} THEN o.total_fen ELSE 0 END) AS s0, "
        "SUM(CASE WHEN o.placed_at < {} THEN 1 ELSE 0 END) AS nb "
        f"FROM \"order\" o{join} WHERE o.status = 'paid' AND o.placed_at >= {{}} "
        f"AND o.placed_at < {{}} AND {where} GROUP BY o.customer) t "
        "JOIN customer b ON b.id = t.cid",
        *earlier_args(s), *earlier_args(ps),
        sql.at(s), sql.at(s), sql.at(ps), sql.at(s), sql.at(ps), sql.at(s), sql.at(ps),
        sql.at(pps), sql.at(e), *args))[0]
    out = {name: {k: sql.number(row[f"{k}_{name}"]) for k in ("active", "orders", "sales", "repeat")}
           for name in ("cur", "prev")}
    # churn: (buyers of the period before, of them with nothing in this one)
    out["cur"]["churn"] = (out["prev"]["active"], sql.number(row["gone_cur"]))
    out["prev"]["churn"] = (sql.number(row["base_prev"]), sql.number(row["gone_prev"]))
    return out


async def _points(period: Period, prev: Period, filt: ReportFilter) -> dict[str, tuple[int, int]]:
    """Issued, redeemed and expired in each period, and the points held at each one's end
    (today's balances less what the ledger moved since). One pass over the entries since the
    previous period began, grouped by period (0 previous, 1 this, 2 after it) and kind."""
    (s, e), (ps, _) = period.bounds(), prev.bounds()  # the previous period ends where this begins
    where, args = sql.customers(filt)
    # Everyone's entries are read from the points_entry_created index alone.
    join = "" if where == "1 = 1" else " JOIN member m ON m.id = e.member JOIN customer c ON c.id = m.customer"
    rows = await raw(
        "SELECT CASE WHEN e.created_at >= {} THEN 2 WHEN e.created_at >= {} THEN 1 ELSE 0 END AS b, "
        "e.kind AS k, SUM(CASE WHEN e.delta > 0 THEN e.delta ELSE 0 END) AS plus, "
        f"SUM(e.delta) AS total FROM points_entry e{join} WHERE e.created_at >= {{}} AND {where} "
        "GROUP BY 1, 2", sql.at(e), sql.at(s), sql.at(ps), *args)
    member_join = "" if where == "1 = 1" else " JOIN customer c ON c.id = m.customer"
    held = sql.number((await raw(
        f"SELECT SUM(m.points_balance) AS n FROM member m{member_join} WHERE {where}", *args))[0]["n"])
    issued, redeemed, expired, moved = [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]
    for r in rows:
        b, total = int(r["b"]), sql.number(r["total"])
        issued[b] += sql.number(r["plus"])
        moved[b] += total
        if r["k"] == "redeem":
            redeemed[b] -= total
        elif r["k"] == "expire":
            expired[b] -= total
    return {"points_issued": (issued[1], issued[0]), "points_redeemed": (redeemed[1], redeemed[0]),
            "points_expired": (expired[1], expired[0]),
            "held": (held - moved[2], held - moved[2] - moved[1])}


async def _followups(period: Period, prev: Period, filt: ReportFilter) -> dict[str, tuple[int, int]]:
    (s, e), (ps, pe) = period.bounds(), prev.bounds()
    who, args = sql.people(filt, "f.assignee")
    join, channel = "", []
    if filt.channel:
        join, channel = " JOIN customer c ON c.id = f.customer", [filt.channel]
        who += " AND c.first_channel = {}"
    t = sql.at(now())
    parts, params = [], []
    for name, lo, hi in (("cur", s, e), ("prev", ps, pe)):
        parts += [
            "SUM(CASE WHEN f.status = 'done' AND f.done_at >= {} AND f.done_at < {} "
            f"THEN 1 ELSE 0 END) AS done_{name}",
            "SUM(CASE WHEN f.status = 'open' AND f.due_at >= {} AND f.due_at < {} "
            f"AND f.due_at < {{}} THEN 1 ELSE 0 END) AS overdue_{name}",
        ]
        params += [sql.at(lo), sql.at(hi), sql.at(lo), sql.at(hi), t]
    row = (await raw(
        f"SELECT {', '.join(parts)} FROM follow_up f{join} WHERE f.assignee IS NOT NULL AND {who} AND "
        "((f.done_at >= {} AND f.done_at < {}) OR (f.due_at >= {} AND f.due_at < {}))",
        *params, *args, *channel, sql.at(ps), sql.at(e), sql.at(ps), sql.at(e)))[0]
    return {k: (sql.number(row[f"{k}_cur"]), sql.number(row[f"{k}_prev"]))
            for k in ("done", "overdue")}
