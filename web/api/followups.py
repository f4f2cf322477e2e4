"""The JSON API's follow-ups: create one, read one, complete, cancel or change it."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Request, Response, get, patch, post
from litestar.params import FromPath, JSONBody

from db.errors import ValidationFailed
from db.followups import service as followups
from db.settings import get_settings
from web.api.base import ApiController
from web.core.auth import actor_of, scope_of
from db.followups import reminders


class FollowUpIn(msgspec.Struct, kw_only=True):
    customer_id: Any = None
    assignee: Any = None
    kind: Any = None
    title: Any = None
    due_at: Any = msgspec.field(default=None)
    remind_at: Any = None
    priority: Any = "normal"
    opportunity_id: Any = None
    repeat_every_days: Any = None


class FollowUpNextIn(msgspec.Struct, kw_only=True):
    due_at: Any = None
    remind_at: Any = None
    title: Any = None
    kind: Any = None


class FollowUpPatch(msgspec.Struct, kw_only=True):
    status: Any = None
    outcome: Any = None
    next_follow_up: FollowUpNextIn | None = None
    assignee: Any = None
    kind: Any = None
    title: Any = None
    due_at: Any = None
    remind_at: Any = None
    priority: Any = None


class FollowUpsApi(ApiController):

    @post("/followups", summary="Create a follow-up for a customer, assigned to a staff member")
    async def create_follow_up(self, request: Request, data: JSONBody[FollowUpIn]) -> Response:
        """Times are ISO 8601; one without an offset is read in the shop's time zone.
        `remind_at` must not be after `due_at`; a reminder already due is sent at once."""
        values, errors = _follow_up_values(msgspec.to_builtins(data))
        if errors:
            followups.check(values, errors)
            raise ValidationFailed(errors)
        follow_up_id = await followups.create(scope_of(request), values, actor_of(request),
                                              source="api", assignee_ref=data.assignee or "")
        reminders.wake()  # a reminder already due goes out now, not at the next poll
        row = await followups.get(scope_of(request), follow_up_id)
        return Response(followups.as_json(row), status_code=201)

    @get("/followups/{follow_up_id:int}", summary="One follow-up")
    async def get_follow_up(self, request: Request, follow_up_id: FromPath[int]) -> dict:
        return followups.as_json(await followups.get(scope_of(request), follow_up_id))

    @patch("/followups/{follow_up_id:int}", summary="Complete, cancel or change a follow-up")
    async def patch_follow_up(self, request: Request, follow_up_id: FromPath[int],
                              data: JSONBody[FollowUpPatch]) -> dict:
        """`{"status": "done", "outcome": "…"}` completes it (409 if it was already done or
        cancelled), optionally with `next_follow_up` `{"due_at", "remind_at", "title", "kind"}`
        (what it leaves out follows the web sheet's rule: the reminder keeps the completed one's
        lead, the kind is the completed one's, the title is the outcome's first words);
        `{"status": "cancelled"}` cancels it; other fields change an open follow-up."""
        scope, actor = scope_of(request), actor_of(request)
        row = await followups.get(scope, follow_up_id)
        sent = {k: v for k, v in msgspec.to_builtins(data).items() if v is not None}
        status = sent.pop("status", None)
        if status not in (None, "done", "cancelled"):
            raise ValidationFailed({"status": "one of done, cancelled"})
        if status == "done":
            next_values = None
            if "next_follow_up" in sent:
                next_values = _next_follow_up(sent["next_follow_up"])
            await followups.complete(scope, follow_up_id, actor, sent.get("outcome") or "", next_values)
        elif status == "cancelled":
            await followups.cancel_follow_up(scope, follow_up_id, actor)
        elif sent:
            merged = {"customer_id": row["customer"], "kind": row["kind"], "title": row["title"],
                      "priority": row["priority"], "due_at": row["due_at"], "remind_at": row["remind_at"],
                      **{k: v for k, v in sent.items() if k != "outcome"}}
            values, errors = _follow_up_values(merged)
            values.assignee_id = row["assignee"]
            if "assignee" in sent:
                values.assignee_id = await followups.assignee_id(sent["assignee"], errors)
            if errors:
                raise ValidationFailed(errors)
            await followups.update(scope, follow_up_id, values, actor)
        reminders.wake()  # a reminder already due goes out now, not at the next poll
        return followups.as_json(await followups.get(scope, follow_up_id))


def _next_follow_up(data: dict) -> followups.NextFollowUp:
    """`next_follow_up` of a completion; what it leaves out follows the domain's rule
    (followups.plan_next): the completed one's kind, reminder lead and so on."""
    errors: dict[str, str] = {}
    tz = ZoneInfo(get_settings().timezone)
    prefix = "next_follow_up."
    nxt = followups.NextFollowUp(
        due_at=followups.parse_when(data.get("due_at"), tz, prefix + "due_at", errors),
        remind_at=followups.parse_when(data.get("remind_at"), tz, prefix + "remind_at", errors),
        title=data.get("title") if isinstance(data.get("title"), str) else "",
        kind=data.get("kind") if isinstance(data.get("kind"), str) else "",
    )
    if errors:
        raise ValidationFailed(errors)
    return nxt


def _follow_up_values(data: dict, prefix: str = "") -> tuple[followups.FollowUpInput, dict]:
    """The API's JSON -> the domain's input; type errors are reported per field."""
    errors: dict[str, str] = {}
    tz = ZoneInfo(get_settings().timezone)

    def whole(key):
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            errors[prefix + key] = "an integer id"
            return None
        return value

    every = data.get("repeat_every_days")
    values = followups.FollowUpInput(
        customer_id=whole("customer_id"),
        assignee_id=None,
        kind=data.get("kind") if isinstance(data.get("kind"), str) else "",
        title=data.get("title") if isinstance(data.get("title"), str) else "",
        priority=data.get("priority") if isinstance(data.get("priority"), str) else "",
        due_at=followups.parse_when(data.get("due_at"), tz, prefix + "due_at", errors),
        remind_at=followups.parse_when(data.get("remind_at"), tz, prefix + "remind_at", errors),
        opportunity_id=whole("opportunity_id"),
        every_days=every if isinstance(every, int) and not isinstance(every, bool) else (None if every is None else -1),
    )
    return values, errors
