"""The API's view of a customer (GET /api/v1/customers and its neighbours)."""

from __future__ import annotations

from db.customers import fields
from db.customers.scope import Scope
from db.customers.service import tags_for
from db.customers.tables import Customer
from db.engine import as_datetime, raw, reading
from db.errors import NotFound
from db.money import format_fen


def _iso(value) -> str | None:
    value = as_datetime(value)
    return value.isoformat() if value is not None else None


NOT_A_MEMBER = {"member_no": None, "tier": None, "points_balance": None}


async def _membership_of(customer_ids: list[int]) -> dict[int, dict]:
    marks = ", ".join("{}" for _ in customer_ids)
    rows = await raw(
        "SELECT m.customer, m.member_no, m.points_balance, t.name AS tier FROM member m "
        f"JOIN tier t ON t.id = m.tier WHERE m.customer IN ({marks})", *customer_ids)
    return {r["customer"]: {"member_no": r["member_no"], "tier": r["tier"],
                            "points_balance": r["points_balance"]} for r in rows}


async def customers_json(scope: Scope, customer_ids: list[int]) -> list[dict]:
    """The API's view of customers, in the order given, skipping any the scope hides."""
    if not customer_ids:
        return []
    async with reading():
        rows = await Customer.select().where(Customer.id.is_in(customer_ids))
        tags = await tags_for(customer_ids)
        custom = await fields.values_for(customer_ids)
        members = await _membership_of(customer_ids)
    by_id = {r["id"]: r for r in rows if scope.allows(r["owner"], r["team"])}
    return [
        {
            "id": row["id"],
            "name": row["name"],
            "mobile": row["mobile"],
            "email": row["email"],
            "gender": row["gender"],
            "birthday": row["birthday"].isoformat() if row["birthday"] else None,
            "province": row["province"],
            "city": row["city"],
            "address": row["address"],
            "first_channel": row["first_channel"],
            "owner_id": row["owner"],
            "team_id": row["team"],
            "lifecycle_stage": row["lifecycle_stage"],
            "rfm": {"r": row["rfm_r"], "f": row["rfm_f"], "m": row["rfm_m"]},
            "orders_count": row["orders_count"],
            "total_spent": format_fen(row["total_spent_fen"]),
            "first_order_at": _iso(row["first_order_at"]),
            "last_order_at": _iso(row["last_order_at"]),
            "tags": [t["name"] for t in tags.get(row["id"], [])],
            "custom_fields": custom.get(row["id"], {}),
            **members.get(row["id"], NOT_A_MEMBER),
            "created_at": _iso(row["created_at"]),
            "updated_at": _iso(row["updated_at"]),
        }
        for row in (by_id.get(i) for i in customer_ids)
        if row is not None
    ]


async def customer_json(scope: Scope, customer_id: int) -> dict:
    found = await customers_json(scope, [customer_id])
    if not found:
        raise NotFound()
    return found[0]
