"""Points from orders: earned when a member's order is paid, taken back when it is refunded.

`settle_orders` runs inside the transaction that wrote the orders (the API's ingest and
each import batch) and compares each order with the ledger: a paid order with no earn entry
earns (key order:{id}:earn), a refunded or cancelled order that earned and was not reversed
is reversed (key order:{id}:reverse). The keys make it idempotent: the same order sent
twice, or refunded twice, changes nothing the second time. Only orders that arrive while the
customer is a member earn (or the first paid order, when the shop enrols on it).
"""

from __future__ import annotations

from db.engine import raw
from db.members import config, ledger, membership, notify, steps


def order_points(total_fen: int, points_per_yuan: int, multiplier_pct: int) -> int:
    """Whole yuan x points per yuan x tier multiplier, rounded down."""
    return max(0, total_fen) // 100 * points_per_yuan * multiplier_pct // 100


async def _orders(order_ids: list[int]) -> list[dict]:
    marks = ", ".join("{}" for _ in order_ids)
    return await raw(
        "SELECT o.id, o.status, o.total_fen, o.customer, o.channel, o.external_id, m.id AS member, "
        "t.multiplier_pct, "
        "(SELECT e.delta FROM points_entry e WHERE e.idempotency_key = 'order:' || o.id || ':earn') AS earned, "
        "(SELECT e.id FROM points_entry e WHERE e.idempotency_key = 'order:' || o.id || ':reverse') AS reversed "
        f'FROM "order" o LEFT JOIN member m ON m.customer = o.customer LEFT JOIN tier t ON t.id = m.tier '
        f"WHERE o.id IN ({marks}) ORDER BY o.id", *order_ids)


async def settle_orders(order_ids: list[int], actor) -> int:
    """Bring the ledger in line with these orders; returns how many entries were written.
    The caller holds the write transaction."""
    written = 0
    if not order_ids:
        return 0
    cfg = await config.load()
    for start in range(0, len(order_ids), 500):
        for order in await _orders(sorted(set(order_ids))[start:start + 500]):
            written += await _settle(order, cfg, actor)
    return written


async def _settle(order: dict, cfg: config.PointsConfig, actor) -> int:
    label = f"{order['channel']} {order['external_id']}"
    if order["status"] == "paid" and order["earned"] is None:
        if order["member"] is None:
            if not cfg.auto_enroll:
                return 0
            joined = await membership.join(order["customer"], "order", actor)
            order["member"] = joined["id"]
            tier = await raw("SELECT multiplier_pct FROM tier WHERE id = {}", joined["tier"])
            order["multiplier_pct"] = tier[0]["multiplier_pct"]
        points = order_points(order["total_fen"], cfg.points_per_yuan, order["multiplier_pct"])
        if points <= 0:
            return 0
        result = await ledger.post(order["member"], points, kind="earn", reason=label,
                                   source_type="order", source_id=order["id"],
                                   key=f"order:{order['id']}:earn", actor=actor.label)
        if not result.replayed:
            await notify.points_earned(order["member"], points, result.balance, f"order:{order['id']}")
            await membership.upgrade_if_qualified(order["member"], f"order {label}", actor.label)
        return 0 if result.replayed else 1
    if order["status"] in ("refunded", "cancelled") and order["earned"] and order["reversed"] is None:
        result = await steps.run_steps(lambda: ledger.reverse_steps(
            order["member"], order["earned"], reason=label, source_type="order",
            source_id=order["id"], key=f"order:{order['id']}:reverse", actor=actor.label,
            stamp=ledger.now()))
        return 0 if result.replayed else 1
    return 0
