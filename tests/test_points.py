"""The points ledger: earning on orders, refunds, redemption, adjustments, expiry and the
rules that must always hold (balance = sum of entries, never negative, each key once)."""

import asyncio
import datetime as dt

import pytest

from db.actor import Actor
from db.customers.profile import parse_customer
from db.customers.service import upsert_customer
from db.engine import raw
from db.errors import Forbidden, ValidationFailed
from db.members import coupons, ledger, membership
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
    assert member["member_no"] == membership.member_no_for(member["id"])
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


async def test_expiry_takes_each_lot_once_oldest_first():
    from db.members.expiry import expire_due

    member = await add_member()  # 100 sign-up points, expiring end of next year
    await raw("UPDATE points_lot SET expires_on = {} WHERE member = {}", dt.date(2026, 12, 31), member["id"])
    await ledger.post(member["id"], 50, kind="adjust", reason="x", source_type="staff", key="later")
    await raw("UPDATE points_lot SET expires_on = {} WHERE member = {} AND amount = 50",
              dt.date(2027, 12, 31), member["id"])
    await ledger.post(member["id"], -30, kind="redeem", reason="x", source_type="api", key="spend")
    # the debit came out of the older lot: 70 of it left to expire, the newer 50 untouched
    assert await expire_due(dt.date(2026, 12, 31)) == 0
    counts = await asyncio.gather(expire_due(dt.date(2027, 1, 1)), expire_due(dt.date(2027, 1, 1)))
    assert sorted(counts) == [0, 1]
    assert await balance(member["id"]) == 50
    entry = (await ledger.history(member["id"]))[0][0]
    assert entry["kind"] == "expire" and entry["delta"] == -70 and entry["balance_after"] == 50
    await invariants()


async def test_merging_two_members_keeps_every_point():
    from db.customers.merge import merge_customers
    from db.customers.scope import Scope

    first = await add_member("13812345678", "王芳")
    second = await add_member("13900000000", "王芳")
    await order("M1", mobile="13900000000", total="1200")  # second earns 1200 -> 银卡
    await ledger.post(first["id"], -40, kind="redeem", reason="x", source_type="api", key="m-spend")
    await merge_customers(Scope.everything(), first["customer"], second["customer"], ACTOR)
    survivor = await membership.member_for_customer(first["customer"])
    assert survivor["points_balance"] == 60 + 100 + 1200
    assert await raw("SELECT id FROM member WHERE customer = {}", second["customer"]) == []
    tiers = {t["id"]: t["name"] for t in await membership.tiers()}
    assert tiers[survivor["tier"]] == "银卡"
    await invariants()


async def test_merging_into_a_non_member_moves_the_membership():
    from db.customers.merge import merge_customers
    from db.customers.scope import Scope

    plain = (await upsert_customer(parse_customer({"name": "王芳", "mobile": "13700000000"}), ACTOR))[0]
    member = await add_member("13900000000", "王芳")
    await merge_customers(Scope.everything(), plain, member["customer"], ACTOR)
    moved = await membership.member_for_customer(plain)
    assert moved["id"] == member["id"] and moved["points_balance"] == 100


async def test_birthday_bonus_once_a_year():
    from db.members import config
    from db.members.nightly import birthday_bonuses

    member = await add_member()
    await raw("UPDATE customer SET birthday = {} WHERE id = {}", dt.date(1990, 12, 5), member["customer"])
    cfg = await config.load()
    assert await birthday_bonuses(dt.date(2026, 12, 5), cfg) == 1
    assert await birthday_bonuses(dt.date(2026, 12, 5), cfg) == 0
    assert await birthday_bonuses(dt.date(2026, 12, 6), cfg) == 0
    assert await balance(member["id"]) == 100 + cfg.birthday_bonus


async def test_expiry_notice_once_per_date():
    from db.members.nightly import expiry_notices

    member = await add_member()
    await raw("UPDATE points_lot SET expires_on = {} WHERE member = {}", dt.date(2026, 12, 31), member["id"])
    assert await expiry_notices(dt.date(2026, 12, 2)) == 1
    assert await expiry_notices(dt.date(2026, 12, 3)) == 0
    assert (await membership.get(member["id"]))["expiry_notice_on"] == dt.date(2026, 12, 31)


async def test_tier_evaluation_notices_in_grace_then_downgrades_once():
    from db.members import config
    from db.members.nightly import evaluate_tiers

    member = await add_member()
    await order("OLD", total="1200", placed_at="2026-11-01T10:00:00+08:00")
    tiers = {t["name"]: t["id"] for t in await membership.tiers()}
    assert (await membership.get(member["id"]))["tier"] == tiers["银卡"]
    await raw("UPDATE \"order\" SET placed_at = {} WHERE external_id = 'OLD'",
              ledger.now() - dt.timedelta(days=400))  # the spend falls out of the 12 months
    await raw("UPDATE points_entry SET created_at = {}", ledger.now() - dt.timedelta(days=400))
    cfg = config.PointsConfig(evaluate_on="12-20", grace_days=30)
    result = await evaluate_tiers(dt.date(2026, 12, 2), cfg)
    assert result == {"noticed": 1, "downgraded": 0}
    assert (await membership.get(member["id"]))["downgrade_to"] == tiers["普通"]
    assert (await evaluate_tiers(dt.date(2026, 12, 3), cfg))["noticed"] == 0
    result = await evaluate_tiers(dt.date(2026, 12, 20), cfg)
    assert result == {"noticed": 0, "downgraded": 1}
    row = await membership.get(member["id"])
    assert row["tier"] == tiers["普通"] and row["downgrade_to"] is None
    assert (await evaluate_tiers(dt.date(2026, 12, 21), cfg))["downgraded"] == 0
    reasons = await raw("SELECT reason FROM tier_change WHERE member = {} ORDER BY id", member["id"])
    assert reasons[-1]["reason"] == "evaluation 2026-12-20"


async def test_coupon_minimum_spend_and_discount():
    member = await add_member()
    stamp = ledger.now()
    kind = await raw("INSERT INTO coupon_type (name, kind, amount_off_fen, percent_off, min_spend_fen, "
                     "valid_days, active, created_at) VALUES ('95折', 'percent', 0, 5, 20000, 7, {}, {}) "
                     "RETURNING id", True, stamp)
    coupon = await coupons.issue(member["id"], kind[0]["id"], source="staff", actor_label="t")
    with pytest.raises(coupons.CouponUnusable):
        await coupons.use(coupon["code"], "T1", "till", order_total_fen=19999)
    listed = (await coupons.for_member(member["id"]))[0]
    assert coupons.discount_fen(listed, 30000) == 1500 and coupons.discount_fen(listed, 100) == 0
    await coupons.use(coupon["code"].lower(), "T1", "till", order_total_fen=30000)
    assert (await coupons.for_member(member["id"], include_used=True))[0]["state"] == "used"


async def test_two_joins_at_once_give_one_member():
    cid = (await upsert_customer(parse_customer({"name": "王芳", "mobile": "13812345678"}), ACTOR))[0]
    first, second = await asyncio.gather(membership.join(cid, "staff", ACTOR), membership.join(cid, "api", ACTOR))
    assert first["id"] == second["id"]
    assert await balance(first["id"]) == 100


async def test_members_are_told_of_points_earned_tier_upgrades_and_expiry(settings_env):
    from db.members.nightly import expiry_notices
    from db.push.subscriptions import save_subscription
    from tests.webpush_client import WebPushClient

    settings_env(CRM_PUSH_ALLOW_HTTP="1", CRM_PUSH_ALLOWED_HOSTS="127.0.0.1")
    member = await add_member()
    await save_subscription(None, WebPushClient("http://127.0.0.1:9/phone").subscription(),
                            member_id=member["id"])
    await order("NOTE1", total="1200")  # earns 1200 and crosses into 银卡
    await order("NOTE1", total="1200")  # a replay tells nobody anything
    await raw("UPDATE points_lot SET expires_on = {} WHERE member = {}", dt.date(2026, 12, 31), member["id"])
    await expiry_notices(dt.date(2026, 12, 2))
    await expiry_notices(dt.date(2026, 12, 3))
    rows = await raw("SELECT ref, payload FROM push_message ORDER BY id")
    refs = [r["ref"] for r in rows]
    assert refs == [f"member:{member['id']}:order:1", f"member:{member['id']}:tier:银卡",
                    f"member:{member['id']}:expiring:2026-12-31"]
    assert "1200" in rows[0]["payload"] and "银卡" in rows[1]["payload"]


async def test_first_paid_order_enrols_when_the_shop_chooses():
    from db.members import config

    await config.save(config.PointsConfig(auto_enroll=True, signup_bonus=50), ACTOR)
    cid = (await upsert_customer(parse_customer({"name": "李雷", "mobile": "13900000000"}), ACTOR))[0]
    await order("AUTO1", mobile="13900000000", total="99.90", status="cancelled")
    assert await membership.member_for_customer(cid) is None  # not paid: no membership
    await order("AUTO2", mobile="13900000000", total="99.90")
    member = await membership.member_for_customer(cid)
    assert member["source"] == "order" and await balance(member["id"]) == 50 + 99
    config.forget()


async def test_a_new_customer_can_join_after_a_merge_freed_the_highest_customer_id():
    from db.customers.merge import merge_customers
    from db.customers.scope import Scope

    survivor = (await upsert_customer(parse_customer({"name": "王芳", "mobile": "13700000000"}), ACTOR))[0]
    merged = await add_member("13900000000", "王芳")
    await merge_customers(Scope.everything(), survivor, merged["customer"], ACTOR)
    newcomer = (await upsert_customer(parse_customer({"name": "李雷", "mobile": "13600000000"}), ACTOR))[0]
    joined = await membership.join(newcomer, "staff", ACTOR)  # SQLite may hand out the merged id again
    assert joined["member_no"] != merged["member_no"]


async def test_join_says_whether_it_created_the_member():
    cid = (await upsert_customer(parse_customer({"name": "李雷", "mobile": "13900000000"}), ACTOR))[0]
    first, second = await asyncio.gather(membership.join(cid, "staff", ACTOR), membership.join(cid, "api", ACTOR))
    assert sorted((first.created, second.created)) == [False, True]
    again = await membership.join(cid, "staff", ACTOR)
    assert not again.created and again["id"] == first["id"]
