"""Demo members for `crm demo`: about 40 % of the customers are members with two years of
points history, a small reward catalogue and coupon types, redemptions and coupons.

Each member's history is simulated in Python in time order, exactly as the ledger would
have written it (db/members/ledger.py): a sign-up bonus when they joined, an earn entry for
each paid order placed after that (whole yuan x points per yuan x the multiplier of the tier
their spend over the 12 months before gave them), a reversal when the order was refunded
(taking what the balance still held, the rest a shortfall), small task points (签到, 评价晒单,
分享好友), some redemptions of rewards (points, stock and a coupon in one step), a few staff
adjustments, and on each 1 January the expiry of every lot whose date had passed. Every
credit opens a lot; debits use up lots oldest-expiry first. So the rules hold by
construction: balance = sum of the entries = sum of the lots' remainders, never negative,
each idempotency key once, stock never below zero. Tiers follow paid spend over the last
12 months (db/members/membership.qualified_tier).

The rows are written in bulk, like the customers and orders (db/demo.py): `executemany` on a
plain sqlite3 connection, `COPY` on PostgreSQL, with ids we assign ourselves; never one
ledger call per entry. `points_entries` asks for about that many entries in all (the
benchmarks use 20,000,000): members then get more task points to reach it.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from db.engine import BUSY_TIMEOUT_S, engine, postgres_timestamp, raw, sqlite_timestamp, writing
from db.members import config as points_config
from db.members.coupons import ALPHABET, CODE_LENGTH
from db.members.earning import order_points
from db.members.membership import member_no_for, qualified_tier

DAY = 86_400
CN_OFFSET = 8 * 3600
MEMBER_SHARE = 0.4
CHUNK_CUSTOMERS = 5_000
STEP_MEMBERS = "Members"

# (name, kind, amount off in fen, percent off, minimum spend in fen, valid days)
COUPON_TYPES = (
    ("5元无门槛券", "amount", 500, 0, 0, 30),
    ("满100减10", "amount", 1_000, 0, 10_000, 30),
    ("满200减20", "amount", 2_000, 0, 20_000, 30),
    ("会员9折券", "percent", 0, 10, 5_000, 14),
    ("8元运费券", "amount", 800, 0, 0, 60),
    ("生日专享满99减15", "amount", 1_500, 0, 9_900, 30),
)
# (name, description, points cost, initial stock or None, coupon type name or None)
REWARDS = (
    ("5元优惠券", "下单立减 5 元，无门槛，30 天内有效", 500, None, "5元无门槛券"),
    ("10元优惠券", "满 100 元减 10 元，30 天内有效", 900, None, "满100减10"),
    ("20元优惠券", "满 200 元减 20 元，30 天内有效", 1_600, None, "满200减20"),
    ("会员9折券", "满 50 元享 9 折，14 天内有效", 1_200, None, "会员9折券"),
    ("运费券", "抵 8 元运费，60 天内有效", 300, None, "8元运费券"),
    ("帆布袋", "品牌帆布托特包，门店自提或随单寄出", 800, 600, None),
    ("保温杯", "316 不锈钢保温杯 450ml", 2_500, 300, None),
    ("会员专享礼盒", "当季新品小样礼盒，限量", 6_000, 80, None),
)
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

Progress = Callable[[str, int, int], None]


@dataclass
class MemberCounts:
    members: int = 0
    entries: int = 0
    lots: int = 0
    expired_lots: int = 0
    redemptions: int = 0
    coupons: int = 0
    rewards: int = 0
    coupon_types: int = 0
    by_table: dict[str, int] = field(default_factory=dict)


def _local_date(t: int) -> date:
    return datetime.fromtimestamp(t + CN_OFFSET, UTC).date()


def _epoch(value) -> int:
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


class _MemberGenerator:
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


# ------------------------------------------------------------------------ reference rows


async def _catalogue(now: datetime) -> tuple[dict[str, dict], list[dict]]:
    """Coupon types and rewards by name (existing ones reused)."""
    origin = now - timedelta(days=700)
    async with writing():
        have = {r["name"]: r for r in await raw("SELECT * FROM coupon_type")}
        for name, kind, off, pct, min_spend, days in COUPON_TYPES:
            if name not in have:
                rows = await raw(
                    "INSERT INTO coupon_type (name, kind, amount_off_fen, percent_off, min_spend_fen, "
                    "valid_days, valid_from, valid_until, active, created_at) "
                    "VALUES ({}, {}, {}, {}, {}, {}, NULL, NULL, {}, {}) RETURNING *",
                    name, kind, off, pct, min_spend, days, True, origin)
                have[name] = rows[0]
        rewards = {r["name"]: r for r in await raw("SELECT * FROM reward")}
        for name, description, cost, stock, ctype in REWARDS:
            if name not in rewards:
                rows = await raw(
                    "INSERT INTO reward (name, description, points_cost, stock, valid_from, valid_until, "
                    "coupon_type, active, created_at) VALUES ({}, {}, {}, {}, NULL, NULL, {}, {}, {}) "
                    "RETURNING *", name, description, cost, stock,
                    have[ctype]["id"] if ctype else None, True, origin)
                rewards[name] = rows[0]
    out = []
    for row in rewards.values():
        if row["active"]:
            out.append({"id": row["id"], "name": row["name"], "points_cost": row["points_cost"],
                        "left": row["stock"], "stock": row["stock"], "coupon_type": row["coupon_type"]})
    out.sort(key=lambda w: w["id"])
    return have, out


async def _next_ids() -> dict[str, int]:
    ids = {}
    for table, _ in TABLES:
        rows = await raw(f'SELECT max(id) AS m FROM "{table}"')
        ids[table] = (rows[0]["m"] or 0) + 1
    return ids


def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return (f'INSERT INTO "{table}" ({", ".join(columns)}) '
            f'VALUES ({", ".join("?" for _ in columns)})')


CUSTOMERS_SQL = "SELECT id, created_at FROM customer WHERE id >= {} AND id < {} ORDER BY id"
ORDERS_SQL = ('SELECT id, customer, channel, external_id, placed_at, updated_at, status, total_fen '
              'FROM "order" WHERE customer >= {} AND customer < {} ORDER BY customer, id')


def _group(order_rows) -> dict[int, list[tuple]]:
    out: dict[int, list[tuple]] = {}
    for o in order_rows:
        out.setdefault(o[1], []).append(
            (o[0], o[2], o[3], _epoch(o[4]), _epoch(o[5]), o[6], o[7]))
    return out


def _stock_updates(rewards: list[dict]) -> list[tuple[int, int]]:
    return [(w["left"], w["id"]) for w in rewards if w["stock"] is not None and w["left"] != w["stock"]]


def _load_sqlite(path: str, gen: _MemberGenerator, rewards: list[dict], progress: Progress | None,
                 counts: dict[str, int]) -> None:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-524288")  # 512 MiB: the entry key index is large
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA foreign_keys=OFF")  # our own ids; every reference made above
        lo, hi = conn.execute("SELECT COALESCE(min(id), 0), COALESCE(max(id), -1) FROM customer").fetchone()
        conn.execute("BEGIN IMMEDIATE")
        try:
            statements = {name: _insert_sql(name, cols) for name, cols in TABLES}
            total = hi - lo + 1
            if progress:
                progress(STEP_MEMBERS, 0, max(total, 0))
            for start in range(lo, hi + 1, CHUNK_CUSTOMERS):
                end = start + CHUNK_CUSTOMERS
                args = (start, end)
                customers = [(c[0], _epoch(c[1])) for c in
                             conn.execute(CUSTOMERS_SQL.replace("{}", "?"), args)]
                orders = _group(conn.execute(ORDERS_SQL.replace("{}", "?"), args))
                rows = gen.chunk(customers, orders)
                for name, _ in TABLES:
                    if rows[name]:
                        conn.executemany(statements[name], rows[name])
                        counts[name] += len(rows[name])
                if progress:
                    progress(STEP_MEMBERS, min(end - lo, total), total)
            conn.executemany("UPDATE reward SET stock = ? WHERE id = ?", _stock_updates(rewards))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


async def _load_postgres(gen: _MemberGenerator, rewards: list[dict], progress: Progress | None,
                         counts: dict[str, int]) -> None:
    conn = await engine().get_new_connection()
    try:
        lo, hi = await conn.fetchrow("SELECT COALESCE(min(id), 0), COALESCE(max(id), -1) FROM customer")
        total = hi - lo + 1
        if progress:
            progress(STEP_MEMBERS, 0, max(total, 0))
        async with conn.transaction():
            cust_sql = CUSTOMERS_SQL.replace("{}", "$1", 1).replace("{}", "$2", 1)
            order_sql = ORDERS_SQL.replace("{}", "$1", 1).replace("{}", "$2", 1)
            pending = None
            starts = list(range(lo, hi + 1, CHUNK_CUSTOMERS))

            async def fetch(start):
                args = (start, start + CHUNK_CUSTOMERS)
                customers = [(c[0], _epoch(c[1])) for c in await conn.fetch(cust_sql, *args)]
                orders = _group(await conn.fetch(order_sql, *args))
                return customers, orders

            for i, start in enumerate(starts):
                if pending is None:
                    customers, orders = await fetch(start)
                    work = asyncio.to_thread(gen.chunk, customers, orders)
                else:
                    work = pending
                rows = await work
                pending = None
                if i + 1 < len(starts):  # the next chunk is generated while this one is copied
                    customers, orders = await fetch(starts[i + 1])
                    pending = asyncio.ensure_future(asyncio.to_thread(gen.chunk, customers, orders))
                for name, cols in TABLES:
                    if rows[name]:
                        await conn.copy_records_to_table(name, records=rows[name], columns=list(cols))
                        counts[name] += len(rows[name])
                if progress:
                    progress(STEP_MEMBERS, min(start + CHUNK_CUSTOMERS - lo, total), total)
            if pending is not None:
                await pending
            for stock, rid in _stock_updates(rewards):
                await conn.execute("UPDATE reward SET stock = $1 WHERE id = $2", stock, rid)
            for name, _ in TABLES:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), max(id)) "
                    f'FROM "{name}" HAVING max(id) IS NOT NULL')
        await conn.execute("ANALYZE member, points_entry, points_lot, redemption, coupon")
    finally:
        await conn.close()


async def load_demo_members(seed: int, now: datetime, *, points_entries: int | None = None,
                            progress: Progress | None = None) -> MemberCounts:
    """Members, points, rewards and coupons for the customers just loaded (none when members
    exist already)."""
    coupon_types, rewards = await _catalogue(now)
    result = MemberCounts(rewards=len(rewards), coupon_types=len(coupon_types))
    if (await raw("SELECT count(*) AS n FROM member"))[0]["n"]:
        return result
    customers = (await raw("SELECT count(*) AS n FROM customer"))[0]["n"]
    if not customers:
        return result
    cfg = await points_config.load()
    tiers = await raw("SELECT * FROM tier ORDER BY position")
    staff = [(s["id"], s["username"]) for s in await raw(
        "SELECT id, username FROM staff_user WHERE is_active = {} AND username <> 'admin' ORDER BY id",
        True)]
    sqlite = engine().engine_type == "sqlite"
    per_member = None
    if points_entries:
        per_member = points_entries / max(1.0, customers * MEMBER_SHARE)
    gen = _MemberGenerator(
        seed=seed, now_ts=int(now.timestamp()), cfg=cfg, tiers=tiers, staff=staff, rewards=rewards,
        coupon_types=coupon_types, next_ids=await _next_ids(),
        ts=sqlite_timestamp if sqlite else postgres_timestamp, day=date.isoformat if sqlite else (lambda d: d),
        entries_per_member=per_member)
    counts = {name: 0 for name, _ in TABLES}
    started = time.monotonic()
    if sqlite:
        await asyncio.to_thread(_load_sqlite, engine().path, gen, rewards, progress, counts)
    else:
        await _load_postgres(gen, rewards, progress, counts)
    result.members = counts["member"]
    result.entries = counts["points_entry"]
    result.lots = counts["points_lot"]
    result.redemptions = counts["redemption"]
    result.coupons = counts["coupon"]
    result.expired_lots = gen.expired_lots
    result.by_table = counts
    result.by_table["seconds"] = round(time.monotonic() - started, 1)
    return result
