"""The demo members' two years of history, simulated in Python in time order exactly as the
ledger would have written it (db/members/demo.py says which rules hold by construction)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from db.members import config as points_config
from db.members.coupons import ALPHABET, CODE_LENGTH
from db.members.earning import order_points
from db.members.membership import member_no_for, qualified_tier

DAY = 86_400
CN_OFFSET = 8 * 3600
MEMBER_SHARE = 0.4
TASKS = (("每日签到", 5, 70), ("评价晒单", 20, 20), ("分享好友", 10, 10))
ADJUSTMENTS = (
    (50, "补偿：物流延误"), (100, "补偿：商品瑕疵"), (200, "门店活动奖励"), (30, "补录线下消费积分"),
    (-20, "更正：重复补录"), (-50, "更正：误操作"),
)

ENTRY_COLUMNS = ("id", "member", "kind", "delta", "balance_after", "reason", "source_type",
                 "source_id", "idempotency_key", "shortfall", "actor", "created_at")
LOT_COLUMNS = ("id", "member", "entry", "amount", "remaining", "expires_on", "created_at")
MEMBER_COLUMNS = ("id", "customer", "member_no", "joined_at", "source", "tier", "tier_since",
                  "points_balance", "shortfall", "downgrade_to", "expiry_notice_on", "updated_at")
TIER_CHANGE_COLUMNS = ("id", "member", "from_tier", "to_tier", "reason", "actor", "at")
REDEMPTION_COLUMNS = ("id", "member", "reward", "points", "entry", "created_at")
COUPON_COLUMNS = ("id", "code", "coupon_type", "member", "redemption", "source", "issued_by",
                  "valid_from", "valid_until", "used_at", "used_order", "issued_at")
TABLES = (
    ("member", MEMBER_COLUMNS),
    ("tier_change", TIER_CHANGE_COLUMNS),
    ("points_entry", ENTRY_COLUMNS),
    ("points_lot", LOT_COLUMNS),
    ("redemption", REDEMPTION_COLUMNS),
    ("coupon", COUPON_COLUMNS),
)


def _local_date(t: int) -> date:
    return datetime.fromtimestamp(t + CN_OFFSET, UTC).date()


def epoch_seconds(value) -> int:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


class _Lots:
    """A member's open lots in (expiry, id) order: credits come in time order, and the expiry
    date only grows with the earning date, so appending keeps the order; never-expiring lots
    (expiry "never") go into their own list, used last."""

    __slots__ = ("dated", "first", "undated", "first_undated")

    def __init__(self):
        self.dated: list[list] = []  # [lot id, entry id, amount, remaining, expires_on, created]
        self.first = 0
        self.undated: list[list] = []
        self.first_undated = 0

    def add(self, lot: list) -> None:
        (self.undated if lot[4] is None else self.dated).append(lot)

    def take(self, amount: int) -> None:
        for lots, attr in ((self.dated, "first"), (self.undated, "first_undated")):
            i = getattr(self, attr)
            while amount and i < len(lots):
                lot = lots[i]
                used = min(lot[3], amount)
                lot[3] -= used
                amount -= used
                if lot[3] == 0:
                    i += 1
            setattr(self, attr, i)
            if not amount:
                return
        assert amount == 0, "took more than the lots hold"

    def due(self, today: date) -> list[list]:
        """Lots whose date is before `today` with something left (and skip past them)."""
        out = []
        i = self.first
        while i < len(self.dated) and self.dated[i][4] < today:
            if self.dated[i][3] > 0:
                out.append(self.dated[i])
            i += 1
        return out

    def skip_used(self) -> None:
        while self.first < len(self.dated) and self.dated[self.first][3] == 0:
            self.first += 1

    def all(self) -> list[list]:
        return self.dated + self.undated


class MemberHistory:
    """Members and their points, a chunk of customers at a time. Deterministic for (seed,
    now, the ids it is given, the customers and orders it is shown)."""

    def __init__(self, *, seed: int, now_ts: int, cfg: points_config.PointsConfig, tiers: list[dict],
                 staff: list[tuple[int, str]], rewards: list[dict], coupon_types: dict[str, dict],
                 next_ids: dict[str, int], ts: Callable[[int], Any], day: Callable[[date], Any],
                 entries_per_member: float | None):
        self.rng = random.Random(seed * 104_729 + 31)
        self.now = now_ts
        self.cfg = cfg
        self.tiers = tiers
        self.base_tier = tiers[0]
        self.staff = staff
        self.rewards = rewards  # each with "left" (stock left, None = unlimited)
        self.coupon_types = coupon_types
        self.ids = dict(next_ids)
        self.ts, self.day = ts, day
        self.entries_per_member = entries_per_member
        self.codes: set[str] = set()
        self.expired_lots = 0
        self.task_names = [t for t in TASKS for _ in range(t[2])]
        self.cheapest = min(r["points_cost"] for r in rewards) if rewards else None
        # 1 January (03:00 shop time, the nightly job) of each year in the history
        first_year = _local_date(now_ts - 800 * DAY).year
        self.expiry_runs = []
        for year in range(first_year, _local_date(now_ts).year + 1):
            run = int(datetime(year, 1, 1, 3, tzinfo=UTC).timestamp()) - CN_OFFSET
            if run <= now_ts:
                self.expiry_runs.append((run, date(year, 1, 1)))

    def _id(self, table: str) -> int:
        value = self.ids[table]
        self.ids[table] = value + 1
        return value

    def _code(self) -> str:
        r = self.rng.random
        while True:
            code = "".join(ALPHABET[int(r() * len(ALPHABET))] for _ in range(CODE_LENGTH))
            if code not in self.codes:
                self.codes.add(code)
                return code

    def _tier_for(self, paid: list[tuple[int, int]], before: int) -> dict:
        """The tier 12 months of paid spend before `before` qualify for."""
        since = before - 365 * DAY
        spend = sum(fen for t, fen in paid if since <= t < before)
        return qualified_tier(self.tiers, spend, 0)

    def chunk(self, customers: list[tuple[int, int]], orders: dict[int, list[tuple]]) -> dict[str, list]:
        """customers: (id, created epoch); orders per customer: (id, channel, external_id,
        placed epoch, updated epoch, status, total_fen), by id."""
        rng, r = self.rng, self.rng.random
        now, ts, day = self.now, self.ts, self.day
        cfg = self.cfg
        out: dict[str, list] = {name: [] for name, _ in TABLES}
        members, tier_changes = out["member"], out["tier_change"]
        entries, lots_out = out["points_entry"], out["points_lot"]
        redemptions, coupons = out["redemption"], out["coupon"]

        for cid, created in customers:
            mine = orders.get(cid, ())
            share = MEMBER_SHARE * (0.5 if not mine else 1.0 if len(mine) < 3 else 1.3)
            if r() >= share:
                continue
            mid = self._id("member")
            tenure = max(now - created, 60)
            joined = created + (0 if r() < 0.5 else int(r() * r() * tenure))
            joined = min(joined, now - 30)
            actor = ""
            if r() < 0.3 and self.staff:
                source, (staff_id, actor) = "staff", self.staff[int(r() * len(self.staff))]
            else:
                source = "signup" if r() < 0.7 else "order"

            balance = 0
            shortfall = 0
            lot_book = _Lots()
            events: list[tuple] = []  # (time, order, kind, data)
            paid = [(o[3], o[6]) for o in mine if o[5] == "paid"]
            for o in mine:
                if o[3] < joined or o[5] == "cancelled":
                    continue
                events.append((o[3], 1, "earn", o))
                if o[5] == "refunded":
                    events.append((max(o[4], o[3] + 1), 2, "reverse", o))
            # task points and redemptions: either the shop's usual few, or enough for the target
            span = now - joined
            base = 1 + len(events)
            if self.entries_per_member is not None:
                target = int(self.entries_per_member * (0.5 + r()))
                n_tasks = max(0, int((target - base) * 0.97))
            else:
                n_tasks = int(rng.expovariate(1 / 6)) if r() < 0.8 else 0
            for _ in range(n_tasks):
                events.append((joined + 1 + int(r() * span), 3, "task", None))
            # about half the members never redeem (their points expire: 积分沉淀)
            n_redeem = 1 + (n_tasks + len(mine)) // 15 if r() < 0.5 else 0
            for _ in range(n_redeem):
                events.append((joined + 1 + int(r() * span), 4, "redeem", None))
            if r() < 0.08 and self.staff:
                events.append((joined + 1 + int(r() * span), 5, "adjust", None))
            for run, today in self.expiry_runs:
                if run > joined:
                    events.append((run, 0, "expire", today))
            events.sort(key=lambda e: (e[0], e[1]))

            def credit(t, delta, kind, reason, source_type, source_id, key, who=""):
                nonlocal balance
                balance += delta
                eid = self._id("points_entry")
                stamp = ts(t)
                entries.append((eid, mid, kind, delta, balance, reason, source_type, source_id, key,
                                0, who, stamp))
                expires = cfg.expires_on(_local_date(t))
                lot_book.add([self._id("points_lot"), eid, delta, delta, expires, stamp])
                return eid

            def debit(t, amount, kind, reason, source_type, source_id, key, who="", short=0):
                nonlocal balance
                balance -= amount
                eid = self._id("points_entry")
                entries.append((eid, mid, kind, -amount, balance, reason, source_type, source_id,
                                key, short, who, ts(t)))
                if amount:
                    lot_book.take(amount)
                return eid

            if cfg.signup_bonus:
                credit(joined, cfg.signup_bonus, "earn", "sign-up bonus", "rule", None,
                       f"signup:{mid}", actor)
            earned: dict[int, int] = {}
            for t, _order, kind, data in events:
                if kind == "earn":
                    o = data
                    tier = self._tier_for(paid, t)
                    points = order_points(o[6], cfg.points_per_yuan, tier["multiplier_pct"])
                    if points > 0:
                        credit(t, points, "earn", f"{o[1]} {o[2]}", "order", o[0], f"order:{o[0]}:earn")
                        earned[o[0]] = points
                elif kind == "reverse":
                    o = data
                    if o[0] in earned:
                        take = min(earned[o[0]], balance)
                        short = earned[o[0]] - take
                        shortfall += short
                        debit(t, take, "reverse", f"{o[1]} {o[2]}", "order", o[0],
                              f"order:{o[0]}:reverse", short=short)
                elif kind == "task":
                    name, points, _w = self.task_names[int(r() * len(self.task_names))]
                    eid = self.ids["points_entry"]
                    credit(t, points, "earn", name, "rule", None, f"demo:task:{eid}")
                elif kind == "redeem":
                    if self.cheapest is None or balance < self.cheapest or r() < 0.3:
                        continue
                    choices = [w for w in self.rewards if w["points_cost"] <= balance
                               and (w["left"] is None or w["left"] > 0)]
                    if not choices:
                        continue
                    reward = choices[int(r() * len(choices))]
                    if reward["left"] is not None:
                        reward["left"] -= 1
                    eid = self.ids["points_entry"]
                    eid = debit(t, reward["points_cost"], "redeem", reward["name"], "reward",
                                reward["id"], f"redeem:demo-{eid}")
                    rid = self._id("redemption")
                    redemptions.append((rid, mid, reward["id"], reward["points_cost"], eid, ts(t)))
                    if reward["coupon_type"] is not None:
                        coupons.append(self._coupon(mid, reward["coupon_type"], rid, "reward", "", t))
                elif kind == "adjust":
                    delta, reason = ADJUSTMENTS[int(r() * len(ADJUSTMENTS))]
                    staff_id, who = self.staff[int(r() * len(self.staff))]
                    eid = self.ids["points_entry"]
                    if delta > 0:
                        credit(t, delta, "adjust", reason, "staff", staff_id, f"staff:demo-{eid}", who)
                    elif balance >= -delta:
                        debit(t, -delta, "adjust", reason, "staff", staff_id, f"staff:demo-{eid}", who)
                elif kind == "expire":
                    for lot in lot_book.due(data):
                        amount, lot[3] = lot[3], 0
                        balance -= amount
                        entries.append((self._id("points_entry"), mid, "expire", -amount, balance,
                                        "expired", "rule", lot[0], f"expire:lot:{lot[0]}", 0,
                                        "expiry", ts(t)))
                        self.expired_lots += 1
                    lot_book.skip_used()

            if r() < 0.05:  # a birthday coupon from staff
                staff_id, who = self.staff[int(r() * len(self.staff))] if self.staff else (None, "")
                ctype = self.coupon_types.get("生日专享满99减15")
                if ctype:
                    coupons.append(self._coupon(mid, ctype["id"], None, "staff", who,
                                                joined + int(r() * (now - joined))))

            for lot in lot_book.all():
                lots_out.append((lot[0], mid, lot[1], lot[2], lot[3],
                                 day(lot[4]) if lot[4] else None, lot[5]))
            tier = self._tier_for(paid, now + 1)
            stamp_joined = ts(joined)
            members.append((mid, cid, member_no_for(mid), stamp_joined, source, tier["id"],
                            stamp_joined, balance, shortfall, None, None, ts(now)))
            tier_changes.append((self._id("tier_change"), mid, None, self.base_tier["id"], "joined",
                                 actor, stamp_joined))
            if tier["id"] != self.base_tier["id"]:
                first_paid = [t for t, _ in paid if t >= joined] or [joined]
                at = max(joined, min(max(first_paid), now))
                tier_changes.append((self._id("tier_change"), mid, self.base_tier["id"], tier["id"],
                                     "spend over the last 12 months", "", ts(at)))
        return out

    def _coupon(self, mid: int, type_id: int, redemption: int | None, source: str, who: str,
                t: int) -> tuple:
        kind = self.coupon_types_by_id[type_id]
        until = t + (kind["valid_days"] or 30) * DAY
        used_at, used_order = None, ""
        if self.rng.random() < 0.55 and min(until, self.now) > t + 600:
            used = t + 600 + int(self.rng.random() * (min(until, self.now) - t - 600))
            used_at, used_order = self.ts(used), f"T{used}{mid % 1000:03d}"
        return (self._id("coupon"), self._code(), type_id, mid, redemption, source, who,
                self.ts(t), self.ts(until), used_at, used_order, self.ts(t))

    @property
    def coupon_types_by_id(self) -> dict[int, dict]:
        cached = getattr(self, "_types_by_id", None)
        if cached is None:
            cached = self._types_by_id = {c["id"]: c for c in self.coupon_types.values()}
        return cached
