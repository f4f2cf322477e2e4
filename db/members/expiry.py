"""Points expiry (积分过期): each lot's remainder expires once, at the end of its date.

Chunks of lots, one transaction each, set-based (four statements per chunk whatever its
size): write one `expire` entry per lot, lower the members' balances, zero the lots. A lot
is taken only while its remainder is above zero, under row locks (PostgreSQL)
or SQLite's single writer, so two runs at once, or a run after a crash, expire each lot once.
"""

from __future__ import annotations

import datetime as dt

from db.clock import now
from db.engine import in_list, is_sqlite, raw, writing

CHUNK = 5000


async def _expire_chunk(today: dt.date, chunk: int) -> tuple[int, int]:
    """Returns (lots looked at, lots expired)."""
    async with writing():
        rows = await raw(
            "SELECT id, member FROM points_lot WHERE expires_on < {} AND remaining > 0 "
            f"ORDER BY expires_on, id LIMIT {int(chunk)}", today)
        if not rows:
            return 0, 0
        seen = len(rows)
        if not is_sqlite():
            # Members first, then lots: the order every debit takes its locks in (no deadlock
            # with a redemption), and a concurrent run waits here, then finds the lots at 0.
            members, args = in_list("id", sorted({r["member"] for r in rows}))
            await raw(f"SELECT id FROM member WHERE {members} ORDER BY id FOR UPDATE", *args)
            ids, args = in_list("id", [r["id"] for r in rows])
            rows = await raw(f"SELECT id FROM points_lot WHERE {ids} AND remaining > 0 FOR UPDATE", *args)
            if not rows:  # a concurrent run took them while we waited for the locks
                return seen, 0
        stamp = now()
        lots, args = in_list("l.id", [r["id"] for r in rows])
        await raw(
            "INSERT INTO points_entry (member, kind, delta, balance_after, reason, source_type, "
            "source_id, idempotency_key, shortfall, actor, created_at) "
            "SELECT l.member, 'expire', -l.remaining, m.points_balance - SUM(l.remaining) OVER "
            "(PARTITION BY l.member ORDER BY l.expires_on, l.id), 'expired', 'rule', l.id, "
            "'expire:lot:' || CAST(l.id AS TEXT), 0, 'expiry', {} "
            f"FROM points_lot l JOIN member m ON m.id = l.member WHERE {lots}", stamp, *args)
        await raw(
            "UPDATE member SET points_balance = points_balance - "
            f"(SELECT SUM(l.remaining) FROM points_lot l WHERE l.member = member.id AND {lots}), "
            "updated_at = {} "
            f"WHERE id IN (SELECT l.member FROM points_lot l WHERE {lots})", *args, stamp, *args)
        await raw(f"UPDATE points_lot SET remaining = 0 WHERE {lots.replace('l.id', 'id')}", *args)
        return seen, len(rows)


async def expire_due(today: dt.date, chunk: int = CHUNK) -> int:
    """Expire every lot whose date is before `today` (shop-local); returns how many."""
    total = 0
    while True:
        seen, done = await _expire_chunk(today, chunk)
        total += done
        if seen < chunk:
            return total
