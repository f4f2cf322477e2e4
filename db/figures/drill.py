"""The lists behind the figures: which customers a tile counts (as a condition the customer
list adds to its own search), and the follow-ups behind the follow-up figures.

Each condition counts exactly what key.py's figure counts (tests/test_dashboard.py checks the
list's count against the tile's): new customers; buyers (active customers, and the customers
behind orders and sales); repeat buyers (repurchase rate's numerator); lapsed buyers (churn
rate's numerator); a lifecycle stage or a tier (with the channel as first channel).
"""

from __future__ import annotations

from db.clock import now
from db.engine import as_datetime, raw, reading
from db.figures import sql
from db.figures.filters import ReportFilter
from db.figures.period import Period

CUSTOMER_FIGURES = ("new", "active", "repeat", "churned")
FOLLOWUP_FIGURES = ("done", "overdue")
FOLLOWUP_PAGE = 30


def _bought(period: Period, channel: str | None, alias: str) -> tuple[str, list]:
    s, e = period.bounds()
    extra = f" AND {alias}.channel = {{}}" if channel else ""
    return (f"EXISTS (SELECT 1 FROM \"order\" {alias} WHERE {alias}.customer = c.id AND "
            f"{alias}.status = 'paid' AND {alias}.placed_at >= {{}} AND {alias}.placed_at < {{}}{extra})",
            [sql.at(s), sql.at(e), *([channel] if channel else [])])


def customer_condition(filt: ReportFilter, *, figure: str | None = None,
                       period: Period | None = None, tier: int | None = None) -> tuple[str, list]:
    """A condition on customer `c` (scope not included: the list applies
    filt.customer_scope itself). `figure` is one of CUSTOMER_FIGURES and needs `period`;
    without a figure, the channel is the customers' first channel."""
    parts: list[str] = []
    args: list = []
    ch = filt.channel
    if figure == "new":
        s, e = period.bounds()
        parts.append("c.created_at >= {} AND c.created_at < {}")
        args += [sql.at(s), sql.at(e)]
    if figure in ("new", None) and ch:
        parts.append("c.first_channel = {}")
        args.append(ch)
    if figure in ("active", "repeat"):
        cond, a = _bought(period, ch, "fo")
        parts.append(cond)
        args += a
    if figure == "repeat":
        s, e = period.bounds()
        extra = " AND fr.channel = {}" if ch else ""
        parts.append(
            "(EXISTS (SELECT 1 FROM \"order\" fr WHERE fr.customer = c.id AND fr.status = 'paid' "
            f"AND fr.placed_at < {{}}{extra}) OR (SELECT COUNT(*) FROM \"order\" fn "
            "WHERE fn.customer = c.id AND fn.status = 'paid' AND fn.placed_at >= {} "
            f"AND fn.placed_at < {{}}{extra.replace('fr.', 'fn.')}) >= 2)")
        args += [sql.at(s), *([ch] if ch else []), sql.at(s), sql.at(e), *([ch] if ch else [])]
    if figure == "churned":
        before, a = _bought(period.previous(), ch, "fp")
        now_, b = _bought(period, ch, "fo")
        parts.append(f"{before} AND NOT {now_}")
        args += a + b
    if tier is not None:
        parts.append("EXISTS (SELECT 1 FROM member fm WHERE fm.customer = c.id AND fm.tier = {})")
        args.append(tier)
    return (" AND ".join(parts) or "1 = 1"), args


def _followup_condition(figure: str, period: Period, filt: ReportFilter,
                        person: int | None) -> tuple[str, list]:
    s, e = period.bounds()
    who, args = sql.people(filt, "f.assignee")
    parts = ["f.assignee IS NOT NULL", who]
    if person is not None:
        parts.append("f.assignee = {}")
        args.append(person)
    if filt.channel:
        parts.append("c.first_channel = {}")
        args.append(filt.channel)
    if figure == "done":
        parts.append("f.status = 'done' AND f.done_at >= {} AND f.done_at < {}")
        args += [sql.at(s), sql.at(e)]
    else:
        parts.append("f.status = 'open' AND f.due_at >= {} AND f.due_at < {} AND f.due_at < {}")
        args += [sql.at(s), sql.at(e), sql.at(now())]
    return " AND ".join(parts), args


async def followups(figure: str, period: Period, filt: ReportFilter, *, person: int | None = None,
                    before_id: int | None = None, limit: int = FOLLOWUP_PAGE
                    ) -> tuple[list[dict], int | None, int]:
    """A page of the follow-ups behind `figure` (done: completed in the period; overdue: due
    in it, past their time and still open), newest first: rows, the next page's cursor, and
    how many there are in all (the tile's number)."""
    where, args = _followup_condition(figure, period, filt, person)
    base = ("FROM follow_up f JOIN customer c ON c.id = f.customer "
            "LEFT JOIN staff_user u ON u.id = f.assignee WHERE " + where)
    page_where = " AND f.id < {}" if before_id else ""
    async with reading():
        total = sql.number((await raw(f"SELECT COUNT(*) AS n {base}", *args))[0]["n"])
        rows = await raw(
            "SELECT f.id, f.title, f.kind, f.status, f.due_at, f.done_at, f.customer AS customer_id, "
            "c.name AS customer_name, u.display_name AS assignee_name, u.username AS assignee_username "
            f"{base}{page_where} ORDER BY f.id DESC LIMIT {int(limit) + 1}",
            *args, *([before_id] if before_id else []))
    more = len(rows) > limit
    rows = rows[:limit]
    for r in rows:
        r["due_at"], r["done_at"] = as_datetime(r["due_at"]), as_datetime(r["done_at"])
    return rows, (rows[-1]["id"] if more and rows else None), total
