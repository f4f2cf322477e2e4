"""The 360 card's member section: what it shows (web/templates/members/_card_section.html),
read for web/customers/card.py, which owns the card and its sections. Its actions are
web/members/card_section.py."""

from __future__ import annotations

import secrets


from db.customers import consent
from db.engine import reading
from db.members import catalogue, config, coupons, ledger, membership

RECENT_ENTRIES = 5


async def read(customer_id: int) -> dict:
    """What the member section shows, read on one connection: the member, where they stand,
    open coupons, the last few points entries and the coupon types staff may issue; for
    everyone, members or not, the current consent per channel (db/customers/consent.py)."""
    cfg = await config.load()
    async with reading():
        member = await membership.member_for_customer(customer_id)
        consents = (await consent.current([customer_id])).get(customer_id, {})
        if member is None:
            return {"customer_id": customer_id, "member": None, "consents": consents}
        summary = await membership.summary(member["id"])
        open_coupons = await coupons.for_member(member["id"], limit=20)
        entries, more = await ledger.history(member["id"], limit=RECENT_ENTRIES)
        types = await catalogue.list_coupon_types(active_only=True)
    return {
        "customer_id": customer_id, "member": member, "summary": summary, "coupons": open_coupons,
        "entries": entries, "more_history": more is not None, "coupon_types": types,
        "manager_above": cfg.manager_above, "new_key": secrets.token_urlsafe(16),
        "consents": consents,
    }
