"""Membership tiers as managers set them up: list / get / create / update / delete.

The base tier (position 0) always exists, has no thresholds and cannot be deleted; every
other tier has a position of 1 or more and at least one threshold (paid spend or points
earned over 12 months); each threshold grows with position among the tiers that set it; a
tier that members hold (or will be moved down to) cannot be deleted.
"""

from __future__ import annotations

from db.actor import Actor
from db.clock import now
from db.engine import raw, reading, writing
from db.errors import NotFound, ValidationFailed
from db.members.catalogue.form_fields import (
    audit, changed_fields, money, multiplier_pct, text, value_text, whole,
)
from db.members.tables import Member, Tier

TIER_COLORS = ("gray", "blue", "green", "amber", "red", "purple")
TIER_FIELDS = ("name", "position", "min_spend", "min_points", "multiplier", "benefits", "color")
MAX_TIERS = 10
MAX_POSITION = 99
MAX_POINTS = 1_000_000_000


async def list_tiers() -> list[dict]:
    """Every tier by position, with how many members hold it and whether it may be deleted."""
    async with reading():
        tiers = await Tier.select().order_by(Tier.position)
        held = {r["tier"]: int(r["n"]) for r in await raw(
            "SELECT tier, COUNT(*) AS n FROM member GROUP BY tier")}
        pending = {r["tier"]: int(r["n"]) for r in await raw(
            "SELECT downgrade_to AS tier, COUNT(*) AS n FROM member WHERE downgrade_to IS NOT NULL "
            "GROUP BY downgrade_to")}
    base_id = tiers[0]["id"] if tiers else None
    for tier in tiers:
        tier["members"] = held.get(tier["id"], 0)
        tier["is_base"] = tier["id"] == base_id
        tier["multiplier"] = multiplier_text(tier["multiplier_pct"])
        tier["deletable"] = not tier["is_base"] and not tier["members"] and not pending.get(tier["id"])
    return tiers


async def get_tier(tier_id: int | None) -> dict:
    row = await Tier.select().where(Tier.id == tier_id).first() if tier_id else None
    if row is None:
        raise NotFound()
    return row


def multiplier_text(pct: int) -> str:
    """150 -> '1.5', 100 -> '1', 105 -> '1.05'."""
    units, part = divmod(pct, 100)
    return f"{units}.{part:02d}".rstrip("0").rstrip(".")


def tier_values(tier: dict) -> dict:
    """A stored tier as the edit form's text values."""
    return {
        "name": tier["name"], "position": str(tier["position"]),
        "min_spend": f"{tier['min_spend_fen'] // 100}" + (f".{tier['min_spend_fen'] % 100:02d}" if tier["min_spend_fen"] % 100 else "")
        if tier["min_spend_fen"] is not None else "",
        "min_points": "" if tier["min_points"] is None else str(tier["min_points"]),
        "multiplier": multiplier_text(tier["multiplier_pct"]),
        "benefits": tier["benefits"], "color": tier["color"],
    }


def parse_tier(values: dict, *, is_base: bool = False) -> dict:
    """Form text -> Tier columns. The base tier keeps position 0 and has no thresholds."""
    errors: dict[str, str] = {}
    row = {"name": text(values, "name", errors, 20, required=True)}
    if is_base:
        row["position"] = 0
        if value_text(values, "min_spend") or value_text(values, "min_points"):
            errors["min_spend"] = "the base tier has no thresholds: every member holds it"
        row["min_spend_fen"] = row["min_points"] = None
    else:
        row["position"] = whole(values, "position", errors, low=1, high=MAX_POSITION, required=True,
                                 message=f"between 1 and {MAX_POSITION} (0 is the base tier)")
        row["min_spend_fen"] = money(values, "min_spend", errors, positive=True)
        row["min_points"] = whole(values, "min_points", errors, low=1, high=MAX_POINTS)
        if (row["min_spend_fen"] is None and row["min_points"] is None
                and "min_spend" not in errors and "min_points" not in errors):
            errors["min_spend"] = "set a spend or a points threshold (or both)"
    row["multiplier_pct"] = multiplier_pct(values, errors)
    row["benefits"] = text(values, "benefits", errors, 500)
    color = value_text(values, "color") or "gray"
    if color not in TIER_COLORS:
        errors["color"] = f"one of {', '.join(TIER_COLORS)}"
    row["color"] = color
    if errors:
        raise ValidationFailed(errors)
    return row


def _check_ladder(tiers: list[dict]) -> None:
    """Names and positions are unique; each threshold grows with position where it is set."""
    errors: dict[str, str] = {}
    changed = next(t for t in tiers if t.get("_new"))
    for other in tiers:
        if other is changed:
            continue
        if other["name"] == changed["name"]:
            errors["name"] = "another tier has this name"
        if other["position"] == changed["position"]:
            errors["position"] = "another tier has this position"
    ladder = sorted(tiers, key=lambda t: t["position"])
    for column, field, label in (("min_spend_fen", "min_spend", "spend"), ("min_points", "min_points", "points")):
        set_ = [t for t in ladder if t[column] is not None]
        for lower, higher in zip(set_, set_[1:]):
            if higher[column] <= lower[column] and (lower is changed or higher is changed):
                errors[field] = ("must be more than the tier below" if higher is changed
                                 else "must be less than the tier above")
    if errors:
        raise ValidationFailed(errors)


async def create_tier(values: dict, actor: Actor) -> int:
    row = parse_tier(values)
    async with writing():
        tiers = await Tier.select().order_by(Tier.position)
        if len(tiers) >= MAX_TIERS:
            raise ValidationFailed({"name": f"at most {MAX_TIERS} tiers"})
        _check_ladder([*tiers, {**row, "_new": True}])
        created = (await Tier.insert(Tier(**row, created_at=now())).returning(Tier.id))[0]["id"]
        await audit("tier.create", actor, "tier", created)
    return created


async def update_tier(tier_id: int, values: dict, actor: Actor) -> None:
    async with writing():
        tiers = await Tier.select().order_by(Tier.position)
        current = next((t for t in tiers if t["id"] == tier_id), None)
        if current is None:
            raise NotFound()
        row = parse_tier(values, is_base=current["id"] == tiers[0]["id"])
        _check_ladder([t for t in tiers if t["id"] != tier_id] + [{**row, "_new": True}])
        fields = changed_fields(current, row)
        if fields:
            await Tier.update(row).where(Tier.id == tier_id)
            await audit("tier.update", actor, "tier", tier_id, fields)


async def delete_tier(tier_id: int, actor: Actor) -> None:
    async with writing():
        tiers = await Tier.select(Tier.id).order_by(Tier.position)
        if tier_id not in [t["id"] for t in tiers]:
            raise NotFound()
        if tier_id == tiers[0]["id"]:
            raise ValidationFailed({"tier": "the base tier cannot be deleted"})
        held = await Member.count().where((Member.tier == tier_id) | (Member.downgrade_to == tier_id))
        if held:
            raise ValidationFailed({"tier": "members hold this tier; it cannot be deleted"})
        await raw("UPDATE tier_change SET from_tier = NULL WHERE from_tier = {}", tier_id)
        await raw("UPDATE tier_change SET to_tier = NULL WHERE to_tier = {}", tier_id)
        await Tier.delete().where(Tier.id == tier_id)
        await audit("tier.delete", actor, "tier", tier_id)
