"""Coupons (优惠券): issued to a member from a coupon type, each with a unique code, used once."""

from __future__ import annotations

import datetime as dt
import secrets

from db.clock import now
from db.engine import as_datetime, raw, reading
from db.errors import Conflict, NotFound
from db.members.steps import run_steps

# No 0/O, 1/I/L: codes are read aloud and typed at the till.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10


class CouponUnusable(Conflict):
    pass


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def _coupon_row(row: dict) -> dict:
    row = dict(row)
    for key in ("valid_from", "valid_until", "used_at", "issued_at"):
        if key in row:
            row[key] = as_datetime(row[key])
    return row


def issue_steps(member_id: int, coupon_type_id: int, *, source: str, actor: str,
                stamp: dt.datetime, redemption_id: int | None = None):
    """Steps for db/members/steps.run_steps (so a reward's coupon is issued in the
    redemption's transaction). A code collision raises a unique violation: run_steps retries."""
    rows = yield ("SELECT id, valid_days, valid_from, valid_until FROM coupon_type "
                  "WHERE id = {} AND active = {}", (coupon_type_id, True))
    if not rows:
        raise NotFound()
    kind = rows[0]
    if kind["valid_days"]:
        valid_from, valid_until = stamp, stamp + dt.timedelta(days=kind["valid_days"])
    else:
        valid_from = as_datetime(kind["valid_from"]) or stamp
        valid_until = as_datetime(kind["valid_until"])
    rows = yield (
        "INSERT INTO coupon (code, coupon_type, member, redemption, source, issued_by, valid_from, "
        "valid_until, used_at, used_order, issued_at) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, NULL, '', {}) "
        "RETURNING *",
        (new_code(), coupon_type_id, member_id, redemption_id, source, actor[:80], valid_from,
         valid_until, stamp))
    return _coupon_row(rows[0])


async def issue(member_id: int, coupon_type_id: int, *, source: str, actor_label: str,
                redemption_id: int | None = None) -> dict:
    stamp = now()
    return await run_steps(lambda: issue_steps(member_id, coupon_type_id, source=source,
                                               actor=actor_label, stamp=stamp,
                                               redemption_id=redemption_id))


def discount_fen(coupon: dict, total_fen: int) -> int:
    """What the coupon takes off an order of `total_fen` (0 below its minimum spend)."""
    if total_fen < coupon["min_spend_fen"]:
        return 0
    if coupon["kind"] == "percent":
        return total_fen * coupon["percent_off"] // 100
    return min(total_fen, coupon["amount_off_fen"])


async def use(code: str, order_ref: str, actor_label: str, member_id: int | None = None,
              order_total_fen: int | None = None) -> dict:
    """Mark a coupon used, once: a conditional UPDATE, so two tills cannot both take it.
    With the order's total, an order below the minimum spend is refused."""
    code = (code or "").strip().upper()
    stamp = now()

    def steps():
        member_check = " AND member = {}" if member_id is not None else ""
        if order_total_fen is not None:
            kind = yield ("SELECT t.min_spend_fen FROM coupon c JOIN coupon_type t ON t.id = c.coupon_type "
                          "WHERE c.code = {}" + member_check,
                          (code,) + ((member_id,) if member_id is not None else ()))
            if kind and order_total_fen < kind[0]["min_spend_fen"]:
                raise CouponUnusable("the order is below this coupon's minimum spend")
        args = (stamp, (order_ref or "")[:64], code) + ((member_id,) if member_id is not None else ())
        rows = yield (
            "UPDATE coupon SET used_at = {}, used_order = {} WHERE code = {}" + member_check +
            " AND used_at IS NULL AND valid_from <= {} AND (valid_until IS NULL OR valid_until > {}) "
            "RETURNING *", args + (stamp, stamp))
        if rows:
            return _coupon_row(rows[0])
        found = yield ("SELECT used_at, valid_from, valid_until FROM coupon WHERE code = {}" + member_check,
                       (code,) + ((member_id,) if member_id is not None else ()))
        if not found:
            raise NotFound()
        if found[0]["used_at"] is not None:
            raise CouponUnusable("this coupon was already used")
        raise CouponUnusable("this coupon is not valid now")

    return await run_steps(steps)


COUPON_COLUMNS = (
    "c.id, c.code, c.member, c.source, c.valid_from, c.valid_until, c.used_at, c.used_order, "
    "c.issued_at, t.name, t.kind, t.amount_off_fen, t.percent_off, t.min_spend_fen"
)


async def for_member(member_id: int, include_used: bool = False, limit: int = 50) -> list[dict]:
    """Open coupons first (soonest to expire first), then used or expired ones when asked."""
    stamp = now()
    where = "" if include_used else " AND c.used_at IS NULL AND (c.valid_until IS NULL OR c.valid_until > {})"
    args = (member_id,) + (() if include_used else (stamp,))
    rows = await raw(
        f"SELECT {COUPON_COLUMNS} FROM coupon c JOIN coupon_type t ON t.id = c.coupon_type "
        f"WHERE c.member = {{}}{where} ORDER BY c.used_at IS NOT NULL, c.valid_until IS NULL, "
        f"c.valid_until, c.id DESC LIMIT {int(limit)}", *args)
    out = []
    for row in rows:
        row = _coupon_row(row)
        row["state"] = ("used" if row["used_at"] else
                        "expired" if row["valid_until"] and row["valid_until"] <= stamp else "open")
        out.append(row)
    return out


async def rewards_for(member_id: int) -> list[dict]:
    """Active rewards in their window, cheapest first, with whether the member can take one."""
    stamp = now()
    async with reading():
        balance = await raw("SELECT points_balance FROM member WHERE id = {}", member_id)
        if not balance:
            raise NotFound()
        rows = await raw(
            "SELECT r.id, r.name, r.description, r.points_cost, r.stock, r.valid_until, r.coupon_type, "
            "t.name AS coupon_name FROM reward r LEFT JOIN coupon_type t ON t.id = r.coupon_type "
            "WHERE r.active = {} AND (r.valid_from IS NULL OR r.valid_from <= {}) "
            "AND (r.valid_until IS NULL OR r.valid_until > {}) ORDER BY r.points_cost, r.id",
            True, stamp, stamp)
    have = balance[0]["points_balance"]
    for row in rows:
        row["valid_until"] = as_datetime(row["valid_until"])
        row["in_stock"] = row["stock"] is None or row["stock"] > 0
        row["affordable"] = have >= row["points_cost"]
    return rows
