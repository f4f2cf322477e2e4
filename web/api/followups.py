"""The JSON API's follow-ups: create one, read one, complete, cancel or change it."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, patch, post
from litestar.params import FromPath, JSONBody

from db.errors import ValidationFailed
from db.followups import api as followup_api
from db.followups import reminders
from db.followups import service as followups
from db.followups import rules as followup_rules
from db.followups import lists as followup_lists
from web.api.base import ApiController
from web.core.auth import actor_of, scope_of


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
        values, errors = followup_api.values_from_json(msgspec.to_builtins(data))
        if errors:
            followup_rules.check(values, errors)
            raise ValidationFailed(errors)
        follow_up_id = await followups.create(scope_of(request), values, actor_of(request),
                                              source="api", assignee_ref=data.assignee or "")
        reminders.wake()  # a reminder already due goes out now, not at the next poll
        row = await followup_lists.get(scope_of(request), follow_up_id)
        return Response(followup_lists.as_json(row), status_code=201)

    @get("/followups/{follow_up_id:int}", summary="One follow-up")
    async def get_follow_up(self, request: Request, follow_up_id: FromPath[int]) -> dict:
        return followup_lists.as_json(await followup_lists.get(scope_of(request), follow_up_id))

    @patch("/followups/{follow_up_id:int}", summary="Complete, cancel or change a follow-up")
    async def patch_follow_up(self, request: Request, follow_up_id: FromPath[int],
                              data: JSONBody[FollowUpPatch]) -> dict:
        """`{"status": "done", "outcome": "…"}` completes it (409 if it was already done or
        cancelled), optionally with `next_follow_up` `{"due_at", "remind_at", "title", "kind"}`
        (what it leaves out follows the web sheet's rule: the reminder keeps the completed one's
        lead, the kind is the completed one's, the title is the outcome's first words);
        `{"status": "cancelled"}` cancels it; other fields change an open follow-up."""
        scope = scope_of(request)
        await followup_api.apply_patch(scope, follow_up_id, msgspec.to_builtins(data), actor_of(request))
        reminders.wake()  # a reminder already due goes out now, not at the next poll
        return followup_lists.as_json(await followup_lists.get(scope, follow_up_id))

