"""Scheduled reports (定期报表): a manager subscribes managers or admins to a report, weekly
(Monday 08:00 shop time, covering the week before) or monthly (the 1st at 08:00, the month
before), e-mailed as a PDF.

- A subscription has one recipient, a manager or an admin with an e-mail address, whose data
  scope covers the team asked for; the same report, parameters and cadence for the same
  person once (a unique index backs the check).
- `queue_due` (the recurring `report.schedule` job) writes one delivery per subscription and
  period with INSERT … ON CONFLICT DO NOTHING, and queues its `report.deliver` job in the same
  transaction: however many processes run it, a period is sent once.
- The delivery's job (reports/jobs.py) builds the PDF with the recipient's own scope, sends
  it, and records attempts, the last error and the time it was sent here; the job queue
  retries a failed send with back-off.
"""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from db.actor import Actor
from db.audit.log import record
from db.clock import now
from db.customers.scope import Scope
from db.engine import as_datetime, is_unique_violation, raw, writing
from db.errors import Forbidden, Message, NotFound, ValidationFailed
from db.figures.filters import ReportFilter, make_filter
from db.figures.period import Period
from db.jobs import queue
from db.reports.tables import CADENCES
from db.settings import get_settings

SEND_AT = dt.time(8, 0)  # shop time
DELIVER_ATTEMPTS = 8  # 15 s, 30 s, 1 min, … about an hour of retries before it is failed
MANAGERS = ("manager", "admin")


def _params(channel: str | None, team_id: int | None) -> str:
    return json.dumps({"channel": channel, "team": team_id}, sort_keys=True, separators=(",", ":"))


# ---------------------------------------------------------------- who may receive


async def recipients() -> list[dict]:
    """Active managers and admins: {id, username, display_name, role, team_id, email}."""
    return await raw(
        "SELECT id, username, display_name, role, team AS team_id, email FROM staff_user "
        "WHERE is_active = {} AND role IN ('manager', 'admin') ORDER BY display_name, id", True)


async def _person(user_id: int) -> dict | None:
    rows = await raw("SELECT id, username, display_name, role, team AS team_id, email, locale, is_active "
                     "FROM staff_user WHERE id = {}", user_id)
    return rows[0] if rows else None


def scope_for(person: dict) -> Scope:
    return Scope.for_staff(person["role"], person["id"], person["team_id"])


def filter_for(person: dict, channel: str | None, team_id: int | None) -> ReportFilter:
    """The recipient's own view of the report (Forbidden when it no longer covers the team)."""
    return make_filter(scope_for(person), channel, team_id)


# ---------------------------------------------------------------- subscriptions


async def create(report: str, reports: set[str] | dict, cadence: str, recipient_ids: list[int],
                 channel: str | None, team: str | None, actor: Actor) -> list[int]:
    """Subscribe each chosen person; all or nothing. Field errors: report, cadence,
    recipients (not a manager or admin, no e-mail, already subscribed), channel, team."""
    errors: dict[str, str] = {}
    if report not in reports:
        errors["report"] = Message("choose a report")
    if cadence not in CADENCES:
        errors["cadence"] = Message("choose weekly or monthly")
    ids = sorted({int(i) for i in recipient_ids if str(i).isdigit()})
    if not ids:
        errors["recipients"] = Message("choose at least one manager")
    people = [p for p in [await _person(i) for i in ids] if p]
    filters: dict[int, ReportFilter] = {}
    try:
        make_filter(Scope.everything(), channel, team)  # the values themselves
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if ids and not errors.get("channel") and not errors.get("team"):
        not_managers = [p["display_name"] for p in people if p["role"] not in MANAGERS or not p["is_active"]]
        if len(people) != len(ids) or not_managers:
            errors["recipients"] = Message("only managers and admins receive reports: %(names)s",
                                           names=", ".join(not_managers) or "?")
        elif missing := [p["display_name"] for p in people if not p["email"]]:
            errors["recipients"] = Message(
                "no e-mail address yet (each sets it under More → Reminders and time zone): %(names)s",
                names=", ".join(missing))
        else:
            outside = []
            for p in people:
                try:
                    filters[p["id"]] = filter_for(p, channel, team)
                except Forbidden:
                    outside.append(p["display_name"])
            if outside:
                errors["team"] = Message("that team is outside what these people may see: %(names)s",
                                         names=", ".join(outside))
    if errors:
        raise ValidationFailed(errors)
    stamp = now()
    created: list[int] = []
    try:
        async with writing():
            for p in people:
                filt = filters[p["id"]]
                params = _params(filt.channel, filt.team_id if team not in (None, "") else None)
                if await raw("SELECT id FROM report_subscription WHERE report = {} AND params = {} "
                             "AND cadence = {} AND recipient = {}", report, params, cadence, p["id"]):
                    raise ValidationFailed({"recipients": Message(
                        "already subscribed to this report: %(names)s", names=p["display_name"])})
                rows = await raw(
                    "INSERT INTO report_subscription (report, params, cadence, recipient, created_by, "
                    "created_at) VALUES ({}, {}, {}, {}, {}, {}) RETURNING id",
                    report, params, cadence, p["id"], actor.id, stamp)
                created.append(rows[0]["id"])
                await record("report.subscribe", actor_id=actor.id, actor=actor.label, ip=actor.ip,
                             target_type="report_subscription", target_id=rows[0]["id"],
                             detail={"report": report, "cadence": cadence, "recipient": p["username"],
                                     "params": json.loads(params)})
    except Exception as exc:
        if is_unique_violation(exc):  # the same one, saved by someone else just now
            raise ValidationFailed({"recipients": Message("already subscribed to this report: %(names)s",
                                                          names="?")}) from None
        raise
    return created


def _visible(viewer: Scope) -> tuple[str, list]:
    """Admins see every subscription; a manager those they made or receive."""
    if viewer.kind == "all":
        return "1 = 1", []
    return "(s.created_by = {} OR s.recipient = {})", [viewer.user_id, viewer.user_id]


async def listing(viewer: Scope, limit: int = 200) -> list[dict]:
    """Subscriptions with their recipient, last delivery and failures, newest first."""
    where, args = _visible(viewer)
    rows = await raw(
        "SELECT s.id, s.report, s.params, s.cadence, s.created_at, s.recipient AS recipient_id, "
        "u.display_name AS recipient, u.email AS email, c.display_name AS created_by, "
        "d.period_start, d.period_end, d.status AS last_status, d.attempts AS last_attempts, "
        "d.last_error, d.sent_at, d.id AS delivery_id, "
        "(SELECT COUNT(*) FROM report_delivery f WHERE f.subscription = s.id AND f.status = 'failed') AS failures "
        "FROM report_subscription s JOIN staff_user u ON u.id = s.recipient "
        "LEFT JOIN staff_user c ON c.id = s.created_by "
        "LEFT JOIN report_delivery d ON d.id = (SELECT MAX(x.id) FROM report_delivery x WHERE x.subscription = s.id) "
        f"WHERE {where} ORDER BY s.id DESC LIMIT {{}}", *args, limit)
    out = []
    for row in rows:
        row = dict(row)
        row["params"] = json.loads(row["params"] or "{}")
        row["created_at"] = as_datetime(row["created_at"])
        row["sent_at"] = as_datetime(row["sent_at"])
        row["failures"] = int(row["failures"] or 0)
        row["next_at"] = next_send(row["cadence"])
        out.append(row)
    return out


async def remove(subscription_id: int, viewer: Scope, actor: Actor) -> None:
    where, args = _visible(viewer)
    async with writing():
        rows = await raw(f"SELECT s.id, s.report, s.cadence, s.recipient FROM report_subscription s "
                         f"WHERE s.id = {{}} AND {where}", subscription_id, *args)
        if not rows:
            raise NotFound()
        await raw("DELETE FROM report_subscription WHERE id = {}", subscription_id)
        await record("report.unsubscribe", actor_id=actor.id, actor=actor.label, ip=actor.ip,
                     target_type="report_subscription", target_id=subscription_id,
                     detail={"report": rows[0]["report"], "cadence": rows[0]["cadence"],
                             "recipient_id": rows[0]["recipient"]})


# ---------------------------------------------------------------- when


def _zone(timezone: str) -> ZoneInfo:
    return ZoneInfo(timezone or "Asia/Shanghai")


def last_due(cadence: str, at: dt.datetime, timezone: str) -> dt.datetime:
    """The latest send time at or before `at`: Monday 08:00 (weekly) or the 1st 08:00 (monthly)."""
    zone = _zone(timezone)
    local = at.astimezone(zone)
    day = local.date()
    if cadence == "weekly":
        day -= dt.timedelta(days=day.weekday())
    else:
        day = day.replace(day=1)
    due = dt.datetime.combine(day, SEND_AT, zone)
    if due > local:
        if cadence == "weekly":
            due = dt.datetime.combine(day - dt.timedelta(days=7), SEND_AT, zone)
        else:
            prev = (day - dt.timedelta(days=1)).replace(day=1)
            due = dt.datetime.combine(prev, SEND_AT, zone)
    return due.astimezone(dt.timezone.utc)


def next_send(cadence: str, at: dt.datetime | None = None, timezone: str | None = None) -> dt.datetime:
    """The first send time after `at`."""
    timezone = timezone or get_settings().timezone
    at = at or now()
    zone = _zone(timezone)
    last = last_due(cadence, at, timezone).astimezone(zone)
    if cadence == "weekly":
        nxt = dt.datetime.combine(last.date() + dt.timedelta(days=7), SEND_AT, zone)
    else:
        first = (last.date().replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        nxt = dt.datetime.combine(first, SEND_AT, zone)
    return nxt.astimezone(dt.timezone.utc)


def period_for(cadence: str, due: dt.datetime, timezone: str) -> Period:
    """The period a send at `due` covers: the week or month before it."""
    day = due.astimezone(_zone(timezone)).date()
    return Period.last_week(day) if cadence == "weekly" else Period.last_month(day)


# ---------------------------------------------------------------- deliveries


async def queue_due(timezone: str, at: dt.datetime | None = None) -> list[int]:
    """Write the deliveries that are due (a subscription's latest send time, if the
    subscription existed then) and queue their jobs; returns the new deliveries' ids. Each
    (subscription, period) once, however often and wherever this runs."""
    at = at or now()
    stamp = now()
    new: list[int] = []
    async with writing():
        for cadence in CADENCES:
            due = last_due(cadence, at, timezone)
            period = period_for(cadence, due, timezone)
            rows = await raw(
                "INSERT INTO report_delivery (subscription, period_start, period_end, status, attempts, "
                "last_error, created_at, updated_at, sent_at) "
                "SELECT s.id, {}, {}, 'queued', 0, '', {}, {}, NULL FROM report_subscription s "
                "WHERE s.cadence = {} AND s.created_at <= {} "
                "ON CONFLICT DO NOTHING RETURNING id",
                period.start.isoformat(), period.end.isoformat(), stamp, stamp, cadence, due)
            for row in rows:
                new.append(row["id"])
                await queue.enqueue("report.deliver", {"delivery_id": row["id"]},
                                    unique_key=f"deliver:{row['id']}", max_attempts=DELIVER_ATTEMPTS)
    return new


async def delivery(delivery_id: int) -> dict | None:
    """A delivery with its subscription and recipient, for its job."""
    rows = await raw(
        "SELECT d.id, d.period_start, d.period_end, d.status, d.attempts, d.sent_at, s.id AS subscription_id, "
        "s.report, s.params, s.cadence, s.created_by, u.id AS user_id, u.username, u.display_name, u.role, "
        "u.team AS team_id, u.email, u.locale, u.is_active FROM report_delivery d "
        "JOIN report_subscription s ON s.id = d.subscription JOIN staff_user u ON u.id = s.recipient "
        "WHERE d.id = {}", delivery_id)
    if not rows:
        return None
    row = dict(rows[0])
    row["params"] = json.loads(row["params"] or "{}")
    row["period"] = Period(dt.date.fromisoformat(row["period_start"]), dt.date.fromisoformat(row["period_end"]))
    return row


async def begin_attempt(delivery_id: int) -> int | None:
    """Count an attempt; None when the delivery was already sent (nothing more to do)."""
    async with writing():
        rows = await raw("UPDATE report_delivery SET status = 'sending', attempts = attempts + 1, "
                         "updated_at = {} WHERE id = {} AND status <> 'sent' RETURNING attempts",
                         now(), delivery_id)
    return rows[0]["attempts"] if rows else None


async def sent(item: dict, actor_label: str = "scheduler") -> bool:
    """The e-mail went out: recorded once, with an audit entry naming the recipient."""
    async with writing():
        rows = await raw("UPDATE report_delivery SET status = 'sent', last_error = '', sent_at = {}, "
                         "updated_at = {} WHERE id = {} AND status <> 'sent' RETURNING id",
                         now(), now(), item["id"])
        if rows:
            await record("report.emailed", actor_id=item["created_by"], actor=actor_label,
                         target_type="report_delivery", target_id=item["id"],
                         detail={"report": item["report"], "recipient": item["username"],
                                 "cadence": item["cadence"], "params": item["params"],
                                 "from": item["period_start"], "to": item["period_end"]})
    return bool(rows)


async def failed_attempt(delivery_id: int, error: str, last: bool) -> None:
    """An attempt failed: retried by the queue ("queued"), or "failed" after the last one."""
    async with writing():
        await raw("UPDATE report_delivery SET status = {}, last_error = {}, updated_at = {} "
                  "WHERE id = {} AND status <> 'sent'", "failed" if last else "queued", error[:2000],
                  now(), delivery_id)


async def retry(delivery_id: int, viewer: Scope) -> bool:
    """Send a failed delivery again (the schedule page's button)."""
    where, args = _visible(viewer)
    async with writing():
        rows = await raw(
            "UPDATE report_delivery SET status = 'queued', attempts = 0, updated_at = {} WHERE id = {} "
            f"AND status = 'failed' AND subscription IN (SELECT s.id FROM report_subscription s WHERE {where}) "
            "RETURNING id", now(), delivery_id, *args)
        if rows:
            await queue.enqueue("report.deliver", {"delivery_id": delivery_id},
                                unique_key=f"deliver:{delivery_id}", max_attempts=DELIVER_ATTEMPTS)
    return bool(rows)
