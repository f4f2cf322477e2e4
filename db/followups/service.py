"""Follow-ups: the rules for creating, completing, snoozing and reassigning them.

Who may see a follow-up: its assignee, and anyone whose Scope allows its customer.
Completing is a conditional update (status must still be open), so two phones completing
the same follow-up at once give one completion and one next follow-up.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from db.audit.log import record
from db.clock import SHOP_TZ, YEARS_MESSAGE, now, plausible_year
from db.customers.scope import Scope
from db.customers.service import refresh_next_follow_up
from db.actor import Actor
from db.engine import as_datetime, raw, reading, writing
from db.errors import Conflict, NotFound, ValidationFailed
from db.followups.tables import KINDS, OUTCOMES, PRIORITIES, FollowUp, FollowUpPlan
from db.i18n import translations
from db.push import outbox

TITLE_MAX = 200
OUTCOME_MAX = 2000
NOTE_MAX = 2000
SHOP_LANG = "zh-CN"
# The English msgids of the outcome codes' labels, for text the domain writes itself (a next
# follow-up's title, the API's outcome); pages show codes through components/labels.html.
OUTCOME_LABELS = {"reached": "Reached", "no_answer": "No answer", "interested": "Interested",
                  "not_interested": "Not interested", "resolved": "Resolved"}
OUTCOME_SEPARATOR = " · "
TITLE_WORDS = 40  # characters of a note that make a planned follow-up's title
PLAN_DAYS = (7, 14, 30, 60, 90)
PAST_LIMIT = dt.timedelta(days=366)
FUTURE_LIMIT = dt.timedelta(days=731)


def ref(follow_up_id: int) -> str:
    """The push outbox key of a follow-up's reminder (to cancel it when plans change)."""
    return f"followup:{follow_up_id}:reminder"


def parse_when(value, tz: ZoneInfo, field: str, errors: dict) -> dt.datetime | None:
    """An ISO 8601 time; one without an offset is read in the given zone. UTC out."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, str) and len(value) <= 40:
        try:
            when = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            errors[field] = "a date and time like 2026-12-01T15:30:00+08:00"
            return None
    else:
        errors[field] = "a date and time like 2026-12-01T15:30:00+08:00"
        return None
    if not plausible_year(when):  # before converting: year 1 in a zone east of UTC overflows
        errors[field] = YEARS_MESSAGE
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return when.astimezone(dt.timezone.utc)


def parse_local(date_text: str, time_text: str, tz: ZoneInfo, field: str, errors: dict):
    """A date and a time of day from a form, in the person's zone."""
    date_text, time_text = (date_text or "").strip()[:10], (time_text or "").strip()[:5] or "10:00"
    try:
        day = dt.date.fromisoformat(date_text)
        clock = dt.time.fromisoformat(time_text)
    except ValueError:
        errors[field] = "required" if not date_text else "a date and time like 2026-12-01T15:30:00+08:00"
        return None
    if not plausible_year(day):
        errors[field] = YEARS_MESSAGE
        return None
    return dt.datetime.combine(day, clock, tzinfo=tz).astimezone(dt.timezone.utc)


@dataclass
class FollowUpInput:
    customer_id: int | None
    assignee_id: int | None
    kind: str
    title: str
    priority: str
    due_at: dt.datetime | None
    remind_at: dt.datetime | None
    opportunity_id: int | None = None
    every_days: int | None = None
    note: str = ""


@dataclass
class NextFollowUp:
    """What a completion says of the next follow-up (the web sheet: a day; the API: a time and
    perhaps a reminder, title and kind). The rest comes from `plan_next`, the one rule."""

    due_at: dt.datetime | None = None
    on: dt.date | None = None  # a day, at the completed one's time of day in `zone`
    zone: ZoneInfo | None = None
    remind_at: dt.datetime | None = None
    title: str = ""
    kind: str = ""


def outcome_label(code: str, lang: str = SHOP_LANG) -> str:
    """An outcome code's label in a language (unknown codes as they are)."""
    return translations(lang).gettext(OUTCOME_LABELS[code]) if code in OUTCOME_LABELS else code


def outcome_text(code: str, outcome: str, lang: str = SHOP_LANG) -> str:
    """The label and the words, as one text ("有意向 · 周五下单")."""
    return OUTCOME_SEPARATOR.join(p for p in (outcome_label(code, lang) if code else "", outcome) if p)


def first_words(text: str, limit: int = TITLE_WORDS) -> str:
    """The start of a note as a title: its first line, cut at a word (or anywhere, for Chinese)."""
    line = " ".join((text or "").strip().splitlines()[:1]).strip()
    if len(line) <= limit:
        return line
    cut = line[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,.;:，。；：、") + "…"


def plan_next(row: dict, nxt: NextFollowUp, outcome_code: str, outcome: str,
              lang: str = SHOP_LANG) -> FollowUpInput:
    """The one rule for the follow-up a completion plans, from the web sheet and the API alike:
    - due at the given time, else on the given day at the completed one's time of day;
    - reminded at the given time, else with the completed one's lead (none if it had none);
    - kind as given, else the completed one's; customer, assignee, priority and opportunity
      the completed one's (and its repeating plan, while that is on);
    - titled as given, else from what was logged: the outcome's label and the note's first
      words (not the completed one's title again: Today would fill with identical rows);
      the whole note goes with it, shown on Today."""
    due = nxt.due_at
    if due is None and nxt.on is not None:
        zone = nxt.zone or SHOP_TZ
        clock = row["due_at"].astimezone(zone).time()
        due = dt.datetime.combine(nxt.on, clock, tzinfo=zone).astimezone(dt.timezone.utc)
    remind = nxt.remind_at
    if remind is None and due is not None and row["remind_at"] is not None:
        remind = due - (row["due_at"] - row["remind_at"])
    title = (nxt.title or "").strip() or first_words(outcome_text(outcome_code, outcome, lang)) or row["title"]
    return FollowUpInput(
        customer_id=row["customer"], assignee_id=row["assignee"], kind=nxt.kind or row["kind"],
        title=title, priority=row["priority"], due_at=due, remind_at=remind,
        opportunity_id=row["opportunity"], note=(outcome or "")[:NOTE_MAX],
    )


def check(values: FollowUpInput, errors: dict, *, at: dt.datetime | None = None) -> None:
    """The rules every follow-up obeys, whoever creates it."""
    at = at or now()
    if values.kind not in KINDS:
        errors["kind"] = f"one of {', '.join(KINDS)}"
    values.title = (values.title or "").strip() if isinstance(values.title, str) else ""
    if not values.title:
        errors["title"] = "required"
    elif len(values.title) > TITLE_MAX:
        errors["title"] = "at most 200 characters"
    if values.priority not in PRIORITIES:
        errors["priority"] = f"one of {', '.join(PRIORITIES)}"
    if values.due_at is None:
        errors.setdefault("due_at", "required")
    elif not at - PAST_LIMIT <= values.due_at <= at + FUTURE_LIMIT:
        errors["due_at"] = "within a year before and two years after today"
    if values.remind_at is not None and values.due_at is not None and values.remind_at > values.due_at:
        errors["remind_at"] = "at or before the due time"
    if values.every_days is not None and values.every_days not in PLAN_DAYS:
        errors["every_days"] = f"one of {', '.join(map(str, PLAN_DAYS))}"


async def assignee_id(ref_value, errors: dict, field: str = "assignee") -> int | None:
    """An active staff member by id or username."""
    if ref_value is None or ref_value == "":
        errors[field] = "required"
        return None
    column = "id" if isinstance(ref_value, int) else "username"
    rows = await raw(f"SELECT id FROM staff_user WHERE {column} = {{}} AND is_active", ref_value)
    if not rows:
        errors[field] = "an active staff member's username"
        return None
    return rows[0]["id"]


async def _customer_visible(scope: Scope, customer_id) -> bool:
    if not isinstance(customer_id, int):
        return False
    clause, args = scope.clause("c")
    rows = await raw(f"SELECT 1 FROM customer c WHERE c.id = {{}} AND {clause}", customer_id, *args)
    return bool(rows)


async def create(scope: Scope, values: FollowUpInput, actor: Actor, *, source: str = "web",
                 assignee_ref=None) -> int:
    """Validate and insert one follow-up (and its plan when it repeats). All or nothing."""
    errors: dict[str, str] = {}
    check(values, errors)
    async with writing():
        if assignee_ref is not None or values.assignee_id is None:
            values.assignee_id = await assignee_id(assignee_ref, errors)
        elif not await assignee_id(values.assignee_id, errors):
            values.assignee_id = None
        if not await _customer_visible(scope, values.customer_id):
            errors["customer_id"] = "an existing customer you may see"
        if values.opportunity_id is not None and not await raw(
            "SELECT 1 FROM opportunity WHERE id = {} AND customer = {}",
            values.opportunity_id, values.customer_id,
        ):
            errors["opportunity_id"] = "an opportunity of this customer"
        if errors:
            raise ValidationFailed(errors)
        follow_up_id = await _insert(values, actor.id, source)
        await record("followup.create", actor_id=actor.id, actor=actor.label,
                     target_type="customer", target_id=values.customer_id, ip=actor.ip,
                     detail={"follow_up": follow_up_id, "source": source})
    return follow_up_id


async def _insert(values: FollowUpInput, actor_id: int | None, source: str,
                  plan_id: int | None = None) -> int:
    stamp = now()
    if values.every_days and plan_id is None:
        plan = await FollowUpPlan.insert(FollowUpPlan(
            customer=values.customer_id, assignee=values.assignee_id, kind=values.kind,
            title=values.title, priority=values.priority, every_days=values.every_days,
            created_by=actor_id, created_at=stamp,
        )).returning(FollowUpPlan.id)
        plan_id = plan[0]["id"]
    rows = await FollowUp.insert(FollowUp(
        customer=values.customer_id, opportunity=values.opportunity_id, plan=plan_id,
        assignee=values.assignee_id, kind=values.kind, title=values.title,
        priority=values.priority, status="open", due_at=values.due_at,
        remind_at=values.remind_at, note=(values.note or "")[:NOTE_MAX],
        reminder_state="pending" if values.remind_at else "none",
        source=source, created_by=actor_id, created_at=stamp, updated_at=stamp,
    )).returning(FollowUp.id)
    await refresh_next_follow_up([values.customer_id])
    return rows[0]["id"]


# ---------------------------------------------------------------- reading

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


# ---------------------------------------------------------------- changing

async def _open_row(scope: Scope, follow_up_id: int) -> dict:
    """The follow-up if it is still open (writers then update it on status = 'open')."""
    row = await get(scope, follow_up_id)
    if row["status"] != "open":
        raise Conflict("already " + row["status"])
    return row


async def complete(scope: Scope, follow_up_id: int, actor: Actor, outcome: str = "",
                   next_values: FollowUpInput | NextFollowUp | None = None, *,
                   outcome_code: str = "", lang: str = SHOP_LANG) -> int | None:
    """Mark done with an outcome (a code of OUTCOMES, what happened in words, or both); create
    the next follow-up in the same transaction: as asked (a NextFollowUp, completed by
    `plan_next`; or a whole FollowUpInput), else from the repeating plan. Returns the next
    one's id. A second completion is a Conflict."""
    outcome = (outcome or "").strip() if isinstance(outcome, str) else ""
    if outcome_code not in ("", *OUTCOMES):
        raise ValueError(outcome_code)  # callers pass a code they offered, never raw input
    errors: dict[str, str] = {}
    if not outcome and not outcome_code:
        errors["outcome"] = "required"
    elif len(outcome) > OUTCOME_MAX:
        errors["outcome"] = "at most 2000 characters"
    row = await get(scope, follow_up_id)  # unknown stays 404 before field errors
    if isinstance(next_values, NextFollowUp):
        next_values = plan_next(row, next_values, outcome_code, outcome, lang)
    if next_values is not None:
        check(next_values, errors)
    if errors:
        raise ValidationFailed(errors)
    async with writing():
        row = await get(scope, follow_up_id)
        stamp = now()
        won = await raw(
            "UPDATE follow_up SET status = 'done', outcome = {}, outcome_code = {}, done_at = {}, "
            "done_by = {}, updated_at = {} WHERE id = {} AND status = 'open' RETURNING id",
            outcome, outcome_code, stamp, actor.id, stamp, follow_up_id,
        )
        if not won:
            raise Conflict("already " + (await get(scope, follow_up_id))["status"])
        next_id = await _next_after(row, next_values, actor, stamp)
        if next_id:
            await raw("UPDATE follow_up SET next_follow_up = {} WHERE id = {}", next_id, follow_up_id)
        await _cancel_reminder(follow_up_id)
        await refresh_next_follow_up([row["customer"]])
        await record("followup.complete", actor_id=actor.id, actor=actor.label,
                     target_type="customer", target_id=row["customer"], ip=actor.ip,
                     detail={"follow_up": follow_up_id, "next": next_id})
    return next_id


async def _next_after(row: dict, next_values: FollowUpInput | None, actor: Actor,
                      stamp: dt.datetime) -> int | None:
    if next_values is not None:
        next_values.customer_id = row["customer"]
        next_values.opportunity_id = next_values.opportunity_id or row["opportunity"]
        next_values.assignee_id = next_values.assignee_id or row["assignee"]
        return await _insert(next_values, actor.id, "web", plan_id=row["plan"] if row["plan_active"] else None)
    if not (row["plan"] and row["plan_active"]):
        return None
    base = max(row["due_at"], stamp)
    due = row["due_at"] + dt.timedelta(days=row["plan_every_days"])
    while due <= base:  # completed late: the next one is still every_days from now, same hour
        due += dt.timedelta(days=row["plan_every_days"])
    lead = (row["due_at"] - row["remind_at"]) if row["remind_at"] else None
    return await _insert(FollowUpInput(
        customer_id=row["customer"], assignee_id=row["assignee"], kind=row["kind"],
        title=row["title"], priority=row["priority"], due_at=due,
        remind_at=due - lead if lead is not None else None, opportunity_id=row["opportunity"],
    ), actor.id, "plan", plan_id=row["plan"])


async def _cancel_reminder(follow_up_id: int) -> None:
    await outbox.cancel(ref(follow_up_id))


async def cancel_follow_up(scope: Scope, follow_up_id: int, actor: Actor) -> None:
    async with writing():
        row = await _open_row(scope, follow_up_id)
        stamp = now()
        done = await raw("UPDATE follow_up SET status = 'cancelled', done_at = {}, done_by = {}, "
                         "updated_at = {} WHERE id = {} AND status = 'open' RETURNING id",
                         stamp, actor.id, stamp, follow_up_id)
        if not done:
            raise Conflict("already done")
        await _cancel_reminder(follow_up_id)
        await refresh_next_follow_up([row["customer"]])
        await record("followup.cancel", actor_id=actor.id, actor=actor.label,
                     target_type="customer", target_id=row["customer"], ip=actor.ip,
                     detail={"follow_up": follow_up_id})


async def snooze(scope: Scope, follow_up_id: int, actor: Actor, until: dt.datetime) -> None:
    """Move the follow-up (and its reminder) to a later time; the reminder fires again."""
    if until <= now() or until > now() + FUTURE_LIMIT:
        raise ValidationFailed({"until": "a time in the future"})
    async with writing():
        row = await _open_row(scope, follow_up_id)
        due = max(row["due_at"], until)
        await raw("UPDATE follow_up SET due_at = {}, remind_at = {}, reminder_state = 'pending', "
                  "reminder_late = {}, updated_at = {} WHERE id = {} AND status = 'open'",
                  due, until, False, now(), follow_up_id)
        await _cancel_reminder(follow_up_id)
        await refresh_next_follow_up([row["customer"]])
        await record("followup.snooze", actor_id=actor.id, actor=actor.label,
                     target_type="customer", target_id=row["customer"], ip=actor.ip,
                     detail={"follow_up": follow_up_id})


async def update(scope: Scope, follow_up_id: int, values: FollowUpInput, actor: Actor) -> None:
    """Edit an open follow-up's assignee, kind, title, priority and times."""
    errors: dict[str, str] = {}
    check(values, errors)
    async with writing():
        row = await _open_row(scope, follow_up_id)
        await assignee_id(values.assignee_id, errors)  # an unknown one adds its error
        if errors:
            raise ValidationFailed(errors)
        times_changed = values.due_at != row["due_at"] or values.remind_at != row["remind_at"]
        state = ("pending" if values.remind_at else "none") if times_changed else row["reminder_state"]
        await raw("UPDATE follow_up SET assignee = {}, kind = {}, title = {}, priority = {}, "
                  "due_at = {}, remind_at = {}, reminder_state = {}, updated_at = {} WHERE id = {}",
                  values.assignee_id, values.kind, values.title, values.priority,
                  values.due_at, values.remind_at, state, now(), follow_up_id)
        if times_changed:
            await _cancel_reminder(follow_up_id)
        await refresh_next_follow_up([row["customer"]])
        await record("followup.update", actor_id=actor.id, actor=actor.label,
                     target_type="customer", target_id=row["customer"], ip=actor.ip,
                     detail={"follow_up": follow_up_id})


async def stop_plan(scope: Scope, follow_up_id: int, actor: Actor) -> None:
    async with writing():
        row = await get(scope, follow_up_id)
        if row["plan"]:
            await raw("UPDATE follow_up_plan SET active = {} WHERE id = {}", False, row["plan"])
            await record("followup.plan_stop", actor_id=actor.id, actor=actor.label,
                         target_type="customer", target_id=row["customer"], ip=actor.ip,
                         detail={"plan": row["plan"]})


async def reassign(scope: Scope, follow_up_ids: list[int], to: int, actor: Actor) -> int:
    """Hand open follow-ups to another active person (managers: within what they may see)."""
    errors: dict[str, str] = {}
    if not await assignee_id(to, errors):
        raise ValidationFailed(errors)
    ids = [i for i in follow_up_ids[:500] if isinstance(i, int)]
    if not ids:
        return 0
    clause, args = scope.clause("c")
    marks = ", ".join("{}" for _ in ids)
    async with writing():
        # One statement: only open ones, only on customers this scope may see.
        moved = len(await raw(
            f"UPDATE follow_up SET assignee = {{}}, updated_at = {{}} WHERE id IN ({marks}) "
            f"AND status = 'open' AND customer IN (SELECT c.id FROM customer c WHERE {clause}) RETURNING id",
            to, now(), *ids, *args,
        ))
        await record("followup.reassign", actor_id=actor.id, actor=actor.label,
                     target_type="staff_user", target_id=to, ip=actor.ip,
                     detail={"count": moved})
    return moved


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


# ---------------------------------------------------------------- the daily digest

DIGEST_TIMES = ("07:00", "07:30", "08:00", "08:30", "09:00", "09:30", "10:00", "12:00", "18:00")


async def digest_time(user_id: int) -> str:
    rows = await raw('SELECT digest_at FROM digest_setting WHERE "user" = {}', user_id)
    return rows[0]["digest_at"] if rows else ""


async def set_digest_time(user_id: int, at: str) -> None:
    """When this person's digest goes out (their zone), or "" for never."""
    if at not in ("", *DIGEST_TIMES):
        raise ValidationFailed({"digest_at": "one of the listed choices"})
    async with writing():
        updated = await raw('UPDATE digest_setting SET digest_at = {} WHERE "user" = {} RETURNING id', at, user_id)
        if not updated:
            await raw('INSERT INTO digest_setting ("user", digest_at, last_sent_on) VALUES ({}, {}, {})',
                      user_id, at, "")
