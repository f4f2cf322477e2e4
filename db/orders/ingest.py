"""Order ingest: idempotent on (channel, external_id), money in integer fen.

The same payload sent twice, or twenty times at once, yields one order: the unique index
decides, and a loser of the race retries and finds the winner's row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from db.audit.log import record
from db.clock import SHOP_TZ, YEARS_MESSAGE, now, plausible_year
from db.customers import identity
from db.customers.lifecycle import refresh_customers
from db.actor import Actor
from db.customers.service import customer_by_identity
from db.customers.tables import Customer
from db.engine import is_unique_violation, writing
from db.money import CURRENCY, format_fen, parse_money
from db.errors import ValidationFailed
from db.members.earning import settle_orders
from db.orders.tables import CHANNELS, STATUSES, Order

MAX_ITEMS = 500


def parse_time(value: Any) -> dt.datetime:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("an ISO-8601 time like 2024-03-05T14:30:00+08:00")
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError("an ISO-8601 time like 2024-03-05T14:30:00+08:00") from exc
    if not plausible_year(parsed):
        raise ValueError(YEARS_MESSAGE)
    if parsed.tzinfo is None:  # shops' systems send local time without an offset
        parsed = parsed.replace(tzinfo=SHOP_TZ)
    return parsed.astimezone(dt.timezone.utc)


@dataclass
class OrderInput:
    """One order, checked: what the API (parse_order) and a spreadsheet import
    (db/imports/rows.parse_order) both build, and what ingest_order and the import's batch
    writer take. A file row has no currency column or items."""

    channel: str
    external_id: str
    mobile: str | None
    email: str | None
    name: str
    placed_at: dt.datetime
    status: str
    total_fen: int
    currency: str = CURRENCY
    items: list[dict] = field(default_factory=list)


def _parse_items(raw: Any, errors: dict) -> list[dict]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_ITEMS:
        errors["items"] = f"a list of at most {MAX_ITEMS} items"
        return []
    items = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            errors[f"items[{i}]"] = "an object with sku, name, qty and price"
            continue
        qty = item.get("qty", 1)
        if isinstance(qty, bool) or not isinstance(qty, int) or not 0 < qty <= 100_000:
            errors[f"items[{i}].qty"] = "a whole number from 1"
            continue
        try:
            price_fen = parse_money(item.get("price", "0"), strict=True)
        except ValueError as exc:
            errors[f"items[{i}].price"] = str(exc)
            continue
        sku, name = str(item.get("sku", ""))[:64], str(item.get("name", ""))[:200]
        items.append({"sku": sku, "name": name, "qty": qty, "price": format_fen(price_fen)})
    return items


def parse_order(data: dict[str, Any]) -> OrderInput:
    errors: dict[str, str] = {}
    channel = data.get("channel")
    if channel not in CHANNELS:
        errors["channel"] = f"one of {', '.join(CHANNELS)}"
    external_id = data.get("external_id")
    if not isinstance(external_id, str) or not external_id.strip() or len(external_id) > 64:
        errors["external_id"] = "1 to 64 characters"
    customer = data.get("customer")
    mobile = email = None
    name = ""
    if not isinstance(customer, dict):
        errors["customer"] = "an object with mobile, email and name"
    else:
        try:
            mobile = identity.normalise_mobile(customer.get("mobile"))
        except identity.InvalidIdentity as exc:
            errors["customer.mobile"] = str(exc)
        try:
            email = identity.normalise_email(customer.get("email"))
        except identity.InvalidIdentity as exc:
            errors["customer.email"] = str(exc)
        if not mobile and not email and not errors.keys() & {"customer.mobile", "customer.email"}:
            errors["customer.mobile"] = "a mobile number or an e-mail address is required"
        name = customer.get("name") or ""
        if not isinstance(name, str) or len(name) > 100:
            errors["customer.name"] = "text of up to 100 characters"
            name = ""
    try:
        placed_at = parse_time(data.get("placed_at"))
        if placed_at > now() + dt.timedelta(days=1):
            errors["placed_at"] = "is in the future"
    except ValueError as exc:
        errors["placed_at"] = str(exc)
        placed_at = now()
    status = data.get("status", "paid")
    if status not in STATUSES:
        errors["status"] = f"one of {', '.join(STATUSES)}"
    try:
        total_fen = parse_money(data.get("total"), strict=True)
    except ValueError as exc:
        errors["total"] = str(exc)
        total_fen = 0
    currency = data.get("currency", CURRENCY)
    if currency != CURRENCY:  # amounts are added up in yuan: another currency would be counted as yuan
        errors["currency"] = f"must be {CURRENCY}"
    items = _parse_items(data.get("items"), errors)
    if errors:
        raise ValidationFailed(errors)
    return OrderInput(
        channel=channel, external_id=external_id.strip(), mobile=mobile, email=email,
        name=name.strip(), placed_at=placed_at, status=status, total_fen=total_fen,
        currency=currency, items=items,
    )


async def _resolve_customer(order: OrderInput) -> int:
    row = await customer_by_identity(order.mobile, order.email)
    if row:
        return row["id"]
    stamp = now()
    name = order.name or identity.mask_mobile(order.mobile) or (order.email or "").split("@")[0]
    created = await Customer.insert(
        Customer(
            name=name, mobile=order.mobile, email=order.email, first_channel=order.channel,
            search_text=identity.search_text(name, order.mobile, order.email),
            created_at=stamp, updated_at=stamp,
        )
    ).returning(Customer.id)
    return created[0]["id"]


async def _ingest_once(order: OrderInput, actor: Actor) -> tuple[int, int, bool]:
    async with writing():
        existing = await Order.select(Order.id, Order.customer, Order.status).where(
            (Order.channel == order.channel) & (Order.external_id == order.external_id)
        ).first()
        stamp = now()
        if existing:
            if existing["status"] != order.status:
                await Order.update({Order.status: order.status, Order.updated_at: stamp}).where(
                    Order.id == existing["id"]
                )
                await record("order.status", actor=actor.label, target_type="order",
                             target_id=existing["id"], ip=actor.ip,
                             detail={"from": existing["status"], "to": order.status})
                await refresh_customers([existing["customer"]])
                await settle_orders([existing["id"]], actor)
            return existing["id"], existing["customer"], False
        customer_id = await _resolve_customer(order)
        rows = await Order.insert(
            Order(
                channel=order.channel, external_id=order.external_id, customer=customer_id,
                placed_at=order.placed_at, status=order.status, total_fen=order.total_fen,
                currency=order.currency, items=order.items, created_at=stamp, updated_at=stamp,
            )
        ).returning(Order.id)
        await refresh_customers([customer_id])
        await settle_orders([rows[0]["id"]], actor)
        return rows[0]["id"], customer_id, True


async def ingest_order(order: OrderInput, actor: Actor) -> tuple[int, int, bool]:
    """Insert or replay an order. Returns (order id, customer id, created)."""
    for attempt in range(3):
        try:
            return await _ingest_once(order, actor)
        except Exception as exc:
            if not is_unique_violation(exc) or attempt == 2:
                raise
    raise AssertionError("unreachable")
