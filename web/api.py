"""The JSON API under /api/v1, for shop platforms and other systems (Bearer API keys).

Request bodies are described with msgspec structs for the OpenAPI docs; types are kept
loose on purpose so that every field's problem is reported by the domain's validation as a
422 with a message per field, never as a half-written record.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from db.customers import service
from db.customers.service import customer_json, customers_json
from db.orders import ingest
from web.auth import actor_of, api_key_required, scope_of


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


def _plain(struct: msgspec.Struct) -> dict[str, Any]:
    """Only the fields the caller sent (unset optional fields keep the stored value)."""
    return {k: v for k, v in msgspec.to_builtins(struct).items() if v is not None}


class ApiController(Controller):
    path = "/api/v1"
    guards = [api_key_required]
    tags = ["v1"]

    @post("/customers", summary="Create or update a customer by mobile, else e-mail")
    async def upsert_customer(self, request: Request, data: JSONBody[CustomerIn]) -> Response:
        parsed = service.parse_customer(_plain(data))
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
        before: FromQuery[int | None] = None,
    ) -> dict:
        scope = scope_of(request)
        if mobile or email:
            ids = await service.find_by_identity(scope, mobile, email)
            return {"items": await customers_json(scope, ids), "next": None}
        rows, next_cursor = await service.search_customers(scope, q or "", None, before)
        return {
            "items": await customers_json(scope, [row["id"] for row in rows]),
            "next": next_cursor,
        }

    @post("/orders", summary="Create or replay an order; idempotent on (channel, external_id)")
    async def upsert_order(self, request: Request, data: JSONBody[OrderIn]) -> Response:
        parsed = ingest.parse_order(_plain(data))
        order_id, customer_id, created = await ingest.ingest_order(parsed, actor_of(request))
        return Response({"id": order_id, "customer_id": customer_id, "created": created},
                        status_code=201 if created else 200)
