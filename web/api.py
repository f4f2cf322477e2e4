"""The JSON API under /api/v1, for shop platforms and other systems (Bearer API keys).

Request bodies are described with msgspec structs for the OpenAPI docs; types are kept
loose on purpose so that every field's problem is reported by the domain's validation as a
422 with a message per field, never as a half-written record.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

from db.customers import profile
from db.customers import search, service
from db.customers.api import customer_json, customers_json
from db.followups import service as followups
from db.orders import ingest
from db.errors import ValidationFailed
from db.members import ledger, membership
from db.members.tables import CONSENT_CHANNELS
from web.auth import actor_of, api_key_required, scope_of
from db.settings import get_settings
from web.params import parse_id


class CustomerIn(msgspec.Struct, kw_only=True):
    name: str | None = None
    mobile: str | None = None
    email: str | None = None
    gender: str | None = None
    birthday: str | None = msgspec.field(default=None)
    province: str | None = None
    city: str | None = None
    tags: list[str] | None = None


class OrderCustomerIn(msgspec.Struct, kw_only=True):
    mobile: str | None = None
    email: str | None = None
    name: str | None = None


class OrderItemIn(msgspec.Struct, kw_only=True):
    sku: str | None = None
    name: str | None = None
    qty: Any = 1
    price: Any = "0"


class OrderIn(msgspec.Struct, kw_only=True):
    channel: str | None = None
    external_id: str | None = None
    customer: OrderCustomerIn | None = None
    placed_at: str | None = None
    status: str | None = "paid"
    total: Any = None
    currency: str | None = "CNY"
    items: list[OrderItemIn] | None = None


class PointsIn(msgspec.Struct, kw_only=True):
    """Other fields (points_balance, tier, …) are ignored: only the ledger moves points."""

    delta: Any = None
    reason: Any = None
    idempotency_key: Any = None


class MembershipIn(msgspec.Struct, kw_only=True):
    consents: dict[str, bool] | None = None


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


def _plain(struct: msgspec.Struct) -> dict[str, Any]:
    """Only the fields the caller sent (unset optional fields keep the stored value)."""
    return {k: v for k, v in msgspec.to_builtins(struct).items() if v is not None}


class ApiController(Controller):
    path = "/api/v1"
    guards = [api_key_required]
    tags = ["v1"]

    @post("/customers", summary="Create or update a customer by mobile, else e-mail")
    async def upsert_customer(self, request: Request, data: JSONBody[CustomerIn]) -> Response:
        parsed = profile.parse_customer(_plain(data))
        customer_id, created = await service.upsert_customer(parsed, actor_of(request))
        body = await customer_json(scope_of(request), customer_id)
        return Response(body, status_code=201 if created else 200)

    @get("/customers/{customer_id:int}", summary="One customer")
    async def get_customer(self, request: Request, customer_id: FromPath[int]) -> dict:
        return await customer_json(scope_of(request), customer_id)

    @get("/customers", summary="Find customers by mobile, e-mail or text")
    async def find_customers(
        self,
        request: Request,
        mobile: FromQuery[str | None] = None,
        email: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        before: FromQuery[str | None] = None,
    ) -> dict:
        """`before` is the `next` of the previous page; one that is not ours reads the first page."""
        scope = scope_of(request)
        if mobile or email:
            ids = await service.find_by_identity(scope, mobile, email)
            return {"items": await customers_json(scope, ids), "next": None}
        rows, next_cursor = await search.search_customers(scope, q or "", None, parse_id(before))
        return {
            "items": await customers_json(scope, [row["id"] for row in rows]),
            "next": next_cursor,
        }

    @post("/orders", summary="Create or replay an order; idempotent on (channel, external_id)")
    async def upsert_order(self, request: Request, data: JSONBody[OrderIn]) -> Response:
        """`total` and each item's `price` are strings of ASCII digits with at most two
        decimals (`"1299.50"`; no `1e3`, `1,299.50` or full-width digits); `currency` must be
        `CNY` (the default), the currency customers' totals are kept in; `placed_at` is ISO
        8601 within 2000–2100."""
        parsed = ingest.parse_order(_plain(data))
        order_id, customer_id, created = await ingest.ingest_order(parsed, actor_of(request))
        return Response({"id": order_id, "customer_id": customer_id, "created": created},
                        status_code=201 if created else 200)

    # ------------------------------------------------------------ members and points

    @post("/customers/{customer_id:int}/membership", summary="Make a customer a member")
    async def join_membership(self, request: Request, customer_id: FromPath[int],
                              data: JSONBody[MembershipIn]) -> Response:
        """Returns the customer with `member_no`, `tier` and `points_balance`: 201 when the
        customer joined now, 200 when they were a member already. `consents` records consent
        to marketing per channel (push, sms, email) with source "api"."""
        scope = scope_of(request)
        await service.get_customer(scope, customer_id)  # 404 outside the caller's scope
        consents = data.consents or {}
        bad = sorted(set(consents) - set(CONSENT_CHANNELS))
        if bad:
            raise ValidationFailed({f"consents.{bad[0]}": f"one of {', '.join(CONSENT_CHANNELS)}"})
        joined = await membership.join(customer_id, "api", actor_of(request), consents)
        return Response(await customer_json(scope, customer_id), status_code=201 if joined.created else 200)

    @post("/customers/{customer_id:int}/points", summary="Add or take points (idempotent)")
    async def post_points(self, request: Request, customer_id: FromPath[int],
                          data: JSONBody[PointsIn]) -> Response:
        """`delta` is a non-zero whole number (negative takes points), `reason` is required and
        `idempotency_key` makes a retry safe: the same key again returns 200 with the first
        entry. Taking more than the balance is a 409 and writes nothing."""
        _, result = await ledger.adjust_customer(scope_of(request), customer_id, data.delta,
                                                 data.reason, data.idempotency_key,
                                                 actor_of(request), role="api")
        return Response({"entry": ledger.entry_json(result.entry), "balance": result.balance},
                        status_code=200 if result.replayed else 201)

    @get("/customers/{customer_id:int}/points", summary="Points history, newest first")
    async def list_points(self, request: Request, customer_id: FromPath[int],
                          cursor: FromQuery[int | None] = None) -> dict:
        member = await _member_of(request, customer_id)
        rows, next_cursor = await ledger.history(member["id"], cursor, limit=50)
        return {"items": [ledger.entry_json(r) for r in rows], "next": next_cursor,
                "balance": member["points_balance"]}

    # ------------------------------------------------------------ follow-ups

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
        wake_reminders()
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
        wake_reminders()
        return followups.as_json(await followups.get(scope, follow_up_id))


async def _member_of(request: Request, customer_id: int) -> dict:
    await service.get_customer(scope_of(request), customer_id)  # 404 outside the caller's scope
    member = await membership.member_for_customer(customer_id)
    if member is None:
        raise ledger.NotAMember()
    return member


def wake_reminders() -> None:
    """A reminder already due goes out now, not at the next poll (this process's loop)."""
    from db.followups.reminders import wake

    wake()


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
