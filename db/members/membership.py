"""Membership: joining, consent to marketing, tiers and where a member stands.

Tier rules (enforced here only): a member qualifies for the highest tier any of whose set
thresholds (paid spend or points earned over the last 12 months) they meet. Upgrades happen
at once, in the transaction of the order that crossed the threshold; downgrades only on the
shop's evaluation date (db/members/nightly.py), after a grace notice. Every change writes a
TierChange with its reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from db.audit.log import record
from db.clock import SHOP_TZ, now
from db.engine import as_date, as_datetime, engine, is_unique_violation, raw, reading, writing
from db.errors import NotFound, ValidationFailed
from db.customers import consent
from db.members import config, ledger, notify
from db.customers.tables import CONSENT_CHANNELS
from db.members.tables import CONSENT_SOURCES, JOIN_SOURCES

YEAR = dt.timedelta(days=365)


def member_no_for(member_id: int) -> str:
    """Eight digits and a Luhn check digit, so a mistyped number is caught at the till. From
    the member's own id: a customer id can come back on SQLite after a merge deletes the
    highest one, a member id is never reused while its row lives."""
    digits = f"{10_000_000 + member_id}"
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return digits + str((10 - total % 10) % 10)


def _member_row(row: dict) -> dict:
    row = dict(row)
    for key in ("joined_at", "tier_since", "updated_at"):
        if key in row:
            row[key] = as_datetime(row[key])
    if "expiry_notice_on" in row:
        row["expiry_notice_on"] = as_date(row["expiry_notice_on"])
    return row


MEMBER_SELECT = "SELECT m.* FROM member m"


async def get(member_id: int) -> dict:
    rows = await raw(f"{MEMBER_SELECT} WHERE m.id = {{}}", member_id)
    if not rows:
        raise NotFound()
    return _member_row(rows[0])


async def member_for_customer(customer_id: int) -> dict | None:
    rows = await raw(f"{MEMBER_SELECT} WHERE m.customer = {{}}", customer_id)
    return _member_row(rows[0]) if rows else None


async def member_by_no(member_no: str) -> dict | None:
    rows = await raw(f"{MEMBER_SELECT} WHERE m.member_no = {{}}", (member_no or "").strip())
    return _member_row(rows[0]) if rows else None


async def tiers() -> list[dict]:
    return await raw("SELECT * FROM tier ORDER BY position")


# ---------------------------------------------------------------- joining and consent


class Joined(dict):
    """What `join` gives back: the member row (a dict, as `get` returns it) and `created`, true
    only for the call that made the member (of two joins at once, exactly one)."""

    def __init__(self, member: dict, created: bool):
        super().__init__(member)
        self.created = created


async def join(customer_id: int, source: str, actor, consents: dict[str, bool] | None = None) -> Joined:
    """Make a customer a member (or return the member they already are, with created false).
    The sign-up bonus is one ledger entry with key signup:{member}, so it is given once
    whatever happens. Two joins at once (a double tap, an API retry) give one member: the
    loser finds the winner's and is told it did not create it."""
    outer = engine().current_transaction.get() is not None
    for attempt in range(2):
        try:
            return await _join(customer_id, source, actor, consents)
        except Exception as exc:
            # Inside someone else's transaction the error is theirs to retry (PostgreSQL has
            # aborted it); on our own we look again and find the member.
            if outer or attempt or not is_unique_violation(exc):
                raise
    raise AssertionError("unreachable")


async def _join(customer_id: int, source: str, actor, consents: dict[str, bool] | None) -> Joined:
    if source not in JOIN_SOURCES:
        raise ValueError(source)
    cfg = await config.load()
    async with writing():
        existing = await member_for_customer(customer_id)
        if existing:
            return Joined(existing, created=False)
        if not await raw("SELECT id FROM customer WHERE id = {}", customer_id):
            raise NotFound()
        base = (await tiers())[0]
        stamp = now()
        rows = await raw(
            "INSERT INTO member (customer, member_no, joined_at, source, tier, tier_since, "
            "points_balance, shortfall, downgrade_to, expiry_notice_on, updated_at) "
            "VALUES ({}, {}, {}, {}, {}, {}, 0, 0, NULL, NULL, {}) RETURNING id",
            customer_id, f"c{customer_id}", stamp, source, base["id"], stamp, stamp)
        member_id = rows[0]["id"]
        await raw("UPDATE member SET member_no = {} WHERE id = {}", member_no_for(member_id), member_id)
        await record_tier_change(member_id, None, base["id"], "joined", actor.label, stamp)
        for channel, granted in (consents or {}).items():
            await set_consent(member_id, channel, granted, "signup" if source == "signup" else
                              "staff" if source == "staff" else "api", actor.label)
        await record("member.join", actor_id=actor.id, actor=actor.label, target_type="customer",
                     target_id=customer_id, ip=actor.ip, detail={"source": source})
        if cfg.signup_bonus:
            await ledger.post(member_id, cfg.signup_bonus, kind="earn", reason="sign-up bonus",
                              source_type="rule", key=f"signup:{member_id}", actor=actor.label)
        await upgrade_if_qualified(member_id, "joined", actor.label)
        member = await get(member_id)
    notify.wake()
    return Joined(member, created=True)


async def set_consent(member_id: int, channel: str, granted: bool, source: str, actor_label: str) -> None:
    """Record a change of consent (only a change: the same answer again writes nothing), in
    the customers' consent log (db/customers/consent.py) for the member's customer."""
    if channel not in CONSENT_CHANNELS or source not in CONSENT_SOURCES:
        raise ValidationFailed({"channel": f"one of {', '.join(CONSENT_CHANNELS)}"})
    async with writing():
        customer_id = await _customer_of(member_id)
        if customer_id is None:
            raise NotFound()
        current = (await consent.current([customer_id])).get(customer_id, {})
        if channel in current and current[channel]["granted"] == bool(granted):
            return
        await consent.record(customer_id, channel, bool(granted), source, actor_label)


async def consents(member_id: int) -> dict[str, dict]:
    """The member's current consent per channel: {channel: {"granted", "source", "at"}}."""
    customer_id = await _customer_of(member_id)
    if customer_id is None:
        return {}
    return (await consent.current([customer_id])).get(customer_id, {})


async def _customer_of(member_id: int) -> int | None:
    rows = await raw("SELECT customer FROM member WHERE id = {}", member_id)
    return rows[0]["customer"] if rows else None


# ---------------------------------------------------------------- tiers


async def record_tier_change(member_id, from_tier, to_tier, reason, actor_label, stamp) -> None:
    await raw("INSERT INTO tier_change (member, from_tier, to_tier, reason, actor, at) "
              "VALUES ({}, {}, {}, {}, {}, {})",
              member_id, from_tier, to_tier, reason[:200], actor_label[:80], stamp)


# A member's paid spend and points earned (net of reversals) over the last 12 months, as two
# columns of a query over `member m`; both placeholders take the same "since" time.
STANDING_COLUMNS = (
    "(SELECT COALESCE(SUM(o.total_fen), 0) FROM \"order\" o WHERE o.customer = m.customer "
    " AND o.status = 'paid' AND o.placed_at >= {}) AS spend_12m, "
    "(SELECT COALESCE(SUM(e.delta), 0) FROM points_entry e WHERE e.member = m.id "
    " AND e.kind IN ('earn', 'reverse') AND e.created_at >= {}) AS points_12m"
)


async def standing(member_id: int) -> tuple[dict, int, int]:
    """The member row, paid spend and points earned over the last 12 months."""
    since = now() - YEAR
    rows = await raw(f"SELECT m.*, {STANDING_COLUMNS} FROM member m WHERE m.id = {{}}",
                     since, since, member_id)
    if not rows:
        raise NotFound()
    row = _member_row(rows[0])
    return row, int(row.pop("spend_12m")), int(row.pop("points_12m"))


def qualified_tier(all_tiers: list[dict], spend_fen: int, points: int) -> dict:
    for tier in reversed(all_tiers):
        if tier["min_spend_fen"] is not None and spend_fen >= tier["min_spend_fen"]:
            return tier
        if tier["min_points"] is not None and points >= tier["min_points"]:
            return tier
    return all_tiers[0]


async def upgrade_if_qualified(member_id: int, reason: str, actor_label: str = "") -> dict | None:
    """Move the member up at once if they now qualify for a higher tier (and lift a pending
    downgrade notice if they qualify for their own again). Returns the new tier if any."""
    all_tiers = await tiers()
    member, spend, points = await standing(member_id)
    by_id = {t["id"]: t for t in all_tiers}
    current = by_id[member["tier"]]
    target = qualified_tier(all_tiers, spend, points)
    stamp = now()
    if target["position"] >= current["position"] and member["downgrade_to"] is not None:
        await raw("UPDATE member SET downgrade_to = NULL WHERE id = {}", member_id)
    if target["position"] <= current["position"]:
        return None
    moved = await raw("UPDATE member SET tier = {}, tier_since = {}, downgrade_to = NULL, updated_at = {} "
                      "WHERE id = {} AND tier = {} RETURNING id",
                      target["id"], stamp, stamp, member_id, current["id"])
    if not moved:  # someone else moved it in the meantime
        return None
    await record_tier_change(member_id, current["id"], target["id"], reason, actor_label, stamp)
    await notify.tier_upgraded(member_id, target["name"])
    return target


# ---------------------------------------------------------------- where a member stands


@dataclass
class MemberSummary:
    member_id: int
    customer_id: int
    member_no: str
    joined_at: dt.datetime
    tier: dict
    next_tier: dict | None
    progress_pct: int
    needs_spend_fen: int | None
    needs_points: int | None
    balance: int
    shortfall: int
    expiring: list[tuple[dt.date, int]]
    spend_12m_fen: int
    points_12m: int
    downgrade_to: dict | None
    evaluation_on: dt.date


def _progress(next_tier: dict | None, spend: int, points: int) -> tuple[int, int | None, int | None]:
    if next_tier is None:
        return 100, None, None
    parts, needs_spend, needs_points = [], None, None
    if next_tier["min_spend_fen"] is not None:
        needs_spend = max(0, next_tier["min_spend_fen"] - spend)
        parts.append(spend * 100 // max(1, next_tier["min_spend_fen"]))
    if next_tier["min_points"] is not None:
        needs_points = max(0, next_tier["min_points"] - points)
        parts.append(points * 100 // max(1, next_tier["min_points"]))
    return min(100, max(parts, default=0)), needs_spend, needs_points


async def summary(member_id: int) -> MemberSummary:
    cfg = await config.load()
    async with reading():
        all_tiers = await tiers()
        member, spend, points = await standing(member_id)
        expiring = await ledger.expiring(member_id)
    by_id = {t["id"]: t for t in all_tiers}
    tier = by_id[member["tier"]]
    higher = [t for t in all_tiers if t["position"] > tier["position"]]
    next_tier = higher[0] if higher else None
    pct, needs_spend, needs_points = _progress(next_tier, spend, points)
    return MemberSummary(
        member_id=member["id"], customer_id=member["customer"], member_no=member["member_no"],
        joined_at=member["joined_at"], tier=tier, next_tier=next_tier, progress_pct=pct,
        needs_spend_fen=needs_spend, needs_points=needs_points, balance=member["points_balance"],
        shortfall=member["shortfall"], expiring=expiring, spend_12m_fen=spend, points_12m=points,
        downgrade_to=by_id.get(member["downgrade_to"]),
        evaluation_on=cfg.next_evaluation(now().astimezone(SHOP_TZ).date()),
    )


# ---------------------------------------------------------------- the staff's Members tab


async def overview(scope, limit: int = 20) -> dict:
    """For the Members tab, within the person's scope: members per tier, points outstanding,
    members whose refunds left a shortfall, and the latest redemptions."""
    where, args = scope.clause("c")
    async with reading():
        per_tier = await raw(
            "SELECT t.id, t.name, t.color, t.position, COUNT(m.id) AS members, "
            "COALESCE(SUM(m.points_balance), 0) AS points FROM tier t "
            f"LEFT JOIN (member m JOIN customer c ON c.id = m.customer AND {where}) ON m.tier = t.id "
            "GROUP BY t.id, t.name, t.color, t.position ORDER BY t.position", *args)
        shortfalls = await raw(
            "SELECT c.id AS customer_id, c.name, m.member_no, m.shortfall, m.points_balance "
            f"FROM member m JOIN customer c ON c.id = m.customer WHERE m.shortfall > 0 AND {where} "
            f"ORDER BY m.shortfall DESC, m.id LIMIT {int(limit)}", *args)
        redemptions = await raw(
            "SELECT r.id, r.points, r.created_at, w.name AS reward, c.id AS customer_id, c.name "
            "FROM redemption r JOIN reward w ON w.id = r.reward JOIN member m ON m.id = r.member "
            f"JOIN customer c ON c.id = m.customer WHERE {where} "
            f"ORDER BY r.created_at DESC, r.id DESC LIMIT {int(limit)}", *args)
    for row in redemptions:
        row["created_at"] = as_datetime(row["created_at"])
    return {"tiers": per_tier, "members": sum(t["members"] for t in per_tier),
            "points": sum(int(t["points"]) for t in per_tier), "shortfalls": shortfalls,
            "redemptions": redemptions}
