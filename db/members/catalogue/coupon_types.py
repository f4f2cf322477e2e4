"""Coupon types (what a coupon takes off, and how long it is valid) as managers set them
up: list / get / create / update / delete. A type that issued coupons or that a reward
issues cannot be deleted (switch it off instead)."""

from __future__ import annotations

from db.actor import Actor
from db.clock import now
from db.engine import raw, reading, writing
from db.errors import NotFound, ValidationFailed
from db.members.catalogue.form_fields import (
    audit, changed_fields, flag, money, text, value_text, whole, window, window_days,
)
from db.members.tables import COUPON_KINDS, CouponType, Reward

COUPON_FIELDS = ("name", "kind", "amount_off", "percent_off", "min_spend", "validity",
                 "valid_days", "valid_from", "valid_until", "active")
VALIDITY_MODES = ("days", "window")
MAX_VALID_DAYS = 3650


_COUPON_TYPE_COLUMNS = ", ".join(f'"{c._meta.db_column_name}"' for c in CouponType._meta.columns)


async def list_coupon_types(active_only: bool = False) -> list[dict]:
    """Coupon types, active first then by name, with how many coupons each has issued.
    active_only: just the active ones (what staff may issue), in one query, without counts."""
    if active_only:  # raw: the card reads it for every member; what CouponType.select() gives
        return await raw(f"SELECT {_COUPON_TYPE_COLUMNS} FROM coupon_type WHERE active = {{}} ORDER BY name", True)
    query = CouponType.select().order_by(CouponType.active, ascending=False).order_by(CouponType.name)
    async with reading():
        rows = await query
        issued = {r["coupon_type"]: int(r["n"]) for r in await raw(
            "SELECT coupon_type, COUNT(*) AS n FROM coupon GROUP BY coupon_type")}
        used_by_rewards = {r["coupon_type"] for r in await raw(
            "SELECT DISTINCT coupon_type FROM reward WHERE coupon_type IS NOT NULL")}
    for row in rows:
        row["issued"] = issued.get(row["id"], 0)
        row["deletable"] = not row["issued"] and row["id"] not in used_by_rewards
    return rows


async def get_coupon_type(type_id: int | None) -> dict:
    row = await CouponType.select().where(CouponType.id == type_id).first() if type_id else None
    if row is None:
        raise NotFound()
    return row


def _fen_text(fen: int | None) -> str:
    if fen is None:
        return ""
    return f"{fen // 100}" + (f".{fen % 100:02d}" if fen % 100 else "")


def coupon_type_values(row: dict) -> dict:
    first, last = window_days(row["valid_from"], row["valid_until"])
    return {
        "name": row["name"], "kind": row["kind"],
        "amount_off": _fen_text(row["amount_off_fen"]) if row["kind"] == "amount" else "",
        "percent_off": str(row["percent_off"]) if row["kind"] == "percent" else "",
        "min_spend": _fen_text(row["min_spend_fen"]) if row["min_spend_fen"] else "",
        "validity": "days" if row["valid_days"] is not None else "window",
        "valid_days": "" if row["valid_days"] is None else str(row["valid_days"]),
        "valid_from": first, "valid_until": last, "active": "1" if row["active"] else "",
    }


def parse_coupon_type(values: dict) -> dict:
    errors: dict[str, str] = {}
    row: dict = {"name": text(values, "name", errors, 60, required=True)}
    kind = value_text(values, "kind")
    if kind not in COUPON_KINDS:
        errors["kind"] = f"one of {', '.join(COUPON_KINDS)}"
    row["kind"] = kind
    row["amount_off_fen"], row["percent_off"] = 0, 0
    if kind == "amount":
        row["amount_off_fen"] = money(values, "amount_off", errors, required=True, positive=True) or 0
    elif kind == "percent":
        row["percent_off"] = whole(values, "percent_off", errors, low=1, high=99, required=True) or 0
    row["min_spend_fen"] = money(values, "min_spend", errors) or 0
    if kind == "amount" and row["amount_off_fen"] and row["min_spend_fen"] and row["amount_off_fen"] > row["min_spend_fen"]:
        errors["amount_off"] = "not more than the minimum spend"
    validity = value_text(values, "validity")
    if validity not in VALIDITY_MODES:
        errors["validity"] = f"one of {', '.join(VALIDITY_MODES)}"
    row["valid_days"], row["valid_from"], row["valid_until"] = None, None, None
    if validity == "days":
        row["valid_days"] = whole(values, "valid_days", errors, low=1, high=MAX_VALID_DAYS, required=True)
    elif validity == "window":
        row["valid_from"], row["valid_until"] = window(values, errors, until_required=True)
    row["active"] = flag(values, "active")
    if errors:
        raise ValidationFailed(errors)
    return row


async def create_coupon_type(values: dict, actor: Actor) -> int:
    row = parse_coupon_type(values)
    async with writing():
        created = (await CouponType.insert(CouponType(**row, created_at=now())).returning(CouponType.id))[0]["id"]
        await audit("coupon_type.create", actor, "coupon_type", created)
    return created


async def update_coupon_type(type_id: int, values: dict, actor: Actor) -> None:
    row = parse_coupon_type(values)
    async with writing():
        current = await get_coupon_type(type_id)
        fields = changed_fields(current, row)
        if fields:
            await CouponType.update(row).where(CouponType.id == type_id)
            await audit("coupon_type.update", actor, "coupon_type", type_id, fields)


async def delete_coupon_type(type_id: int, actor: Actor) -> None:
    async with writing():
        await get_coupon_type(type_id)
        issued = await raw("SELECT COUNT(*) AS n FROM coupon WHERE coupon_type = {}", type_id)
        if int(issued[0]["n"]):
            raise ValidationFailed({"coupon_type": "coupons of this type were issued; switch it off instead"})
        if await Reward.count().where(Reward.coupon_type == type_id):
            raise ValidationFailed({"coupon_type": "a reward issues this coupon; change the reward first"})
        await CouponType.delete().where(CouponType.id == type_id)
        await audit("coupon_type.delete", actor, "coupon_type", type_id)
