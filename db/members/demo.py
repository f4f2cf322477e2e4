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

The history is made by db/members/demo_history.py. The rows are written in bulk, like the
customers and orders (db/demo/bulk.py): `executemany` on a plain sqlite3 connection, `COPY` on
PostgreSQL, with ids we assign ourselves; never one ledger call per entry. `points_entries`
asks for about that many entries in all (the benchmarks use 20,000,000): members then get
more task points to reach it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from db.engine import BUSY_TIMEOUT_S, engine, postgres_timestamp, raw, sqlite_timestamp, writing
from db.members import config as points_config
from db.members.demo_history import MEMBER_SHARE, TABLES, MemberHistory, epoch_seconds

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
            (o[0], o[2], o[3], epoch_seconds(o[4]), epoch_seconds(o[5]), o[6], o[7]))
    return out


def _stock_updates(rewards: list[dict]) -> list[tuple[int, int]]:
    return [(w["left"], w["id"]) for w in rewards if w["stock"] is not None and w["left"] != w["stock"]]


def _load_sqlite(path: str, gen: MemberHistory, rewards: list[dict], progress: Progress | None,
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
                customers = [(c[0], epoch_seconds(c[1])) for c in
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


async def _load_postgres(gen: MemberHistory, rewards: list[dict], progress: Progress | None,
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
                customers = [(c[0], epoch_seconds(c[1])) for c in await conn.fetch(cust_sql, *args)]
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
    gen = MemberHistory(
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
