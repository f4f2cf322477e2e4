"""The API's follow-ups (POST and PATCH /api/v1/followups): its JSON read into the domain's
input, and the rule of a PATCH (complete, cancel or change).

Times are ISO 8601; one without an offset is read in the shop's time zone. Type errors are
reported per field (ValidationFailed), as the web forms' are.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from db.actor import Actor
from db.customers.scope import Scope
from db.errors import ValidationFailed
from db.followups import service
from db.followups import rules as followup_rules
from db.followups import lists as followup_lists
from db.followups.rules import FollowUpInput, NextFollowUp
from db.settings import get_settings

STATUSES = ("done", "cancelled")  # what a PATCH's `status` may say


def _shop_zone() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def values_from_json(data: dict, prefix: str = "") -> tuple[FollowUpInput, dict]:
    """The API's JSON -> the domain's input, and the errors of fields of the wrong type."""
    errors: dict[str, str] = {}
    tz = _shop_zone()

    def whole(key):
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            errors[prefix + key] = "an integer id"
            return None
        return value

    every = data.get("repeat_every_days")
    values = FollowUpInput(
        customer_id=whole("customer_id"),
        assignee_id=None,
        kind=data.get("kind") if isinstance(data.get("kind"), str) else "",
        title=data.get("title") if isinstance(data.get("title"), str) else "",
        priority=data.get("priority") if isinstance(data.get("priority"), str) else "",
        due_at=followup_rules.parse_when(data.get("due_at"), tz, prefix + "due_at", errors),
        remind_at=followup_rules.parse_when(data.get("remind_at"), tz, prefix + "remind_at", errors),
        opportunity_id=whole("opportunity_id"),
        every_days=every if isinstance(every, int) and not isinstance(every, bool) else (None if every is None else -1),
    )
    return values, errors


def next_from_json(data: dict) -> NextFollowUp:
    """`next_follow_up` of a completion; what it leaves out follows the domain's rule
    (followup_rules.plan_next): the completed one's kind, reminder lead and so on."""
    errors: dict[str, str] = {}
    tz = _shop_zone()
    prefix = "next_follow_up."
    nxt = NextFollowUp(
        due_at=followup_rules.parse_when(data.get("due_at"), tz, prefix + "due_at", errors),
        remind_at=followup_rules.parse_when(data.get("remind_at"), tz, prefix + "remind_at", errors),
        title=data.get("title") if isinstance(data.get("title"), str) else "",
        kind=data.get("kind") if isinstance(data.get("kind"), str) else "",
    )
    if errors:
        raise ValidationFailed(errors)
    return nxt


async def apply_patch(scope: Scope, follow_up_id: int, patch: dict, actor: Actor) -> None:
    """A PATCH's fields that were sent (None = not sent): `status` "done" completes the
    follow-up with `outcome` and perhaps `next_follow_up`, "cancelled" cancels it (Conflict,
    a 409, when it was already done or cancelled); without a status the other fields change
    an open follow-up, merged over what it has. NotFound when the caller may not see it."""
    row = await followup_lists.get(scope, follow_up_id)
    sent = {k: v for k, v in patch.items() if v is not None}
    status = sent.pop("status", None)
    if status is not None and status not in STATUSES:
        raise ValidationFailed({"status": "one of done, cancelled"})
    if status == "done":
        next_values = next_from_json(sent["next_follow_up"]) if "next_follow_up" in sent else None
        await service.complete(scope, follow_up_id, actor, sent.get("outcome") or "", next_values)
    elif status == "cancelled":
        await service.cancel_follow_up(scope, follow_up_id, actor)
    elif sent:
        merged = {"customer_id": row["customer"], "kind": row["kind"], "title": row["title"],
                  "priority": row["priority"], "due_at": row["due_at"], "remind_at": row["remind_at"],
                  **{k: v for k, v in sent.items() if k != "outcome"}}
        values, errors = values_from_json(merged)
        values.assignee_id = row["assignee"]
        if "assignee" in sent:
            values.assignee_id = await service.assignee_id(sent["assignee"], errors)
        if errors:
            raise ValidationFailed(errors)
        await service.update(scope, follow_up_id, values, actor)
