"""The figures split into parts: customers by lifecycle stage, members by tier, the pipeline
by stage (as they stand now) and each person's follow-up work in a period.

Each returns plain dicts: `key` (what a drill-down link filters on), `label` (a code the
reader's language turns into words: a lifecycle stage, a built-in pipeline stage's code; a
tier's or a manager's own stage's name as typed), `count` and, where money, `amount_fen`.
"""

from __future__ import annotations

from db.clock import now
from db.customers.tables import LIFECYCLE_STAGES
from db.engine import raw, reading
from db.figures import sql
from db.figures.filters import ReportFilter
from db.figures.period import Period


async def lifecycle_counts(filt: ReportFilter) -> list[dict]:
    """Customers per lifecycle stage, every stage listed (0 where none), in stage order."""
    where, args = sql.customers(filt)
    rows = await raw(
        f"SELECT c.lifecycle_stage AS k, COUNT(*) AS n FROM customer c WHERE {where} "
        "GROUP BY c.lifecycle_stage", *args)
    found = {r["k"]: sql.number(r["n"]) for r in rows}
    return [{"key": stage, "label": stage, "count": found.get(stage, 0)}
            for stage in LIFECYCLE_STAGES]


async def members_by_tier(filt: ReportFilter) -> list[dict]:
    """Members per tier, every tier listed, lowest first."""
    where, args = sql.customers(filt)
    rows = await raw(
        "SELECT t.id, t.name, t.color, t.position, COALESCE(x.n, 0) AS n FROM tier t "
        "LEFT JOIN (SELECT m.tier AS tier, COUNT(*) AS n FROM member m "
        f"JOIN customer c ON c.id = m.customer WHERE {where} GROUP BY m.tier) x "
        "ON x.tier = t.id ORDER BY t.position", *args)
    return [{"key": r["id"], "label": r["name"], "color": r["color"], "count": sql.number(r["n"])}
            for r in rows]


async def pipeline_by_stage(filt: ReportFilter) -> list[dict]:
    """Opportunities of the filter's customers in each stage now, with their amount; every
    stage listed in board order. `label` is a built-in stage's code, else its name;
    `outcome` is open, won or lost."""
    where, args = sql.customers(filt)
    rows = await raw(
        "SELECT s.id, s.code, s.name, s.outcome, COALESCE(x.n, 0) AS n, COALESCE(x.a, 0) AS a "
        "FROM pipeline_stage s LEFT JOIN (SELECT o.stage AS stage, COUNT(*) AS n, "
        "SUM(o.amount_fen) AS a FROM opportunity o JOIN customer c ON c.id = o.customer "
        f"WHERE {where} GROUP BY o.stage) x ON x.stage = s.id ORDER BY s.position, s.id", *args)
    return [{"key": r["id"], "label": r["code"] or r["name"], "code": r["code"],
             "name": r["name"], "outcome": r["outcome"], "count": sql.number(r["n"]),
             "amount_fen": sql.number(r["a"])} for r in rows]


PERSON_FIELDS = ("due", "done", "done_on_time", "done_late", "overdue", "interactions",
                 "won_count", "won_fen")


async def followups_by_person(period: Period, filt: ReportFilter) -> list[dict]:
    """Per person in the filter's scope (active staff, and anyone with work in the period):
    follow-ups due in the period, of those done on time / late / still open past their time
    (`overdue`), follow-ups completed in the period (`done`, whenever due: the key figure
    followups_done is their sum), interactions logged, opportunities won and their amount.
    Sorted by name."""
    s, e = period.bounds()
    lo, hi, t = sql.at(s), sql.at(e), sql.at(now())
    join, extra, channel = "", "", []
    if filt.channel:
        join, extra, channel = " JOIN customer c ON c.id = x.customer", \
            " AND c.first_channel = {}", [filt.channel]
    async with reading():
        who, args = sql.people(filt, "u.id")
        users = await raw(
            f"SELECT u.id, u.display_name, u.username FROM staff_user u WHERE u.is_active AND {who}", *args)
        who, args = sql.people(filt, "x.assignee")
        work = await raw(
            "SELECT x.assignee AS uid, "
            "SUM(CASE WHEN x.due_at >= {} AND x.due_at < {} AND x.status <> 'cancelled' "
            "THEN 1 ELSE 0 END) AS due, "
            "SUM(CASE WHEN x.status = 'done' AND x.done_at >= {} AND x.done_at < {} "
            "THEN 1 ELSE 0 END) AS done, "
            "SUM(CASE WHEN x.due_at >= {} AND x.due_at < {} AND x.status = 'done' "
            "AND x.done_at <= x.due_at THEN 1 ELSE 0 END) AS done_on_time, "
            "SUM(CASE WHEN x.due_at >= {} AND x.due_at < {} AND x.status = 'done' "
            "AND x.done_at > x.due_at THEN 1 ELSE 0 END) AS done_late, "
            "SUM(CASE WHEN x.due_at >= {} AND x.due_at < {} AND x.status = 'open' "
            "AND x.due_at < {} THEN 1 ELSE 0 END) AS overdue "
            f"FROM follow_up x{join} WHERE x.assignee IS NOT NULL AND {who}{extra} AND "
            "((x.done_at >= {} AND x.done_at < {}) OR (x.due_at >= {} AND x.due_at < {})) "
            "GROUP BY x.assignee",
            lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, t, *args, *channel, lo, hi, lo, hi)
        who, args = sql.people(filt, "x.staff")
        talks = await raw(
            f"SELECT x.staff AS uid, COUNT(*) AS n FROM interaction x{join} "
            f"WHERE x.staff IS NOT NULL AND {who}{extra} AND x.happened_at >= {{}} "
            "AND x.happened_at < {} GROUP BY x.staff", *args, *channel, lo, hi)
        who, args = sql.people(filt, "x.owner")
        won = await raw(
            "SELECT x.owner AS uid, COUNT(*) AS n, SUM(x.amount_fen) AS a "
            f"FROM opportunity x{join} WHERE x.owner IS NOT NULL AND x.status = 'won' AND "
            f"{who}{extra} AND x.closed_at >= {{}} AND x.closed_at < {{}} GROUP BY x.owner",
            *args, *channel, lo, hi)
        known = {u["id"] for u in users}
        missing = sorted({r["uid"] for r in (*work, *talks, *won)} - known)
        if missing:  # deactivated people whose work still falls in the period
            marks = ", ".join("{}" for _ in missing)
            users += await raw(
                f"SELECT u.id, u.display_name, u.username FROM staff_user u WHERE u.id IN ({marks})",
                *missing)
    rows = {u["id"]: {"user_id": u["id"], "name": u["display_name"] or u["username"],
                      **{k: 0 for k in PERSON_FIELDS}} for u in users}
    for r in work:
        for k in ("due", "done", "done_on_time", "done_late", "overdue"):
            rows[r["uid"]][k] = sql.number(r[k])
    for r in talks:
        rows[r["uid"]]["interactions"] = sql.number(r["n"])
    for r in won:
        rows[r["uid"]]["won_count"] = sql.number(r["n"])
        rows[r["uid"]]["won_fen"] = sql.number(r["a"])
    return sorted(rows.values(), key=lambda r: (r["name"], r["user_id"]))
