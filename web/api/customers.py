"""The JSON API's customers: create or update by mobile or e-mail, read one, find."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from db.customers import consent, profile, search, service
from db.customers.api import customer_json, customers_json
from web.api.base import ApiController, plain as _plain
from web.core.auth import actor_of, scope_of
from web.core.params import parse_id


class CustomerIn(msgspec.Struct, kw_only=True):
    name: str | None = None
    mobile: str | None = None
    email: str | None = None
    gender: str | None = None
    birthday: str | None = msgspec.field(default=None)
    province: str | None = None
    city: str | None = None
    tags: list[str] | None = None


class CustomersApi(ApiController):
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


class ConsentIn(msgspec.Struct, kw_only=True):
    """Loose types on purpose: each field's problem is a 422 with its own message."""

    channel: Any = None
    granted: Any = None
    source: Any = None


class ConsentsApi(ApiController):
    @post("/customers/{customer_id:int}/consents", summary="Record a customer's consent to marketing")
    async def record_consent(self, request: Request, customer_id: FromPath[int],
                             data: JSONBody[ConsentIn]) -> Response:
        """`{"channel": "push"|"sms"|"email", "granted": true|false, "source": "…"}`: `source`
        says where the customer answered (1–60 characters, e.g. "app signup"). Any customer,
        member or not. → 201 with the recorded consent
        (`{"id", "customer_id", "channel", "granted", "source", "recorded_via": "api", "at"}`);
        the latest answer per channel is the customer's current one. Audited."""
        await service.get_customer(scope_of(request), customer_id)  # 404 outside the caller's scope
        channel, granted, source = consent.parse_api(msgspec.to_builtins(data))
        got = await consent.record_by(actor_of(request), customer_id, channel, granted, "api",
                                      detail=source)
        return Response(consent.consent_json(got), status_code=201)
