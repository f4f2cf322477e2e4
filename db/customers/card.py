"""What the 360 card and its sheets show, each read on one connection in a fixed few queries."""

from __future__ import annotations

from db.customers import fields, identity, timeline
from db.customers.scope import Scope
from db.customers.service import assignable, get_customer, tags_for
from db.customers.tags import manual_tags
from db.engine import as_datetime, raw, reading

# The log form starts on the kind this person logged last; before their first, on a visit:
# field staff log visits on their phones, and a call placed from the card is one tap anyway.
FIRST_KIND = "visit"


async def _card_people(customer: dict, staff_id: int | None) -> dict:
    """Owner and team names, and the kind this staff member logged last (the log form's default)."""
    rows = await raw(
        "SELECT (SELECT display_name FROM staff_user WHERE id = {}) AS owner_name, "
        "(SELECT name FROM team WHERE id = {}) AS team_name, "
        "(SELECT kind FROM interaction WHERE staff = {} ORDER BY happened_at DESC LIMIT 1) AS last_kind",
        customer["owner"], customer["team"], staff_id,
    )
    return rows[0]


def _figures(customer: dict) -> dict:
    """Key figures from the stored columns (db/customers/lifecycle.py keeps them current)."""
    count, spent = customer["orders_count"] or 0, customer["total_spent_fen"] or 0
    rfm = (customer["rfm_r"], customer["rfm_f"], customer["rfm_m"])
    return {
        "orders": count,
        "spent_fen": spent,
        "average_fen": spent // count if count else None,
        "first_order_at": as_datetime(customer["first_order_at"]),
        "last_order_at": as_datetime(customer["last_order_at"]),
        "rfm": rfm if all(rfm) else None,
        # Slots for capabilities still to come: None renders nothing on the card.
        "points_balance": None,
        "predicted_value_fen": None,
        "tier": None,
    }


async def customer_activity(scope: Scope, customer_id: int) -> dict:
    """What the card refreshes after an interaction is logged: the customer (its next
    follow-up) and the first page of the timeline, without the rest of the card."""
    async with reading():
        customer = await get_customer(scope, customer_id)
        entries, more = await timeline.first_page(customer_id)
    return {"customer": customer, "timeline": entries, "timeline_next": more}


async def customer_tags(scope: Scope, customer_id: int, with_choices: bool = False) -> dict:
    """The customer and their tags (rule tags marked), and the manual tags to choose from."""
    async with reading():
        customer = await get_customer(scope, customer_id)
        tags = (await tags_for([customer_id])).get(customer_id, [])
        choices = await manual_tags() if with_choices else []
    return {"customer": customer, "tags": tags, "tag_choices": choices}


async def _custom_fields_of(customer_id: int) -> list[dict]:
    """Every defined custom field with this customer's value ("" when none)."""
    defined = await fields.list_fields()
    values = (await fields.values_for([customer_id])).get(customer_id, {}) if defined else {}
    return [{**f, "value": values.get(f["key"], "")} for f in defined]


async def customer_edit(scope: Scope, customer_id: int) -> dict:
    """What the edit form needs: the customer, custom fields and their values, and who the
    customer may be assigned to (empty for staff)."""
    async with reading():
        customer = await get_customer(scope, customer_id)
        custom = await _custom_fields_of(customer_id)
        choices = await assignable(scope)
    return {"customer": customer, "custom_fields": custom, **choices}


async def customer_page(scope: Scope, customer_id: int, staff_id: int | None = None) -> dict:
    """Everything the 360 card shows, read on one connection in a fixed few queries: the
    customer row (with its stored figures), tags, owner and team, custom fields and the
    first page of the timeline."""
    async with reading():
        customer = await get_customer(scope, customer_id)
        tags = (await tags_for([customer_id])).get(customer_id, [])
        people = await _card_people(customer, staff_id)
        custom = await _custom_fields_of(customer_id)
        entries, more = await timeline.first_page(customer_id)
    return {
        "customer": customer,
        "mobile_display": identity.display_mobile(customer["mobile"]),
        "mobile_masked": identity.mask_mobile(customer["mobile"]),
        "tags": tags,
        "figures": _figures(customer),
        "custom_fields": custom,
        "timeline": entries,
        "timeline_next": more,
        "owner_name": people["owner_name"],
        "team_name": people["team_name"],
        "last_kind": people["last_kind"] or FIRST_KIND,
    }
