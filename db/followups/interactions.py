"""Logging a call, visit, message or note on a customer, and the follow-up it plans."""

from __future__ import annotations

import datetime as dt

from db.actor import Actor
from db.audit.log import record
from db.clock import SHOP_TZ, now
from db.customers import fields
from db.customers.scope import Scope
from db.customers.service import get_customer
from db.customers.tables import INTERACTION_KINDS, INTERACTION_OUTCOMES, Interaction
from db.engine import writing
from db.errors import ValidationFailed
from db.followups import service as followups
from db.followups import rules as followup_rules
from db.followups import tables as followup_tables

FOLLOW_UP_CHIPS = (1, 3, 7)  # tomorrow, in 3 days, next week
FOLLOW_UP_MAX_DAYS = 730


def parse_follow_up(date_text: str, in_days: str, today: dt.date, errors: dict) -> dt.date | None:
    """The next follow-up date from a date (2024-03-05, 2024/3/5) or a quick chip (days from
    today); the date wins when both are sent. None when neither is."""
    date_text = (date_text or "").strip()[:20]
    in_days = (in_days or "").strip()[:4]
    if date_text:
        try:
            when = fields.parse_date(date_text)
        except ValueError as exc:
            errors["next_follow_up_on"] = str(exc)
            return None
    elif in_days:
        if not in_days.isdecimal() or int(in_days) not in FOLLOW_UP_CHIPS:
            errors["next_follow_up_on"] = "one of 1, 3, 7"
            return None
        when = today + dt.timedelta(days=int(in_days))
    else:
        return None
    if when < today:
        errors["next_follow_up_on"] = "today or later"
    elif when > today + dt.timedelta(days=FOLLOW_UP_MAX_DAYS):
        errors["next_follow_up_on"] = "within the next two years"
    return when


async def add_interaction(
    scope: Scope,
    customer_id: int,
    kind: str,
    body: str,
    actor: Actor,
    outcome: str = "",
    next_follow_up: str = "",
    follow_up_in: str = "",
    today: dt.date | None = None,
    follow_up_title: str = "Follow up",
    zone=None,
) -> int:
    """Log a call, visit, message or note with its outcome and, optionally, the next
    follow-up date: that becomes a follow-up for the person logging, due at 10:00 that day
    (their zone) with a reminder then. Scope first: out of scope is NotFound."""
    errors: dict[str, str] = {}
    if kind not in INTERACTION_KINDS:
        errors["kind"] = f"one of {', '.join(INTERACTION_KINDS)}"
    body = (body or "").strip() if isinstance(body, str) else ""
    if not body:
        errors["body"] = "required"
    elif len(body) > 2000:
        errors["body"] = "at most 2000 characters"
    outcome = (outcome or "").strip()
    if outcome not in INTERACTION_OUTCOMES:
        errors["outcome"] = f"one of {', '.join(o for o in INTERACTION_OUTCOMES if o)}"
    follow_up = parse_follow_up(next_follow_up, follow_up_in, today or dt.date.today(), errors)
    async with writing():
        await get_customer(scope, customer_id)  # an unknown customer is 404, not a form error
        if errors:
            raise ValidationFailed(errors)
        stamp = now()
        rows = await Interaction.insert(
            Interaction(customer=customer_id, staff=actor.id, kind=kind, body=body,
                        outcome=outcome, next_follow_up_on=follow_up,
                        happened_at=stamp, created_at=stamp)
        ).returning(Interaction.id)
        if follow_up is not None and actor.id is not None:
            await _plan_follow_up(customer_id, kind, follow_up, actor, follow_up_title, zone, body)
        detail = {"kind": kind, "fields": ["next_follow_up_on"]} if follow_up else {"kind": kind}
        await record("interaction.create", actor_id=actor.id, actor=actor.label,
                     target_type="customer", target_id=customer_id, ip=actor.ip, detail=detail)
    return rows[0]["id"]


FOLLOW_UP_AT = dt.time(10, 0)


async def _plan_follow_up(customer_id: int, kind: str, day: dt.date, actor: Actor, title: str,
                          zone, body: str = "") -> None:
    """The follow-up a logged interaction asks for, titled with the log's first words (the
    generic title only if there are none) and carrying the whole log as its note."""
    due = dt.datetime.combine(day, FOLLOW_UP_AT, tzinfo=zone or SHOP_TZ).astimezone(dt.timezone.utc)
    values = followup_rules.FollowUpInput(
        customer_id=customer_id, assignee_id=actor.id, kind=kind if kind in followup_tables.KINDS else "call",
        title=followup_rules.first_words(body) or title, priority="normal", due_at=due, remind_at=due,
        note=body,
    )
    errors: dict[str, str] = {}
    followup_rules.check(values, errors, at=min(due, now()))
    if errors:
        raise ValidationFailed({"next_follow_up_on": next(iter(errors.values()))})
    await followups.create(Scope.everything(), values, actor, source="log")
