"""The demo loader: realistic, consistent, deterministic data, and safe to run twice."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

from db.customers.identity import normalise_email, normalise_mobile
from db.customers.tables import Customer, CustomerTag, Interaction, Tag
from db.demo import load_demo
from db.engine import engine, raw
from db.orders.tables import Order
from db.staff.passwords import verify_password
from db.staff.tables import StaffUser, Team

FIXED_NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _fen(price: str) -> int:
    whole, _, cents = price.partition(".")
    assert len(cents) == 2, price
    return int(whole) * 100 + int(cents)


async def _snapshot() -> dict[str, list[dict]]:
    return {
        "customer": await Customer.select().order_by(Customer.id),
        "order": await Order.select().order_by(Order.id),
        # rule tags' members are stamped when the rule ran: compare who has which tag
        "customer_tag": sorted((r["customer"], r["tag"]) for r in await CustomerTag.select()),
        "interaction": await Interaction.select().order_by(Interaction.id),
        "opportunity": await raw(
            "SELECT o.title, o.amount_fen, o.status, o.expected_close_on, c.mobile FROM opportunity o "
            "JOIN customer c ON c.id = o.customer ORDER BY c.mobile, o.title"),
        "member": await raw("SELECT customer, member_no, tier, points_balance, joined_at FROM member "
                            "ORDER BY customer"),
        "points_entry": await raw(
            "SELECT m.customer, e.kind, e.delta, e.balance_after, e.reason, e.created_at "
            "FROM points_entry e JOIN member m ON m.id = e.member ORDER BY m.customer, e.id"),
        "coupon": await raw("SELECT code, used_at FROM coupon ORDER BY code"),
        "follow_up": await raw(
            "SELECT f.title, f.status, f.due_at, f.priority, c.mobile, s.username FROM follow_up f "
            "JOIN customer c ON c.id = f.customer JOIN staff_user s ON s.id = f.assignee "
            "ORDER BY s.username, f.due_at, f.title"),
    }


async def _wipe_customers() -> None:
    from db.pipeline.tables import Opportunity

    from db.followups.tables import FollowUp, FollowUpPlan

    from db.members.tables import Coupon, Member, PointsEntry, PointsLot, Redemption, TierChange

    for table in (FollowUp, FollowUpPlan, Opportunity, Interaction, CustomerTag, Coupon, Redemption,
                  PointsLot, PointsEntry, TierChange, Member, Order, Customer):
        await table.delete(force=True)


async def test_loads_consistent_realistic_data():
    started = datetime.now(UTC)
    result = await load_demo(customers=600, seed=3)
    finished = datetime.now(UTC)

    assert result.created
    assert result.customers == await Customer.count() == 600
    # Today is not empty for whoever signs in first: the admin has open follow-ups
    admin_open = await raw("SELECT COUNT(*) AS n FROM follow_up f JOIN staff_user s ON s.id = f.assignee "
                           "WHERE s.username = 'admin' AND f.status = 'open'")
    assert admin_open[0]["n"] >= 3
    assert result.orders == await Order.count()
    assert result.interactions == await Interaction.count()
    assert result.customer_tags == await CustomerTag.count()
    assert result.tags == await Tag.count() == 12
    assert result.staff == 20 and await Team.count() == 4
    assert 2.0 < result.orders / 600 < 4.0

    # Accounts: one shared staff password, a separate admin password.
    admin = await StaffUser.select().where(StaffUser.username == "admin").first()
    assert admin["role"] == "admin" and admin["is_active"]
    assert verify_password(admin["password_hash"], result.admin_password)
    staff = await StaffUser.select().where(StaffUser.username != "admin")
    assert len({s["password_hash"] for s in staff}) == 1
    assert verify_password(staff[0]["password_hash"], result.staff_password)
    assert Counter(s["role"] for s in staff)["manager"] == 4
    team_of = {s["id"]: s["team"] for s in staff}

    customers = await Customer.select()
    mobiles = [c["mobile"] for c in customers]
    assert len(set(mobiles)) == len(mobiles)
    assert all(normalise_mobile(m) == m for m in mobiles)
    emails = [c["email"] for c in customers if c["email"]]
    assert len(set(emails)) == len(emails) and 0.2 < len(emails) / 600 < 0.5
    assert all(normalise_email(e) == e for e in emails)
    created = {c["id"]: c["created_at"] for c in customers}
    for c in customers:
        assert c["created_at"].tzinfo is not None
        assert started - timedelta(days=740) < c["created_at"] <= finished
        if c["owner"] is not None:
            assert team_of[c["owner"]] == c["team"]  # an owner works in the customer's team
    assert sum(c["team"] is not None for c in customers) > 0.8 * 600

    orders = await Order.select().output(load_json=True)
    keys = [(o["channel"], o["external_id"]) for o in orders]
    assert len(set(keys)) == len(keys)
    for o in orders:
        assert o["currency"] == "CNY"
        assert o["total_fen"] == sum(_fen(i["price"]) * i["qty"] for i in o["items"]) > 0
        assert created[o["customer"]] <= o["placed_at"] <= finished
        assert o["placed_at"] <= o["updated_at"] <= finished
    statuses = Counter(o["status"] for o in orders)
    assert set(statuses) <= {"paid", "refunded", "cancelled"}
    assert statuses["paid"] > 0.8 * len(orders)

    for i in await Interaction.select():
        assert created[i["customer"]] <= i["happened_at"] <= finished

    # The search index sees the loaded customers.
    digits = mobiles[0][3:10]
    if engine().engine_type == "sqlite":
        rows = await raw(
            f"SELECT rowid FROM customer_search WHERE customer_search MATCH '\"{digits}\"'"
        )
        found = {r["rowid"] for r in rows}
    else:
        rows = await raw("SELECT id FROM customer WHERE search_text LIKE {}", f"%{digits}%")
        found = {r["id"] for r in rows}
    assert customers[0]["id"] in found
    assert found == {c["id"] for c in customers if digits in c["search_text"]}

    # New rows made through the ORM continue after the loaded ids.
    extra = Customer(name="新客户", mobile="+8613900000000", search_text="新客户 13900000000")
    await extra.save()
    assert extra.id > max(created)


async def test_same_seed_gives_same_data():
    first = await load_demo(customers=150, seed=11, now=FIXED_NOW)
    before = await _snapshot()
    await _wipe_customers()
    second = await load_demo(customers=150, seed=11, now=FIXED_NOW)
    after = await _snapshot()
    assert first.created and second.created
    assert before == after
    assert first.staff_password != second.staff_password
    staff = await StaffUser.select().where(StaffUser.username == "zhang.wei").first()
    assert verify_password(staff["password_hash"], second.staff_password)  # reused staff follow

    await _wipe_customers()
    await load_demo(customers=150, seed=12, now=FIXED_NOW)
    other = await _snapshot()
    assert [c["name"] for c in other["customer"]] != [c["name"] for c in before["customer"]]
    # Nothing after the given `now`.
    assert max(o["placed_at"] for o in before["order"]) <= FIXED_NOW
    items = json.loads(before["order"][0]["items"])
    assert set(items[0]) == {"sku", "name", "qty", "price"}


async def test_running_again_loads_nothing_and_resets_admin():
    first = await load_demo(customers=80, seed=5)
    counts = (await Customer.count(), await Order.count(), await StaffUser.count())

    again = await load_demo(customers=80, seed=5)
    assert not again.created
    assert again.staff_password is None
    assert (again.customers, again.orders) == counts[:2]
    assert (await Customer.count(), await Order.count(), await StaffUser.count()) == counts

    admin = await StaffUser.select().where(StaffUser.username == "admin").first()
    assert again.admin_password != first.admin_password
    assert verify_password(admin["password_hash"], again.admin_password)
    assert not verify_password(admin["password_hash"], first.admin_password)


async def test_admin_is_restored_as_an_active_admin():
    await StaffUser.insert(StaffUser(username="admin", display_name="x", password_hash="x",
                                     role="staff", is_active=False,
                                     password_changed_at=FIXED_NOW, created_at=FIXED_NOW))
    result = await load_demo(customers=0)
    admin = await StaffUser.select().where(StaffUser.username == "admin").first()
    assert admin["role"] == "admin" and admin["is_active"]
    assert verify_password(admin["password_hash"], result.admin_password)
    assert await StaffUser.count().where(StaffUser.username == "admin") == 1


async def _ledger_rules_hold(now: datetime) -> None:
    """The ledger's rules on the demo's members, and their tiers follow their spend."""
    from db.members.membership import qualified_tier

    bad = await raw(
        "SELECT m.id, m.points_balance, "
        "(SELECT COALESCE(SUM(delta), 0) FROM points_entry e WHERE e.member = m.id) AS entries, "
        "(SELECT COALESCE(SUM(remaining), 0) FROM points_lot l WHERE l.member = m.id) AS lots "
        "FROM member m")
    assert bad
    for row in bad:
        assert row["points_balance"] == row["entries"] == row["lots"] >= 0, row
    # balance_after runs with the entries, in id order, per member
    running: dict[int, int] = {}
    for e in await raw("SELECT member, delta, balance_after, kind FROM points_entry ORDER BY id"):
        running[e["member"]] = running.get(e["member"], 0) + e["delta"]
        assert e["balance_after"] == running[e["member"]] >= 0, e
        assert (e["delta"] > 0) == (e["kind"] in ("earn", "adjust")) or e["kind"] == "adjust" \
            or (e["kind"] in ("reverse", "expire") and e["delta"] == 0), e
    # every credit opened one lot of its size; debits none
    lots = await raw("SELECT e.delta, l.amount, l.remaining FROM points_lot l "
                     "JOIN points_entry e ON e.id = l.entry")
    assert len(lots) == (await raw("SELECT COUNT(*) AS n FROM points_entry WHERE delta > 0"))[0]["n"]
    assert all(row["delta"] == row["amount"] >= row["remaining"] >= 0 for row in lots)
    # each order earned at most once and was reversed at most once (and only after earning)
    per_order = await raw(
        "SELECT source_id, SUM(CASE WHEN kind = 'earn' THEN 1 ELSE 0 END) AS earns, "
        "SUM(CASE WHEN kind = 'reverse' THEN 1 ELSE 0 END) AS reverses FROM points_entry "
        "WHERE source_type = 'order' GROUP BY source_id")
    assert per_order and all(r["earns"] == 1 and r["reverses"] <= 1 for r in per_order)
    refunded = await raw("SELECT e.source_id FROM points_entry e JOIN \"order\" o ON o.id = e.source_id "
                         "WHERE e.kind = 'reverse' AND o.status <> 'refunded'")
    assert refunded == []
    # expiry ran each 1 January: no lot whose date passed before the last run has points left
    last_run = datetime(now.year, 1, 1).date()
    stale = await raw("SELECT COUNT(*) AS n FROM points_lot WHERE remaining > 0 AND expires_on < {}",
                      last_run)
    assert stale[0]["n"] == 0
    # stock: what is left plus what was redeemed is what there was; coupons for coupon rewards
    from db.members.demo import REWARDS

    initial = {name: stock for name, _d, _c, stock, _t in REWARDS}
    rewards = await raw("SELECT r.name, r.stock, r.coupon_type, (SELECT COUNT(*) FROM redemption d "
                        "WHERE d.reward = r.id) AS taken FROM reward r")
    assert len(rewards) == 8
    for r in rewards:
        if initial[r["name"]] is None:
            assert r["stock"] is None
        else:
            assert r["stock"] >= 0 and r["stock"] + r["taken"] == initial[r["name"]], r
    with_coupon = sum(r["taken"] for r in rewards if r["coupon_type"] is not None)
    assert with_coupon > 0
    assert (await raw("SELECT COUNT(*) AS n FROM coupon WHERE redemption IS NOT NULL"))[0]["n"] == with_coupon
    redeemed = await raw("SELECT d.points, e.delta, e.kind FROM redemption d "
                         "JOIN points_entry e ON e.id = d.entry")
    assert all(r["delta"] == -r["points"] and r["kind"] == "redeem" for r in redeemed)
    # tiers follow paid spend over the 12 months before `now`
    tiers = await raw("SELECT * FROM tier ORDER BY position")
    by_id = {t["id"]: t for t in tiers}
    spend = await raw(
        "SELECT m.id, m.tier, (SELECT COALESCE(SUM(o.total_fen), 0) FROM \"order\" o "
        "WHERE o.customer = m.customer AND o.status = 'paid' AND o.placed_at >= {}) AS spend FROM member m",
        now - timedelta(days=365))
    for row in spend:
        assert by_id[row["tier"]]["id"] == qualified_tier(tiers, int(row["spend"]), 0)["id"], row
    assert len({row["tier"] for row in spend}) >= 2


async def test_members_have_points_that_keep_the_ledger_rules():
    result = await load_demo(customers=600, seed=3, now=FIXED_NOW)
    members = await raw("SELECT COUNT(*) AS n FROM member")
    assert result.members == members[0]["n"] and 0.3 < result.members / 600 < 0.5
    assert result.points_entries == (await raw("SELECT COUNT(*) AS n FROM points_entry"))[0]["n"]
    kinds = {r["kind"] for r in await raw("SELECT DISTINCT kind FROM points_entry")}
    assert kinds == {"earn", "redeem", "adjust", "reverse", "expire"}  # some points expired
    assert (await raw("SELECT COUNT(*) AS n FROM coupon WHERE source = 'staff'"))[0]["n"] > 0
    await _ledger_rules_hold(FIXED_NOW)
    # the ledger takes over where the demo left off
    from db.actor import Actor
    from db.members import ledger

    member = (await raw("SELECT id, points_balance FROM member ORDER BY points_balance DESC LIMIT 1"))[0]
    posted = await ledger.post(member["id"], -member["points_balance"], kind="redeem", reason="x",
                               source_type="api", key="after-demo")
    assert posted.balance == 0
    await ledger.adjust(member["id"], 10, "test", "after-demo-2", Actor(None, "t"), "admin")
    await _ledger_rules_hold(FIXED_NOW)


async def test_points_entries_option_reaches_about_that_many():
    result = await load_demo(customers=300, seed=4, now=FIXED_NOW, points_entries=30_000)
    assert 24_000 < result.points_entries < 36_000
    await _ledger_rules_hold(FIXED_NOW)
