"""The points ledger (积分流水): the one place that changes a member's points.

Rules that always hold, each enforced here and nowhere else:
- A member's `points_balance` equals the sum of their entries: every entry is written in the
  transaction that changes the balance, and entries are never changed or deleted.
- No balance goes negative: a debit is a conditional UPDATE (`… WHERE points_balance >= n`);
  the database refuses a negative balance as a backstop (migration 2026-12-02T01:10).
- Every entry has a unique idempotency key: replaying a key returns the first entry and
  writes nothing. A key used for a different member or amount is refused (Conflict).
- Credits open a lot; debits use up lots oldest-expiry first; expiry takes each lot's
  remainder once (a conditional UPDATE on `remaining > 0`).

Operations are written as generators of SQL steps (`Steps`), which db/members/steps.py runs
in one write transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from db.clock import SHOP_TZ, now
from db.engine import as_date, as_datetime, raw
from db.errors import Conflict, Forbidden, NotFound, ValidationFailed
from db.members import config
from db.members.coupons import issue_steps
from db.members.steps import Steps, dialect, optimistic, run_steps

MAX_DELTA = 100_000_000  # one entry moves at most this many points
MAX_KEY = 120
MAX_REASON = 200



class InsufficientPoints(Conflict):
    def __init__(self, balance: int, wanted: int):
        super().__init__("not enough points")
        self.balance, self.wanted = balance, wanted


class KeyReused(Conflict):
    def __init__(self):
        super().__init__("this idempotency key was already used for a different request")


class NotAMember(Conflict):
    def __init__(self):
        super().__init__("this customer is not a member: POST …/membership first")


class OutOfStock(Conflict):
    def __init__(self):
        super().__init__("this reward is out of stock")


@dataclass
class PostResult:
    entry: dict
    balance: int
    replayed: bool


@dataclass
class RedeemResult:
    entry: dict
    balance: int
    coupon: dict | None
    replayed: bool


# ---------------------------------------------------------------- the steps


def _entry_row(row: dict) -> dict:
    row = dict(row)
    row["created_at"] = as_datetime(row["created_at"])
    return row


def _replay(key: str, member_id: int, delta: int | None) -> Steps:
    rows = yield (
        "SELECT e.*, m.points_balance AS balance_now FROM points_entry e "
        "JOIN member m ON m.id = e.member WHERE e.idempotency_key = {}", (key,))
    if not rows:
        return None
    row = rows[0]
    if row["member"] != member_id or (delta is not None and row["delta"] != delta):
        raise KeyReused()
    balance = row.pop("balance_now")
    return PostResult(_entry_row(row), balance, True)


def _insert_entry(member_id, delta, balance_after, kind, reason, source_type, source_id, key,
                  actor, stamp, shortfall=0) -> Steps:
    rows = yield (
        "INSERT INTO points_entry (member, kind, delta, balance_after, reason, source_type, "
        "source_id, idempotency_key, shortfall, actor, created_at) "
        "VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}) RETURNING *",
        (member_id, kind, delta, balance_after, reason[:MAX_REASON], source_type, source_id, key,
         shortfall, actor[:80], stamp))
    return _entry_row(rows[0])


def _take_from_lots(member_id: int, amount: int) -> Steps:
    """Use up `amount` points from the member's open lots, oldest expiry first (never-expiring
    lots last), in one statement."""
    yield (
        "WITH open_lot AS (SELECT id, remaining, SUM(remaining) OVER "
        "(ORDER BY expires_on IS NULL, expires_on, id) AS upto "
        "FROM points_lot WHERE member = {} AND remaining > 0) "
        "UPDATE points_lot SET remaining = CASE WHEN o.upto <= {} THEN 0 ELSE o.upto - {} END "
        "FROM open_lot o WHERE points_lot.id = o.id AND o.upto - o.remaining < {}",
        (member_id, amount, amount, amount))


def _credit(member_id, delta, kind, reason, source_type, source_id, key, actor, stamp,
            expires_on, check_first: bool) -> Steps:
    if check_first:
        replay = yield from _replay(key, member_id, delta)
        if replay:
            return replay
    rows = yield (
        "UPDATE member SET points_balance = points_balance + {}, updated_at = {} "
        "WHERE id = {} RETURNING points_balance", (delta, stamp, member_id))
    if not rows:
        raise NotFound()
    balance = rows[0]["points_balance"]
    entry = yield from _insert_entry(member_id, delta, balance, kind, reason, source_type,
                                     source_id, key, actor, stamp)
    yield ("INSERT INTO points_lot (member, entry, amount, remaining, expires_on, created_at) "
           "VALUES ({}, {}, {}, {}, {}, {})", (member_id, entry["id"], delta, delta, expires_on, stamp))
    return PostResult(entry, balance, False)


def _debit(member_id, amount, kind, reason, source_type, source_id, key, actor, stamp,
           check_first: bool) -> Steps:
    if check_first:
        replay = yield from _replay(key, member_id, -amount)
        if replay:
            return replay
    rows = yield (
        "UPDATE member SET points_balance = points_balance - {}, updated_at = {} "
        "WHERE id = {} AND points_balance >= {} RETURNING points_balance",
        (amount, stamp, member_id, amount))
    if not rows:
        if not check_first:  # a replay of a debit that the balance no longer covers
            replay = yield from _replay(key, member_id, -amount)
            if replay:
                return replay
        found = yield ("SELECT points_balance FROM member WHERE id = {}", (member_id,))
        if not found:
            raise NotFound()
        raise InsufficientPoints(found[0]["points_balance"], amount)
    balance = rows[0]["points_balance"]
    entry = yield from _insert_entry(member_id, -amount, balance, kind, reason, source_type,
                                     source_id, key, actor, stamp)
    yield from _take_from_lots(member_id, amount)
    return PostResult(entry, balance, False)


def post_steps(member_id: int, delta: int, *, kind: str, reason: str, source_type: str,
               source_id: int | None, key: str, actor: str, stamp: dt.datetime,
               expires_on: dt.date | None) -> Steps:
    check_first = not optimistic.get()
    if delta > 0:
        return (yield from _credit(member_id, delta, kind, reason, source_type, source_id, key,
                                   actor, stamp, expires_on, check_first))
    return (yield from _debit(member_id, -delta, kind, reason, source_type, source_id, key,
                              actor, stamp, check_first))


def reverse_steps(member_id: int, amount: int, *, reason: str, source_type: str,
                  source_id: int | None, key: str, actor: str, stamp: dt.datetime) -> Steps:
    """Take back up to `amount` points; what the balance cannot cover is the shortfall,
    recorded on the entry and on the member for staff to see."""
    replay = yield from _replay(key, member_id, None)
    if replay:
        return replay
    lock = " FOR UPDATE" if dialect() == "postgres" else ""
    rows = yield (f"SELECT points_balance FROM member WHERE id = {{}}{lock}", (member_id,))
    if not rows:
        raise NotFound()
    take = min(amount, rows[0]["points_balance"])
    shortfall = amount - take
    rows = yield (
        "UPDATE member SET points_balance = points_balance - {}, shortfall = shortfall + {}, "
        "updated_at = {} WHERE id = {} RETURNING points_balance",
        (take, shortfall, stamp, member_id))
    balance = rows[0]["points_balance"]
    entry = yield from _insert_entry(member_id, -take, balance, "reverse", reason, source_type,
                                     source_id, key, actor, stamp, shortfall=shortfall)
    if take:
        yield from _take_from_lots(member_id, take)
    return PostResult(entry, balance, False)


# ---------------------------------------------------------------- operations


def check_delta(value: Any, field: str = "delta", errors: dict | None = None) -> int:
    """A points delta: a non-zero whole number (JSON integers only: not 1.5, 1e3, text)."""
    problem = None
    if isinstance(value, bool) or not isinstance(value, int):
        problem = "a whole number of points, like 100 or -100"
    elif value == 0:
        problem = "may not be 0"
    elif not -MAX_DELTA <= value <= MAX_DELTA:
        problem = "at most 100,000,000 points either way"
    if problem:
        if errors is None:
            raise ValidationFailed({field: problem})
        errors[field] = problem
        return 0
    return value


def check_key(value: Any, field: str = "idempotency_key", errors: dict | None = None) -> str:
    problem = None
    if not isinstance(value, str) or not value.strip():
        problem = "required: a unique text per operation, so a retry is not counted twice"
    elif len(value) > MAX_KEY - 4:
        problem = "at most 116 characters"
    if problem:
        if errors is None:
            raise ValidationFailed({field: problem})
        errors[field] = problem
        return ""
    return value.strip()


def check_reason(value: Any, field: str = "reason", errors: dict | None = None) -> str:
    text = value.strip() if isinstance(value, str) else ""
    problem = None
    if not text:
        problem = "required: say why the points change"
    elif len(text) > MAX_REASON:
        problem = "at most 200 characters"
    if problem:
        if errors is None:
            raise ValidationFailed({field: problem})
        errors[field] = problem
    return text


async def _expires_on(stamp: dt.datetime) -> dt.date | None:
    return (await config.load()).expires_on(stamp.astimezone(SHOP_TZ).date())


async def post(member_id: int, delta: int, *, kind: str, reason: str, source_type: str,
               source_id: int | None = None, key: str, actor: str = "") -> PostResult:
    """Write one entry and move the balance with it (raises InsufficientPoints, NotFound,
    KeyReused; a replayed key returns the first entry)."""
    check_delta(delta)
    stamp = now()
    expires_on = await _expires_on(stamp) if delta > 0 else None
    return await run_steps(lambda: post_steps(
        member_id, delta, kind=kind, reason=reason, source_type=source_type, source_id=source_id,
        key=key, actor=actor, stamp=stamp, expires_on=expires_on))


def member_of_customer_steps(scope, customer_id: int) -> Steps:
    """The member id of a customer the scope allows (NotFound otherwise; NotAMember)."""
    rows = yield ("SELECT c.owner, c.team, m.id AS member FROM customer c "
                  "LEFT JOIN member m ON m.customer = c.id WHERE c.id = {}", (customer_id,))
    if not rows or not scope.allows(rows[0]["owner"], rows[0]["team"]):
        raise NotFound()
    if rows[0]["member"] is None:
        raise NotAMember()
    return rows[0]["member"]


async def adjust(member_id: int, delta: Any, reason: Any, key: Any, actor, role: str,
                 source_type: str = "staff") -> PostResult:
    """A staff or API adjustment: a reason is required, and beyond the shop's threshold a
    staff member needs a manager. A staff adjustment is audited in the same transaction."""

    def member() -> Steps:
        return member_id
        yield  # a generator that asks nothing

    return await _adjust(member, delta, reason, key, actor, role, source_type)


async def adjust_customer(scope, customer_id: int, delta: Any, reason: Any, key: Any, actor,
                          role: str, source_type: str = "api") -> tuple[int, PostResult]:
    """The same for a customer id (the API's path): the member is looked up in the ledger's
    own transaction, so a request costs one round of statements. Returns (member id, result)."""
    found: list[int] = []

    def member() -> Steps:
        member_id = yield from member_of_customer_steps(scope, customer_id)
        found.append(member_id)
        return member_id

    result = await _adjust(member, delta, reason, key, actor, role, source_type)
    return found[-1], result


async def _adjust(member_steps, delta, reason, key, actor, role, source_type) -> PostResult:
    import json

    errors: dict[str, str] = {}
    delta = check_delta(delta, errors=errors)
    reason = check_reason(reason, errors=errors)
    key = check_key(key, errors=errors)
    if errors:
        raise ValidationFailed(errors)
    cfg = await config.load()
    if role == "staff" and abs(delta) > cfg.manager_above:
        raise Forbidden("an adjustment this large needs a manager")
    kind = "adjust" if source_type == "staff" or delta > 0 else "redeem"
    stamp = now()
    expires_on = await _expires_on(stamp) if delta > 0 else None

    def steps() -> Steps:
        member_id = yield from member_steps()
        result = yield from post_steps(
            member_id, delta, kind=kind, reason=reason, source_type=source_type,
            source_id=actor.id, key=f"{source_type}:{key}", actor=actor.label, stamp=stamp,
            expires_on=expires_on)
        if not result.replayed and source_type == "staff":  # an API entry is its own record
            detail = json.dumps({"delta": delta, "entry": result.entry["id"]})
            yield ("INSERT INTO audit_entry (at, actor_id, actor, action, target_type, target_id, ip, detail) "
                   "VALUES ({}, {}, {}, 'points.adjust', 'member', {}, {}, {})",
                   (stamp, actor.id, actor.label[:80], member_id, (actor.ip or "")[:64], detail))
        return result

    return await run_steps(steps)


async def history(member_id: int, before: int | None = None, limit: int = 20) -> tuple[list[dict], int | None]:
    """Entries newest first; `before` is the cursor (an entry id) the last page returned."""
    where, args = "member = {}", [member_id]
    if before is not None and not 0 < before < 2**31:  # not one of ours: the first page
        before = None
    if before is not None:
        where += " AND id < {}"
        args.append(before)
    rows = await raw(
        f"SELECT id, kind, delta, balance_after, reason, source_type, source_id, shortfall, actor, "
        f"created_at FROM points_entry WHERE {where} ORDER BY id DESC LIMIT {int(limit) + 1}", *args)
    rows = [_entry_row(r) for r in rows]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1]["id"] if more else None)


async def expiring(member_id: int, within_days: int = 90) -> list[tuple[dt.date, int]]:
    """Points that expire in the coming days, summed by date."""
    today = now().astimezone(SHOP_TZ).date()
    rows = await raw(
        "SELECT expires_on, SUM(remaining) AS points FROM points_lot WHERE member = {} "
        "AND remaining > 0 AND expires_on IS NOT NULL AND expires_on <= {} "
        "GROUP BY expires_on ORDER BY expires_on", member_id, today + dt.timedelta(days=within_days))
    return [(as_date(r["expires_on"]), int(r["points"])) for r in rows]


def entry_json(entry: dict) -> dict:
    return {
        "id": entry["id"], "kind": entry["kind"], "delta": entry["delta"],
        "balance_after": entry["balance_after"], "reason": entry["reason"],
        "source_type": entry["source_type"], "source_id": entry.get("source_id"),
        "shortfall": entry.get("shortfall", 0),
        "created_at": entry["created_at"].isoformat() if entry.get("created_at") else None,
    }


# ---------------------------------------------------------------- redeeming a reward


def redeem_steps(member_id: int, reward_id: int, key: str, actor: str, stamp: dt.datetime) -> Steps:
    replay = yield from _replay(key, member_id, None)
    if replay:
        coupon = yield ("SELECT c.* FROM coupon c JOIN redemption r ON r.id = c.redemption "
                        "WHERE r.entry = {}", (replay.entry["id"],))
        return RedeemResult(replay.entry, replay.balance, coupon[0] if coupon else None, True)
    rows = yield (
        "SELECT id, name, points_cost, stock, coupon_type FROM reward WHERE id = {} AND active = {} "
        "AND (valid_from IS NULL OR valid_from <= {}) AND (valid_until IS NULL OR valid_until > {})",
        (reward_id, True, stamp, stamp))
    if not rows:
        raise NotFound()
    reward = rows[0]
    if reward["stock"] is not None:
        taken = yield ("UPDATE reward SET stock = stock - 1 WHERE id = {} AND stock > 0 RETURNING stock",
                       (reward_id,))
        if not taken:
            raise OutOfStock()
    posted = yield from _debit(member_id, reward["points_cost"], "redeem", reward["name"], "reward",
                               reward_id, key, actor, stamp, check_first=False)
    rows = yield ("INSERT INTO redemption (member, reward, points, entry, created_at) "
                  "VALUES ({}, {}, {}, {}, {}) RETURNING id",
                  (member_id, reward_id, reward["points_cost"], posted.entry["id"], stamp))
    coupon = None
    if reward["coupon_type"] is not None:
        coupon = yield from issue_steps(member_id, reward["coupon_type"], source="reward",
                                        actor=actor, stamp=stamp, redemption_id=rows[0]["id"])
    return RedeemResult(posted.entry, posted.balance, coupon, False)


async def redeem(member_id: int, reward_id: int, key: str, actor_label: str = "") -> RedeemResult:
    """Points and stock in one transaction: out of stock (OutOfStock) or too few points
    (InsufficientPoints) takes nothing; a replayed key returns the first redemption."""
    key = check_key(key)
    stamp = now()
    return await run_steps(lambda: redeem_steps(member_id, reward_id, f"redeem:{key}", actor_label, stamp))
