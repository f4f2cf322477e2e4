"""When two customers who are both members are merged, their memberships become one.

Called by db/customers/merge.py inside the merge's transaction, before the customer rows
move: the merged member's history (entries, lots, redemptions, coupons, consents, tier
changes) moves to the survivor's member, the balances add up (so the balance still equals
the sum of entries), and the survivor keeps the higher tier. When only the merged customer
is a member, its member row simply moves with the customer (CUSTOMER_REFERENCES).
"""

from __future__ import annotations

from db.clock import now
from db.engine import is_sqlite, raw
from db.members.membership import record_tier_change, member_for_customer, tiers

MEMBER_TABLES = ("points_entry", "points_lot", "redemption", "coupon", "member_consent", "tier_change",
                 "push_subscription", "member_session")


async def fold_member(survivor_customer: int, merged_customer: int, actor_label: str) -> dict[str, int]:
    if not is_sqlite():
        # Lock both member rows (in id order, as expiry does) before reading their balances:
        # a points operation on the merged member meanwhile would otherwise move an entry
        # whose points the survivor never gets. SQLite's single writer already excludes it.
        await raw("SELECT id FROM member WHERE customer IN ({}, {}) ORDER BY id FOR UPDATE",
                  survivor_customer, merged_customer)
    survivor = await member_for_customer(survivor_customer)
    merged = await member_for_customer(merged_customer)
    if survivor is None or merged is None:
        return {}
    moved = {}
    for table in MEMBER_TABLES:
        rows = await raw(f"UPDATE {table} SET member = {{}} WHERE member = {{}} RETURNING id",
                         survivor["id"], merged["id"])
        moved[table] = len(rows)
    stamp = now()
    await raw("UPDATE member SET points_balance = points_balance + {}, shortfall = shortfall + {}, "
              "updated_at = {} WHERE id = {}",
              merged["points_balance"], merged["shortfall"], stamp, survivor["id"])
    await raw("DELETE FROM member WHERE id = {}", merged["id"])
    position = {t["id"]: t["position"] for t in await tiers()}
    if position[merged["tier"]] > position[survivor["tier"]]:
        await raw("UPDATE member SET tier = {}, tier_since = {} WHERE id = {}",
                  merged["tier"], stamp, survivor["id"])
        await record_tier_change(survivor["id"], survivor["tier"], merged["tier"],
                           f"merged with member {merged['member_no']}", actor_label, stamp)
    return moved
