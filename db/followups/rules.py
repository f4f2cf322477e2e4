"""Follow-ups: the rules every follow-up obeys, and the one rule for the next one a completion
plans (web sheet and API alike). Pure functions: no reads, no writes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from db.clock import SHOP_TZ, YEARS_MESSAGE, now, plausible_year
from db.followups.tables import KINDS, PRIORITIES
from db.i18n import translations

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

