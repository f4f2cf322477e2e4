"""The JSON API's orders: create or replay one (idempotent on channel and external id)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.params import JSONBody

from db.orders import ingest
from web.api.base import ApiController, plain as _plain
from web.core.auth import actor_of


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


class OrdersApi(ApiController):
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
