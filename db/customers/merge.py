"""Merging two customers who are one person, with a record that shows what came from where.

One `writing()` transaction does it all, or nothing: both customers must be in the caller's
scope; every row that references the merged customer moves to the survivor (the tables are
listed once, in CUSTOMER_REFERENCES); the survivor's empty profile fields are filled from
the merged customer; a MergeRecord keeps the merged customer's profile as it was and the
ids of the rows that moved; the merged customer is deleted; the survivor's figures are
recomputed; the audit log gets "customer.merge".
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from db.audit.log import record
from db.clock import now
from db.customers import consent, fields, identity, lifecycle, service
from db.customers.service import refresh_next_follow_up
from db.customers.scope import Scope
from db.customers.tables import Customer, MergeRecord
from db.engine import is_sqlite, raw, writing
from db.errors import NotFound, ValidationFailed
# Members build on customers, but a merge folds the two memberships in its own transaction:
# the one upward import in db/customers (pyproject's contracts list it).
from db.members.merging import fold_member


@dataclass(frozen=True)
class CustomerReference:
    """A table with a column that holds a customer id.

    unique_with: a column unique together with `column` (one tag per customer): a merged
    row whose value the survivor already has is not moved (it goes with the merged customer).
    blank: a condition that marks a survivor's row as empty, so the merged one replaces it.
    folded: moved by no rule here: a function called before the moves folds the two sides
    (customer_consent_state: consent.fold, so a withdrawal on the merged side is kept).
    """

    table: str
    column: str = "customer"
    unique_with: str | None = None
    blank: str | None = None
    folded: bool = False


# Tables that reference customer. Every table with a customer column MUST be listed here, or
# a merge would lose its rows (a foreign key that cascades) or fail (one that restricts);
# tests/test_merge.py checks the list against the database's foreign keys. Tickets and
# campaign messages go here when their tables land.
CUSTOMER_REFERENCES: tuple[CustomerReference, ...] = (
    CustomerReference("order"),
    CustomerReference("interaction"),
    CustomerReference("customer_tag", unique_with="tag"),
    CustomerReference("customer_field_value", unique_with="field", blank="value = ''"),
    CustomerReference("merge_record", column="survivor"),  # customers this one absorbed before
    CustomerReference("opportunity"),
    CustomerReference("opportunity_stage_change"),
    CustomerReference("follow_up"),
    CustomerReference("follow_up_plan"),
    CustomerReference("member"),  # when both are members, db/members/merging.py folds them first
    CustomerReference("customer_consent"),  # the log: every row moves
    CustomerReference("customer_consent_state", folded=True),  # consent.fold, before the moves
)

# Profile fields filled from the merged customer when the survivor's is empty; a group is
# filled together (a city belongs to its province).
PROFILE_GROUPS: tuple[tuple[str, ...], ...] = (
    ("mobile",), ("email",), ("gender",), ("birthday",), ("province", "city"), ("address",),
    ("first_channel",), ("owner",), ("team",), ("next_follow_up_on",),
)
EMPTY = (None, "", "unknown")


def _q(name: str) -> str:
    return f'"{name}"'


def _jsonable(value):
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


async def _lock(first_id: int, second_id: int) -> None:
    """PostgreSQL: lock both rows in id order, so a concurrent merge of the same pair waits
    and then finds the merged customer gone. SQLite's IMMEDIATE transaction already
    serialises writers."""
    if not is_sqlite():
        low, high = sorted((first_id, second_id))
        await raw("SELECT id FROM customer WHERE id IN ({}, {}) ORDER BY id FOR UPDATE", low, high)


async def _load(scope: Scope, survivor_id: int, merged_id: int) -> tuple[dict, dict]:
    rows = await Customer.select().where(Customer.id.is_in([survivor_id, merged_id]))
    by_id = {r["id"]: r for r in rows if scope.allows(r["owner"], r["team"])}
    for customer_id in (survivor_id, merged_id):
        if customer_id in by_id:
            continue
        if customer_id not in {r["id"] for r in rows}:
            earlier = await MergeRecord.select(MergeRecord.survivor).where(
                MergeRecord.merged_id == customer_id
            ).first()
            if earlier and earlier["survivor"] in by_id:
                raise ValidationFailed({"merged_id": "this customer was already merged"})
        raise NotFound()
    return by_id[survivor_id], by_id[merged_id]


async def _snapshot(customer: dict) -> dict:
    cid = customer["id"]
    snap = {k: _jsonable(v) for k, v in customer.items() if k != "search_text"}
    snap["tags"] = [t["name"] for t in (await service.tags_for([cid])).get(cid, [])]
    snap["custom_fields"] = (await fields.values_for([cid])).get(cid, {})
    return snap


async def _move(ref: CustomerReference, survivor_id: int, merged_id: int) -> tuple[list[int], int]:
    """Move the merged customer's rows of one table; returns (moved ids, rows left behind)."""
    if ref.folded:
        return [], 0
    table, col = _q(ref.table), _q(ref.column)
    keep_clause, args = "", []
    if ref.unique_with:
        other = _q(ref.unique_with)
        if ref.blank:
            await raw(
                f"DELETE FROM {table} WHERE {col} = {{}} AND {ref.blank} AND {other} IN "
                f"(SELECT {other} FROM {table} WHERE {col} = {{}})",
                survivor_id, merged_id,
            )
        keep_clause = f" AND {other} NOT IN (SELECT {other} FROM {table} WHERE {col} = {{}})"
        args = [survivor_id]
    moved = await raw(
        f"SELECT id FROM {table} WHERE {col} = {{}}{keep_clause} ORDER BY id", merged_id, *args
    )
    if moved:
        await raw(f"UPDATE {table} SET {col} = {{}} WHERE {col} = {{}}{keep_clause}",
                  survivor_id, merged_id, *args)
    left = 0
    if ref.unique_with:
        rest = await raw(f"SELECT COUNT(*) AS n FROM {table} WHERE {col} = {{}}", merged_id)
        left = int(rest[0]["n"])
    return [r["id"] for r in moved], left


def _fill(survivor: dict, merged: dict) -> dict:
    changes = {}
    for group in PROFILE_GROUPS:
        if all(survivor.get(f) in EMPTY for f in group) and any(merged.get(f) not in EMPTY for f in group):
            for f in group:
                changes[f] = merged.get(f)
    if merged["created_at"] < survivor["created_at"]:  # known since the earlier of the two
        changes["created_at"] = merged["created_at"]
    return changes


async def merge_customers(scope: Scope, survivor_id: int, merged_id: int, actor) -> int:
    """Merge `merged_id` into `survivor_id`; returns the MergeRecord id.

    NotFound when either customer is missing or outside the scope; ValidationFailed when
    they are the same customer or the merged one was merged meanwhile (a concurrent merge
    of the same pair: one wins, the other changes nothing).
    """
    if survivor_id == merged_id:
        raise ValidationFailed({"merged_id": "a customer cannot be merged with itself"})
    async with writing():
        await _lock(survivor_id, merged_id)
        survivor, merged = await _load(scope, survivor_id, merged_id)
        snapshot = await _snapshot(merged)
        moved: dict[str, list[int]] = {}
        left: dict[str, int] = {}
        await fold_member(survivor_id, merged_id, actor.label)
        await consent.fold(survivor_id, merged_id, actor.label)
        for ref in CUSTOMER_REFERENCES:
            ids, rest = await _move(ref, survivor_id, merged_id)
            moved[ref.table] = ids
            if rest:
                left[ref.table] = rest
        await raw("DELETE FROM duplicate_dismissal WHERE low_id = {} OR high_id = {}",
                  merged_id, merged_id)
        deleted = await raw("DELETE FROM customer WHERE id = {} RETURNING id", merged_id)
        if not deleted:  # cannot happen under the lock; never leave a half merge
            raise ValidationFailed({"merged_id": "this customer was already merged"})
        changes = _fill(survivor, merged)
        stamp = now()
        profile = sorted(k for k in changes if k != "created_at")
        update = {**changes, "updated_at": stamp}
        if "mobile" in changes or "email" in changes:
            update["search_text"] = identity.search_text(
                survivor["name"], changes.get("mobile", survivor["mobile"]),
                changes.get("email", survivor["email"]),
            )
        await Customer.update({getattr(Customer, k): v for k, v in update.items()}).where(
            Customer.id == survivor_id
        )
        detail = {"tables": moved, "left_with_merged": left, "profile": profile}
        rows = await MergeRecord.insert(
            MergeRecord(
                survivor=survivor_id, merged_id=merged_id,
                merged_snapshot=json.dumps(snapshot, ensure_ascii=False), moved=json.dumps(detail),
                actor_id=actor.id, actor=actor.label[:80], merged_at=stamp,
            )
        ).returning(MergeRecord.id)
        record_id = rows[0]["id"]
        await lifecycle.refresh_customers([survivor_id])
        await refresh_next_follow_up([survivor_id])
        await record(
            "customer.merge", actor_id=actor.id, actor=actor.label, target_type="customer",
            target_id=survivor_id, ip=actor.ip,
            detail={"merged_id": merged_id, "merge_record": record_id, "fields": profile,
                    "moved": {t: len(ids) for t, ids in moved.items() if ids}},
        )
    return record_id


async def merge_history(customer_id: int) -> list[dict]:
    """The customers merged into this one, newest first. No scope check: the caller has
    already shown the customer. Each: {"id", "merged_id", "merged_name", "merged_at",
    "actor", "counts": {table: n}, "profile": [fields filled], "snapshot": {...}}."""
    rows = await MergeRecord.select().where(MergeRecord.survivor == customer_id).order_by(
        MergeRecord.merged_at, ascending=False
    ).order_by(MergeRecord.id, ascending=False).limit(100)
    out = []
    for row in rows:
        snapshot = json.loads(row["merged_snapshot"] or "{}")
        moved = json.loads(row["moved"] or "{}")
        tables = moved.get("tables", {})
        out.append({
            "id": row["id"],
            "merged_id": row["merged_id"],
            "merged_name": snapshot.get("name", ""),
            "merged_mobile_masked": identity.mask_mobile(snapshot.get("mobile")),
            "merged_at": row["merged_at"],
            "actor": row["actor"],
            "counts": {t: len(ids) for t, ids in tables.items()},
            "moved": tables,
            "profile": moved.get("profile", []),
            "snapshot": snapshot,
        })
    return out
