"""The JSON API's members and points: enrol a customer, add or take points, the points history."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from db.customers import service
from db.customers.api import customer_json
from db.errors import ValidationFailed
from db.members import ledger, membership
from db.customers.tables import CONSENT_CHANNELS
from web.api.base import ApiController
from web.core.auth import actor_of, scope_of


class PointsIn(msgspec.Struct, kw_only=True):
    """Other fields (points_balance, tier, …) are ignored: only the ledger moves points."""

    delta: Any = None
    reason: Any = None
    idempotency_key: Any = None


class MembershipIn(msgspec.Struct, kw_only=True):
    consents: dict[str, bool] | None = None


class MembersApi(ApiController):

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


async def _member_of(request: Request, customer_id: int) -> dict:
    await service.get_customer(scope_of(request), customer_id)  # 404 outside the caller's scope
    member = await membership.member_for_customer(customer_id)
    if member is None:
        raise ledger.NotAMember()
    return member
