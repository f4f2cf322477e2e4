"""Rewards members redeem with points, as managers set them up: list / get / create /
update / delete. A reward may issue a coupon (an active coupon type); stock moves with every
redemption (see update_reward); a redeemed reward cannot be deleted."""

from __future__ import annotations

from db.actor import Actor
from db.clock import now
from db.engine import parse_id, raw, reading, writing
from db.errors import NotFound, ValidationFailed
from db.members.catalogue.form_fields import (
    audit, changed_fields, flag, text, value_text, whole, window, window_days,
)
from db.members.catalogue.tiers import MAX_POINTS
from db.members.tables import CouponType, Reward

REWARD_FIELDS = ("name", "description", "points_cost", "stock", "valid_from", "valid_until",
                 "coupon_type_id", "active", "stock_was")


async def list_rewards() -> list[dict]:
    """The reward catalogue, active first then by points cost, with the coupon type's name
    and how often each was redeemed."""
    async with reading():
        rows = await Reward.select(Reward.all_columns(), Reward.coupon_type.name.as_alias("coupon_type_name")) \
            .order_by(Reward.active, ascending=False).order_by(Reward.points_cost).order_by(Reward.id)
        redeemed = {r["reward"]: int(r["n"]) for r in await raw(
            "SELECT reward, COUNT(*) AS n FROM redemption GROUP BY reward")}
    for row in rows:
        row["redeemed"] = redeemed.get(row["id"], 0)
        row["deletable"] = not row["redeemed"]
    return rows


async def get_reward(reward_id: int | None) -> dict:
    row = await Reward.select().where(Reward.id == reward_id).first() if reward_id else None
    if row is None:
        raise NotFound()
    return row


def reward_values(row: dict) -> dict:
    first, last = window_days(row["valid_from"], row["valid_until"])
    return {
        "name": row["name"], "description": row["description"], "points_cost": str(row["points_cost"]),
        "stock": "" if row["stock"] is None else str(row["stock"]), "valid_from": first, "valid_until": last,
        "coupon_type_id": str(row["coupon_type"] or ""), "active": "1" if row["active"] else "",
        "stock_was": "none" if row["stock"] is None else str(row["stock"]),  # what the form showed
    }


def parse_reward(values: dict) -> dict:
    errors: dict[str, str] = {}
    row: dict = {
        "name": text(values, "name", errors, 60, required=True),
        "description": text(values, "description", errors, 500),
        "points_cost": whole(values, "points_cost", errors, low=1, high=MAX_POINTS, required=True,
                              message="more than zero"),
        "stock": whole(values, "stock", errors, low=0, high=10_000_000),
    }
    row["valid_from"], row["valid_until"] = window(values, errors)
    type_text = value_text(values, "coupon_type_id")
    row["coupon_type"] = None
    if type_text:
        row["coupon_type"] = parse_id(type_text)
        if row["coupon_type"] is None:
            errors["coupon_type_id"] = "choose a coupon type"
    row["active"] = flag(values, "active")
    if errors:
        raise ValidationFailed(errors)
    return row


async def _check_coupon_type(row: dict, current: int | None = None) -> None:
    if row["coupon_type"] is None:
        return
    found = await CouponType.select(CouponType.active).where(CouponType.id == row["coupon_type"]).first()
    if found is None or (not found["active"] and row["coupon_type"] != current):
        raise ValidationFailed({"coupon_type_id": "choose an active coupon type"})


async def create_reward(values: dict, actor: Actor) -> int:
    row = parse_reward(values)
    async with writing():
        await _check_coupon_type(row)
        created = (await Reward.insert(Reward(**row, created_at=now())).returning(Reward.id))[0]["id"]
        await audit("reward.create", actor, "reward", created)
    return created


async def update_reward(reward_id: int, values: dict, actor: Actor) -> None:
    """Save a reward. Stock moves with every redemption, so the form's stock is written only
    when the manager changed it, and only if it is still what the form showed (else a clear
    message): saving a typo fix never puts redeemed units back."""
    row = parse_reward(values)
    shown = value_text(values, "stock_was")  # "none" (unlimited), a number, or "" (not known)
    checked = shown == "none" or parse_id(shown) is not None
    shown_stock = parse_id(shown)
    if checked and row["stock"] == shown_stock:
        del row["stock"]  # not touched in the form
    async with writing():
        current = await get_reward(reward_id)
        await _check_coupon_type(row, current["coupon_type"])
        fields = changed_fields(current, row)
        if fields:
            query = Reward.update(row).where(Reward.id == reward_id)
            if "stock" in row and checked:
                query = query.where(Reward.stock.is_null() if shown_stock is None else Reward.stock == shown_stock)
            if not await query.returning(Reward.id):
                raise ValidationFailed({"stock": "members redeemed some meanwhile: check the stock and save again"})
            await audit("reward.update", actor, "reward", reward_id, fields)


async def delete_reward(reward_id: int, actor: Actor) -> None:
    async with writing():
        await get_reward(reward_id)
        redeemed = await raw("SELECT COUNT(*) AS n FROM redemption WHERE reward = {}", reward_id)
        if int(redeemed[0]["n"]):
            raise ValidationFailed({"reward": "members have redeemed this reward; switch it off instead"})
        await Reward.delete().where(Reward.id == reward_id)
        await audit("reward.delete", actor, "reward", reward_id)
