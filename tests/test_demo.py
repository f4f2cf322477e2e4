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
        "follow_up": await raw(
            "SELECT f.title, f.status, f.due_at, f.priority, c.mobile, s.username FROM follow_up f "
            "JOIN customer c ON c.id = f.customer JOIN staff_user s ON s.id = f.assignee "
            "ORDER BY s.username, f.due_at, f.title"),
    }


async def _wipe_customers() -> None:
    from db.pipeline.tables import Opportunity

    from db.followups.tables import FollowUp, FollowUpPlan

    for table in (FollowUp, FollowUpPlan, Opportunity, Interaction, CustomerTag, Order, Customer):
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
