"""What a signed-in member may see of their own records on the member page.

Every lookup takes the session's member id and the record's id together: a record of another
member is NotFound, exactly like one that does not exist (no way to probe ids)."""

from __future__ import annotations

from db.clock import now
from db.engine import as_datetime, raw
from db.errors import NotFound

_COUPON = (
    "SELECT c.id, c.code, c.valid_from, c.valid_until, c.used_at, c.issued_at, c.redemption, "
    "t.name, t.kind, t.amount_off_fen, t.percent_off, t.min_spend_fen "
    "FROM coupon c JOIN coupon_type t ON t.id = c.coupon_type WHERE c.id = {} AND c.member = {}"
)


def coupon_state(row: dict, stamp=None) -> str:
    stamp = stamp or now()
    if row.get("used_at"):
        return "used"
    if row.get("valid_until") and row["valid_until"] <= stamp:
        return "expired"
    if row.get("valid_from") and row["valid_from"] > stamp:
        return "later"
    return "open"


def _coupon(row: dict) -> dict:
    for key in ("valid_from", "valid_until", "used_at", "issued_at"):
        row[key] = as_datetime(row[key])
    row["state"] = coupon_state(row)
    return row


async def coupon(member_id: int, coupon_id: int) -> dict:
    rows = await raw(_COUPON, coupon_id, member_id)
    if not rows:
        raise NotFound()
    return _coupon(rows[0])


async def redemption(member_id: int, redemption_id: int) -> dict:
    """A redemption of this member's, with its reward and the coupon it issued (if any)."""
    rows = await raw(
        "SELECT r.id, r.points, r.created_at, w.name, w.description, c.id AS coupon_id "
        "FROM redemption r JOIN reward w ON w.id = r.reward "
        "LEFT JOIN coupon c ON c.redemption = r.id WHERE r.id = {} AND r.member = {}",
        redemption_id, member_id)
    if not rows:
        raise NotFound()
    row = rows[0]
    row["created_at"] = as_datetime(row["created_at"])
    return row


async def redemption_for_entry(member_id: int, entry_id: int) -> int:
    """The redemption a ledger entry of this member's paid for (after ledger.redeem)."""
    rows = await raw("SELECT id FROM redemption WHERE entry = {} AND member = {}", entry_id, member_id)
    if not rows:
        raise NotFound()
    return rows[0]["id"]


async def reward(reward_id: int) -> dict:
    """A reward in the catalogue that is active and in its window now (any member may look)."""
    stamp = now()
    rows = await raw(
        "SELECT r.id, r.name, r.description, r.points_cost, r.stock, r.valid_until, "
        "t.name AS coupon_name FROM reward r LEFT JOIN coupon_type t ON t.id = r.coupon_type "
        "WHERE r.id = {} AND r.active = {} AND (r.valid_from IS NULL OR r.valid_from <= {}) "
        "AND (r.valid_until IS NULL OR r.valid_until > {})", reward_id, True, stamp, stamp)
    if not rows:
        raise NotFound()
    row = rows[0]
    row["valid_until"] = as_datetime(row["valid_until"])
    row["in_stock"] = row["stock"] is None or row["stock"] > 0
    return row
