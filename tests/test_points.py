"""The points ledger: earning on orders, refunds, redemption, adjustments, expiry and the
rules that must always hold (balance = sum of entries, never negative, each key once)."""

import asyncio
import datetime as dt

import pytest

from db.customers.service import Actor, parse_customer, upsert_customer
from db.engine import raw
from db.errors import Forbidden, NotFound, ValidationFailed
from db.members import coupons, earning, ledger, membership
from db.orders import ingest

ACTOR = Actor(None, "test")


async def add_member(mobile="13812345678", name="王芳") -> dict:
    cid = (await upsert_customer(parse_customer({"name": name, "mobile": mobile}), ACTOR))[0]
    return await membership.join(cid, "staff", ACTOR)


async def order(external_id="T1", mobile="13812345678", total="128.50", status="paid", placed_at=None):
    parsed = ingest.parse_order({
        "channel": "tmall", "external_id": external_id, "customer": {"mobile": mobile},
        "placed_at": placed_at or "2026-11-30T10:00:00+08:00", "status": status, "total": total})
    return await ingest.ingest_order(parsed, ACTOR)


async def invariants() -> None:
    """Every balance is the sum of its entries and of its open lots; none is negative."""
    bad = await raw(
        "SELECT m.id, m.points_balance, "
        "(SELECT COALESCE(SUM(delta), 0) FROM points_entry e WHERE e.member = m.id) AS entries, "
        "(SELECT COALESCE(SUM(remaining), 0) FROM points_lot l WHERE l.member = m.id) AS lots "
        "FROM member m")
    for row in bad:
        assert row["points_balance"] == row["entries"] == row["lots"], row
        assert row["points_balance"] >= 0


async def balance(member_id) -> int:
    return (await membership.get(member_id))["points_balance"]


async def test_join_gives_sign_up_bonus_once():
    member = await add_member()
    again = await membership.join(member["customer"], "staff", ACTOR)
    assert again["id"] == member["id"]
    assert await balance(member["id"]) == 100
    assert member["member_no"] == membership.member_no_for(member["customer"])
    await invariants()


async def test_paid_order_earns_once_and_refund_reverses_once():
    member = await add_member()
    await order()
    await order()  # replay
    assert await balance(member["id"]) == 100 + 128
    await order(status="refunded")
    await order(status="refunded")
    assert await balance(member["id"]) == 100
    kinds = [e["kind"] for e in (await ledger.history(member["id"]))[0]]
    assert kinds == ["reverse", "earn", "earn"]
    await invariants()


async def test_refund_after_spending_records_shortfall():
    member = await add_member()
    await order(total="500")
    await ledger.post(member["id"], -550, kind="redeem", reason="gift", source_type="reward", key="r1")
    assert await balance(member["id"]) == 50
    await order(total="500", status="refunded")
    row = await membership.get(member["id"])
    assert row["points_balance"] == 0 and row["shortfall"] == 450
    entry = (await ledger.history(member["id"]))[0][0]
    assert entry["kind"] == "reverse" and entry["delta"] == -50 and entry["shortfall"] == 450
    await invariants()


async def test_non_member_orders_earn_nothing_unless_auto_enrol():
    cid, _ = (await upsert_customer(parse_customer({"name": "李雷", "mobile": "13900000000"}), ACTOR))
    await order("N1", mobile="13900000000")
    assert await membership.member_for_customer(cid) is None


async def test_debit_beyond_balance_writes_nothing():
    member = await add_member()
    with pytest.raises(ledger.InsufficientPoints):
        await ledger.post(member["id"], -101, kind="redeem", reason="x", source_type="api", key="k1")
    assert await balance(member["id"]) == 100
    assert len((await ledger.history(member["id"]))[0]) == 1


async def test_replay_returns_first_entry_and_mismatch_is_refused():
    member = await add_member()
    first = await ledger.post(member["id"], -10, kind="redeem", reason="x", source_type="api", key="k")
    again = await ledger.post(member["id"], -10, kind="redeem", reason="x", source_type="api", key="k")
    assert again.replayed and again.entry["id"] == first.entry["id"] and again.balance == 90
    with pytest.raises(ledger.KeyReused):
        await ledger.post(member["id"], -20, kind="redeem", reason="x", source_type="api", key="k")


async def test_concurrent_redemptions_never_overdraw():
    member = await add_member()  # 100 points
    results = await asyncio.gather(*[
        ledger.post(member["id"], -10, kind="redeem", reason="x", source_type="api", key=f"c{i}")
        for i in range(20)], return_exceptions=True)
    ok = [r for r in results if isinstance(r, ledger.PostResult)]
    assert len(ok) == 10
    assert all(isinstance(r, ledger.InsufficientPoints) for r in results if r not in ok)
    assert await balance(member["id"]) == 0
    await invariants()


async def test_staff_adjustment_rules():
    member = await add_member()
    staff = Actor(7, "wang.fang")
    with pytest.raises(ValidationFailed) as exc:
        await ledger.adjust(member["id"], 50, "  ", "a1", staff, "staff")
    assert "reason" in exc.value.errors
    with pytest.raises(Forbidden):
        await ledger.adjust(member["id"], 5000, "goodwill", "a2", staff, "staff")
    result = await ledger.adjust(member["id"], 5000, "goodwill", "a2", staff, "manager")
    assert result.balance == 5100
    audit = await raw("SELECT action FROM audit_entry WHERE action = 'points.adjust'")
    assert len(audit) == 1


@pytest.mark.parametrize("bad", [0, 1.5, 1e3, -2**63, "100", True, None])
def test_bad_deltas_are_refused(bad):
    with pytest.raises(ValidationFailed):
        ledger.check_delta(bad)


async def test_redeem_reward_takes_points_and_stock_together():
    member = await add_member()
    stamp = ledger.now()
    kind = await raw("INSERT INTO coupon_type (name, kind, amount_off_fen, percent_off, min_spend_fen, "
                     "valid_days, active, created_at) VALUES ('满100减10', 'amount', 1000, 0, 10000, 30, {}, {}) "
                     "RETURNING id", True, stamp)
    reward = await raw("INSERT INTO reward (name, description, points_cost, stock, coupon_type, active, "
                       "created_at) VALUES ('10元券', '', 60, 1, {}, {}, {}) RETURNING id",
                       kind[0]["id"], True, stamp)
    rid = reward[0]["id"]
    result = await ledger.redeem(member["id"], rid, "once")
    assert result.balance == 40 and result.coupon and len(result.coupon["code"]) == 10
    again = await ledger.redeem(member["id"], rid, "once")
    assert again.replayed and again.coupon["code"] == result.coupon["code"]
    await ledger.post(member["id"], 100, kind="adjust", reason="x", source_type="staff", key="top")
    with pytest.raises(ledger.OutOfStock):
        await ledger.redeem(member["id"], rid, "twice")
    assert await balance(member["id"]) == 140
    open_coupons = await coupons.for_member(member["id"])
    assert [c["code"] for c in open_coupons] == [result.coupon["code"]]
    used = await coupons.use(result.coupon["code"], "T100", "till")
    assert used["used_at"] is not None
    with pytest.raises(coupons.CouponUnusable):
        await coupons.use(result.coupon["code"], "T101", "till")
    await invariants()


async def test_upgrade_at_once_when_order_crosses_threshold():
    member = await add_member()
    await order("BIG", total="1200")
    row = await membership.get(member["id"])
    tiers = {t["id"]: t["name"] for t in await membership.tiers()}
    assert tiers[row["tier"]] == "银卡"
    changes = await raw("SELECT reason FROM tier_change WHERE member = {} ORDER BY id", member["id"])
    assert [c["reason"] for c in changes] == ["joined", "order tmall BIG"]
    summary = await membership.summary(member["id"])
    assert summary.next_tier["name"] == "金卡" and summary.needs_spend_fen == 500_000 - 120_000
