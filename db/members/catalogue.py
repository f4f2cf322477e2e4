"""The members catalogue as managers set it up: tiers, rewards and coupon types.

Each kind has list / get / create / update / delete. Input comes as the form's text values
and is validated in one go: a ValidationFailed carries one message per bad field and nothing
is written. Every change is in the audit log (`tier.*`, `reward.*`, `coupon_type.*`).

Tier rules: the base tier (position 0) always exists, has no thresholds and cannot be
deleted; every other tier has a position of 1 or more and at least one threshold (paid spend
or points earned over 12 months); each threshold grows with position among the tiers that
set it; a tier that members hold (or will be moved down to) cannot be deleted.
Dates in the forms are the shop's calendar days: a window runs from the start of its first
day to the end of its last one.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from db.audit.log import record
from db.clock import SHOP_TZ, YEARS_MESSAGE, now, plausible_year
from db.actor import Actor
from db.engine import parse_id, raw, reading, writing
from db.errors import NotFound, ValidationFailed
from db.members.tables import COUPON_KINDS, CouponType, Member, Reward, Tier
from db.money import parse_money

TIER_COLORS = ("gray", "blue", "green", "amber", "red", "purple")
TIER_FIELDS = ("name", "position", "min_spend", "min_points", "multiplier", "benefits", "color")
REWARD_FIELDS = ("name", "description", "points_cost", "stock", "valid_from", "valid_until",
                 "coupon_type_id", "active", "stock_was")
COUPON_FIELDS = ("name", "kind", "amount_off", "percent_off", "min_spend", "validity",
                 "valid_days", "valid_from", "valid_until", "active")
VALIDITY_MODES = ("days", "window")
MAX_TIERS = 10
MAX_POSITION = 99
MAX_POINTS = 1_000_000_000
MAX_VALID_DAYS = 3650
MULTIPLIER_MIN_PCT, MULTIPLIER_MAX_PCT = 100, 1000


def _zone() -> ZoneInfo:
    return SHOP_TZ


# ---------------------------------------------------------------- field parsers


def _s(values: dict, key: str) -> str:
    value = values.get(key)
    return "" if value is None else str(value).strip()


def _text(values: dict, key: str, errors: dict, max_len: int, required: bool = False) -> str:
    text = " ".join(_s(values, key).split()) if key != "description" and key != "benefits" else _s(values, key)
    if required and not text:
        errors[key] = "required"
    elif len(text) > max_len:
        errors[key] = f"at most {max_len} characters"
    return text


def _whole(values: dict, key: str, errors: dict, *, low: int, high: int, required: bool = False,
           message: str | None = None) -> int | None:
    text = _s(values, key).replace(",", "")
    if not text:
        if required:
            errors[key] = "required"
        return None
    if not re.fullmatch(r"-?\d{1,12}", text):
        errors[key] = "a whole number"
        return None
    number = int(text)
    if not low <= number <= high:
        errors[key] = message or f"between {low} and {high}"
        return None
    return number


def _money(values: dict, key: str, errors: dict, *, required: bool = False, positive: bool = False) -> int | None:
    text = _s(values, key)
    if not text:
        if required:
            errors[key] = "required"
        return None
    try:
        fen = parse_money(text)
    except ValueError as exc:
        errors[key] = str(exc)
        return None
    if positive and fen <= 0:
        errors[key] = "more than zero"
        return None
    return fen


def _multiplier(values: dict, errors: dict) -> int:
    """'1.5', '1.5x' or '1.5×' -> 150 (percent)."""
    text = _s(values, "multiplier").lower().rstrip("x×").strip()
    if not text:
        errors["multiplier"] = "required"
        return 100
    try:
        amount = Decimal(text)
    except InvalidOperation:
        errors["multiplier"] = "a number like 1.5"
        return 100
    if not amount.is_finite() or amount.as_tuple().exponent < -2 or amount.adjusted() > 3:
        errors["multiplier"] = "a number like 1.5"
        return 100
    pct = int(amount * 100)
    if not MULTIPLIER_MIN_PCT <= pct <= MULTIPLIER_MAX_PCT:
        errors["multiplier"] = "between 1 and 10"
        return 100
    return pct


def _day(values: dict, key: str, errors: dict) -> dt.date | None:
    text = _s(values, key)
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        errors[key] = "a date like 2026-12-31"
        return None
    if not plausible_year(day):
        errors[key] = YEARS_MESSAGE
        return None
    return day


def _window(values: dict, errors: dict, *, until_required: bool = False) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The form's first and last day -> (start of the first day, end of the last day), shop time."""
    first, last = _day(values, "valid_from", errors), _day(values, "valid_until", errors)
    if until_required and last is None and "valid_until" not in errors:
        errors["valid_until"] = "required"
    if first and last and last < first:
        errors["valid_until"] = "on or after the first day"
    zone = _zone()
    start = dt.datetime.combine(first, dt.time.min, zone) if first else None
    end = dt.datetime.combine(last, dt.time(23, 59, 59), zone) if last else None
    return start, end


def _flag(values: dict, key: str) -> bool:
    return _s(values, key).lower() in ("1", "on", "true", "yes")


def window_days(start: dt.datetime | None, end: dt.datetime | None) -> tuple[str, str]:
    """A stored window as the form's two date texts (shop calendar days)."""
    zone = _zone()
    return (start.astimezone(zone).date().isoformat() if start else "",
            end.astimezone(zone).date().isoformat() if end else "")


def _audit(action: str, actor: Actor, target_type: str, target_id: int, fields: list[str] | None = None) -> object:
    return record(action, actor_id=actor.id, actor=actor.label, ip=actor.ip, target_type=target_type,
                  target_id=target_id, detail={"fields": fields} if fields else None)


def _changed(before: dict, after: dict) -> list[str]:
    return sorted(k for k, v in after.items() if before.get(k) != v)


# ---------------------------------------------------------------- tiers


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
    whole, part = divmod(pct, 100)
    return f"{whole}.{part:02d}".rstrip("0").rstrip(".")


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
    row = {"name": _text(values, "name", errors, 20, required=True)}
    if is_base:
        row["position"] = 0
        if _s(values, "min_spend") or _s(values, "min_points"):
            errors["min_spend"] = "the base tier has no thresholds: every member holds it"
        row["min_spend_fen"] = row["min_points"] = None
    else:
        row["position"] = _whole(values, "position", errors, low=1, high=MAX_POSITION, required=True,
                                 message=f"between 1 and {MAX_POSITION} (0 is the base tier)")
        row["min_spend_fen"] = _money(values, "min_spend", errors, positive=True)
        row["min_points"] = _whole(values, "min_points", errors, low=1, high=MAX_POINTS)
        if (row["min_spend_fen"] is None and row["min_points"] is None
                and "min_spend" not in errors and "min_points" not in errors):
            errors["min_spend"] = "set a spend or a points threshold (or both)"
    row["multiplier_pct"] = _multiplier(values, errors)
    row["benefits"] = _text(values, "benefits", errors, 500)
    color = _s(values, "color") or "gray"
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
        await _audit("tier.create", actor, "tier", created)
    return created


async def update_tier(tier_id: int, values: dict, actor: Actor) -> None:
    async with writing():
        tiers = await Tier.select().order_by(Tier.position)
        current = next((t for t in tiers if t["id"] == tier_id), None)
        if current is None:
            raise NotFound()
        row = parse_tier(values, is_base=current["id"] == tiers[0]["id"])
        _check_ladder([t for t in tiers if t["id"] != tier_id] + [{**row, "_new": True}])
        fields = _changed(current, row)
        if fields:
            await Tier.update(row).where(Tier.id == tier_id)
            await _audit("tier.update", actor, "tier", tier_id, fields)


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
        await _audit("tier.delete", actor, "tier", tier_id)


# ---------------------------------------------------------------- coupon types


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
    row: dict = {"name": _text(values, "name", errors, 60, required=True)}
    kind = _s(values, "kind")
    if kind not in COUPON_KINDS:
        errors["kind"] = f"one of {', '.join(COUPON_KINDS)}"
    row["kind"] = kind
    row["amount_off_fen"], row["percent_off"] = 0, 0
    if kind == "amount":
        row["amount_off_fen"] = _money(values, "amount_off", errors, required=True, positive=True) or 0
    elif kind == "percent":
        row["percent_off"] = _whole(values, "percent_off", errors, low=1, high=99, required=True) or 0
    row["min_spend_fen"] = _money(values, "min_spend", errors) or 0
    if kind == "amount" and row["amount_off_fen"] and row["min_spend_fen"] and row["amount_off_fen"] > row["min_spend_fen"]:
        errors["amount_off"] = "not more than the minimum spend"
    validity = _s(values, "validity")
    if validity not in VALIDITY_MODES:
        errors["validity"] = f"one of {', '.join(VALIDITY_MODES)}"
    row["valid_days"], row["valid_from"], row["valid_until"] = None, None, None
    if validity == "days":
        row["valid_days"] = _whole(values, "valid_days", errors, low=1, high=MAX_VALID_DAYS, required=True)
    elif validity == "window":
        row["valid_from"], row["valid_until"] = _window(values, errors, until_required=True)
    row["active"] = _flag(values, "active")
    if errors:
        raise ValidationFailed(errors)
    return row


async def create_coupon_type(values: dict, actor: Actor) -> int:
    row = parse_coupon_type(values)
    async with writing():
        created = (await CouponType.insert(CouponType(**row, created_at=now())).returning(CouponType.id))[0]["id"]
        await _audit("coupon_type.create", actor, "coupon_type", created)
    return created


async def update_coupon_type(type_id: int, values: dict, actor: Actor) -> None:
    row = parse_coupon_type(values)
    async with writing():
        current = await get_coupon_type(type_id)
        fields = _changed(current, row)
        if fields:
            await CouponType.update(row).where(CouponType.id == type_id)
            await _audit("coupon_type.update", actor, "coupon_type", type_id, fields)


async def delete_coupon_type(type_id: int, actor: Actor) -> None:
    async with writing():
        await get_coupon_type(type_id)
        issued = await raw("SELECT COUNT(*) AS n FROM coupon WHERE coupon_type = {}", type_id)
        if int(issued[0]["n"]):
            raise ValidationFailed({"coupon_type": "coupons of this type were issued; switch it off instead"})
        if await Reward.count().where(Reward.coupon_type == type_id):
            raise ValidationFailed({"coupon_type": "a reward issues this coupon; change the reward first"})
        await CouponType.delete().where(CouponType.id == type_id)
        await _audit("coupon_type.delete", actor, "coupon_type", type_id)


# ---------------------------------------------------------------- rewards


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
        "name": _text(values, "name", errors, 60, required=True),
        "description": _text(values, "description", errors, 500),
        "points_cost": _whole(values, "points_cost", errors, low=1, high=MAX_POINTS, required=True,
                              message="more than zero"),
        "stock": _whole(values, "stock", errors, low=0, high=10_000_000),
    }
    row["valid_from"], row["valid_until"] = _window(values, errors)
    type_text = _s(values, "coupon_type_id")
    row["coupon_type"] = None
    if type_text:
        row["coupon_type"] = parse_id(type_text)
        if row["coupon_type"] is None:
            errors["coupon_type_id"] = "choose a coupon type"
    row["active"] = _flag(values, "active")
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
        await _audit("reward.create", actor, "reward", created)
    return created


async def update_reward(reward_id: int, values: dict, actor: Actor) -> None:
    """Save a reward. Stock moves with every redemption, so the form's stock is written only
    when the manager changed it, and only if it is still what the form showed (else a clear
    message): saving a typo fix never puts redeemed units back."""
    row = parse_reward(values)
    shown = _s(values, "stock_was")  # "none" (unlimited), a number, or "" (not known)
    checked = shown == "none" or parse_id(shown) is not None
    shown_stock = parse_id(shown)
    if checked and row["stock"] == shown_stock:
        del row["stock"]  # not touched in the form
    async with writing():
        current = await get_reward(reward_id)
        await _check_coupon_type(row, current["coupon_type"])
        fields = _changed(current, row)
        if fields:
            query = Reward.update(row).where(Reward.id == reward_id)
            if "stock" in row and checked:
                query = query.where(Reward.stock.is_null() if shown_stock is None else Reward.stock == shown_stock)
            if not await query.returning(Reward.id):
                raise ValidationFailed({"stock": "members redeemed some meanwhile: check the stock and save again"})
            await _audit("reward.update", actor, "reward", reward_id, fields)


async def delete_reward(reward_id: int, actor: Actor) -> None:
    async with writing():
        await get_reward(reward_id)
        redeemed = await raw("SELECT COUNT(*) AS n FROM redemption WHERE reward = {}", reward_id)
        if int(redeemed[0]["n"]):
            raise ValidationFailed({"reward": "members have redeemed this reward; switch it off instead"})
        await Reward.delete().where(Reward.id == reward_id)
        await _audit("reward.delete", actor, "reward", reward_id)
