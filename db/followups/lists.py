"""Follow-ups as people read them: one follow-up, a customer's open ones, Today's groups and
badge, the team overview, and the API's shape.

Who may see a follow-up: its assignee, and anyone whose Scope allows its customer.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from db.clock import now
from db.customers.scope import Scope
from db.engine import as_datetime, raw, reading
from db.errors import NotFound
from db.followups.rules import outcome_text

_SELECT = (
    "SELECT f.*, c.name AS customer_name, c.mobile AS customer_mobile, c.owner AS customer_owner, "
    "c.team AS customer_team, s.display_name AS assignee_name, s.username AS assignee_username, "
    "d.display_name AS done_by_name, p.every_days AS plan_every_days, p.active AS plan_active "
    "FROM follow_up f JOIN customer c ON c.id = f.customer "
    "LEFT JOIN staff_user s ON s.id = f.assignee LEFT JOIN staff_user d ON d.id = f.done_by "
    "LEFT JOIN follow_up_plan p ON p.id = f.plan "
)
_TIMES = ("due_at", "remind_at", "reminded_at", "done_at", "created_at", "updated_at")


def _clean(row: dict) -> dict:
    for key in _TIMES:
        row[key] = as_datetime(row.get(key))
    row["reminder_late"] = bool(row.get("reminder_late"))
    row["plan_active"] = bool(row.get("plan_active"))
    return row


def visible(scope: Scope, row: dict) -> bool:
    return row["assignee"] == scope.user_id or scope.allows(row["customer_owner"], row["customer_team"])


async def get(scope: Scope, follow_up_id: int) -> dict:
    rows = await raw(_SELECT + "WHERE f.id = {}", follow_up_id)
    if not rows or not visible(scope, rows[0]):
        raise NotFound()
    row = _clean(rows[0])
    row["can_see_customer"] = scope.allows(row["customer_owner"], row["customer_team"])
    return row


async def for_customer(customer_id: int, limit: int = 20) -> list[dict]:
    """A customer's open follow-ups, soonest first (the card; its scope is already checked)."""
    rows = await raw(_SELECT + "WHERE f.customer = {} AND f.status = 'open' "
                     "ORDER BY f.due_at, f.id LIMIT {}", customer_id, limit)
    return [_clean(r) for r in rows]



# ---------------------------------------------------------------- Today

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
UPCOMING_DAYS = 7
GROUP_LIMIT = 30  # two screens of a phone; "show all" opens one group up to GROUP_MAX
GROUP_MAX = 500


def day_bounds(tz: ZoneInfo, at: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """The start of today and of tomorrow in the person's zone, as UTC."""
    local = (at or now()).astimezone(tz)
    start = dt.datetime.combine(local.date(), dt.time(), tzinfo=tz)
    return start.astimezone(dt.timezone.utc), (start + dt.timedelta(days=1)).astimezone(dt.timezone.utc)


async def today_lists(user_id: int, tz: ZoneInfo, expand: str | None = None) -> dict:
    """My open follow-ups: overdue (due before now), today (the rest of today), upcoming (next
    7 days). Each group capped at GROUP_LIMIT (the `expand`ed one at GROUP_MAX); counts are
    exact."""
    at = now()
    _, tomorrow = day_bounds(tz, at)
    horizon = tomorrow + dt.timedelta(days=UPCOMING_DAYS)

    def limit(group: str) -> int:
        return GROUP_MAX if group == expand else GROUP_LIMIT

    # One round trip for the three groups, each read off (assignee, status, due_at).
    bounds = {"overdue": (_EPOCH, at), "today": (at, tomorrow), "upcoming": (tomorrow, horizon)}
    parts = [
        "SELECT * FROM (" + _SELECT.replace("SELECT f.*", f"SELECT '{group}' AS grp, f.*", 1)
        + "WHERE f.assignee = {} AND f.status = 'open' AND f.due_at >= {} AND f.due_at < {} "
        f"ORDER BY f.due_at, f.id LIMIT {limit(group)}) AS {group}_rows"
        for group in bounds
    ]
    args = [v for lo, hi in bounds.values() for v in (user_id, lo, hi)]
    async with reading():
        rows = await raw(" UNION ALL ".join(parts), *args)
        counts = (await raw(
            "SELECT SUM(CASE WHEN due_at < {} THEN 1 ELSE 0 END) AS overdue, "
            "SUM(CASE WHEN due_at >= {} AND due_at < {} THEN 1 ELSE 0 END) AS today, "
            "SUM(CASE WHEN due_at >= {} AND due_at < {} THEN 1 ELSE 0 END) AS upcoming "
            "FROM follow_up WHERE assignee = {} AND status = 'open' AND due_at < {}",
            at, at, tomorrow, tomorrow, horizon, user_id, horizon,
        ))[0]
    groups: dict[str, list[dict]] = {g: [] for g in bounds}
    for row in rows:
        groups[row.pop("grp")].append(_clean(row))
    return {"groups": groups, "counts": {k: int(counts[k] or 0) for k in groups}}


async def badge_count(user_id: int, tz: ZoneInfo) -> int:
    """Open follow-ups due before tomorrow (overdue and today): the Today tab's badge."""
    _, tomorrow = day_bounds(tz)
    rows = await raw("SELECT COUNT(*) AS n FROM follow_up WHERE assignee = {} AND status = 'open' "
                     "AND due_at < {}", user_id, tomorrow)
    return int(rows[0]["n"] or 0)


async def team_overview(scope: Scope, tz: ZoneInfo) -> list[dict]:
    """Per person: open, overdue, and completed this week (Monday, their manager's zone)."""
    at = now()
    today_start, _ = day_bounds(tz, at)
    week_start = today_start - dt.timedelta(days=at.astimezone(tz).weekday())
    where, args = "s.is_active", []
    if scope.kind == "team":
        where, args = "s.is_active AND s.team = {}", [scope.team_id]
    elif scope.kind == "own":
        where, args = "s.id = {}", [scope.user_id]
    rows = await raw(
        "SELECT s.id, s.display_name, s.username, s.role, "
        "(SELECT COUNT(*) FROM follow_up f WHERE f.assignee = s.id AND f.status = 'open') AS open, "
        "(SELECT COUNT(*) FROM follow_up f WHERE f.assignee = s.id AND f.status = 'open' "
        " AND f.due_at < {}) AS overdue, "
        "(SELECT COUNT(*) FROM follow_up f WHERE f.assignee = s.id AND f.status = 'done' "
        " AND f.done_at >= {}) AS done_week "
        f"FROM staff_user s WHERE {where} ORDER BY s.display_name, s.id",
        at, week_start, *args,
    )
    for row in rows:
        for key in ("open", "overdue", "done_week"):
            row[key] = int(row[key] or 0)
    return rows


async def open_for(scope: Scope, user_id: int, limit: int = 200) -> list[dict]:
    """One person's open follow-ups that the viewer may see (the team view's drill-down)."""
    clause, args = scope.clause("c")
    rows = await raw(_SELECT + f"WHERE f.assignee = {{}} AND f.status = 'open' AND {clause} "
                     "ORDER BY f.due_at, f.id LIMIT {}", user_id, *args, limit)
    return [_clean(r) for r in rows]


# ---------------------------------------------------------------- the API's shape

def as_json(row: dict) -> dict:
    def iso(value):
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z") if value else None

    return {
        "id": row["id"], "customer_id": row["customer"], "customer_name": row["customer_name"],
        "opportunity_id": row["opportunity"], "assignee": row["assignee_username"],
        "kind": row["kind"], "title": row["title"], "priority": row["priority"],
        "status": row["status"], "due_at": iso(row["due_at"]), "remind_at": iso(row["remind_at"]),
        "reminder": {"state": row["reminder_state"], "sent_at": iso(row["reminded_at"]),
                     "late": row["reminder_late"]},
        "outcome": outcome_text(row["outcome_code"] or "", row["outcome"] or "") or None,
        "outcome_code": row["outcome_code"] or None, "note": row["note"] or None,
        "done_at": iso(row["done_at"]),
        "next_follow_up_id": row["next_follow_up"],
        "repeat_every_days": row["plan_every_days"] if row["plan_active"] else None,
        "source": row["source"], "created_at": iso(row["created_at"]),
    }


