"""The ledger's guards and indexes, and the default tiers.

A negative points balance, lot remainder or reward stock is refused by the database itself
(CHECK on PostgreSQL; triggers on SQLite, which cannot add a CHECK to a table), should any
code path ever get past the conditional updates in db/members/ledger.py.
"""

import datetime as dt

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-02T01:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "ledger guards, indexes and default tiers"

BOTH = [
    "CREATE INDEX points_entry_member ON points_entry (member, id)",
    "CREATE INDEX points_lot_open ON points_lot (member, expires_on, id) WHERE remaining > 0",
    "CREATE INDEX points_lot_expiry ON points_lot (expires_on, id) WHERE remaining > 0",
    "CREATE INDEX coupon_member_open ON coupon (member, valid_until) WHERE used_at IS NULL",
    "CREATE INDEX tier_change_member_at ON tier_change (member, at)",
]
POSTGRES = [
    "ALTER TABLE member ADD CONSTRAINT member_points_nonnegative CHECK (points_balance >= 0)",
    "ALTER TABLE points_lot ADD CONSTRAINT points_lot_remaining CHECK (remaining >= 0 AND remaining <= amount)",
    "ALTER TABLE reward ADD CONSTRAINT reward_stock_nonnegative CHECK (stock IS NULL OR stock >= 0)",
]


def _sqlite_guard(name: str, table: str, column: str, bad: str, message: str) -> list[str]:
    return [
        f"CREATE TRIGGER {name}_{op.lower()} BEFORE {op} ON {table} FOR EACH ROW WHEN {bad} "
        f"BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {message}'); END"
        for op in ("INSERT", "UPDATE")
    ]


SQLITE = [
    *_sqlite_guard("member_points", "member", "points_balance", "NEW.points_balance < 0",
                   "member_points_nonnegative"),
    *_sqlite_guard("points_lot_remaining", "points_lot", "remaining",
                   "NEW.remaining < 0 OR NEW.remaining > NEW.amount", "points_lot_remaining"),
    *_sqlite_guard("reward_stock", "reward", "stock", "NEW.stock < 0", "reward_stock_nonnegative"),
]

# 普通 / 银卡 / 金卡 / 钻石: spend over 12 months in fen, earn multiplier in percent.
TIERS = [
    ("普通", 0, None, 100, "gray", "积分累计与兑换"),
    ("银卡", 1, 100_000, 120, "blue", "积分 1.2 倍；生日双倍积分"),
    ("金卡", 2, 500_000, 150, "amber", "积分 1.5 倍；专属客服；每季度包邮券"),
    ("钻石", 3, 2_000_000, 200, "purple", "积分 2 倍；新品优先购；专属客服；每月包邮券"),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="members", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in BOTH + (SQLITE if engine.engine_type == "sqlite" else POSTGRES):
            await engine.run_ddl(sql)
        stamp = dt.datetime.now(dt.timezone.utc).isoformat()
        for name, position, spend, multiplier, color, benefits in TIERS:
            await engine.run_ddl(
                "INSERT INTO tier (name, position, min_spend_fen, min_points, multiplier_pct, "
                f"benefits, color, created_at) VALUES ('{name}', {position}, "
                f"{'NULL' if spend is None else spend}, NULL, {multiplier}, '{benefits}', "
                f"'{color}', '{stamp}')"
            )

    manager.add_raw(run)
    return manager
