"""Merging two customers: everything moves in one transaction, a record says what came from
where, scopes hold, and two merges of the same pair cannot both happen."""

import asyncio
import datetime as dt
import json

import pytest

from db.audit.tables import AuditEntry
from db.customers import fields, merge
from db.customers.scope import Scope
from db.actor import Actor
from db.customers.profile import parse_customer
from db.customers.service import upsert_customer
from db.followups.interactions import add_interaction
from db.customers.tables import (
    Customer, CustomerTag, DuplicateDismissal, Interaction, MergeRecord,
)
from db.engine import is_sqlite, raw
from db.errors import NotFound, ValidationFailed
from db.orders.ingest import ingest_order, parse_order
from db.orders.tables import Order
from db.staff.tables import Team

ALL = Scope.everything()
BOSS = Actor(1, "boss", "10.0.0.1")


async def add(name, mobile=None, email=None, tags=(), **extra):
    data = {"name": name, "mobile": mobile, "email": email, "tags": list(tags)}
    data.update({k: v for k, v in extra.items() if k in ("city", "province", "birthday", "gender")})
    customer_id, _ = await upsert_customer(parse_customer(data), Actor(None, "test"))
    more = {k: v for k, v in extra.items() if k in ("address", "team", "owner", "created_at")}
    if more:
        await Customer.update({getattr(Customer, k): v for k, v in more.items()}).where(
            Customer.id == customer_id)
    return customer_id


async def order(external_id, mobile, total="100.00", status="paid", placed="2024-03-05T14:30:00+08:00"):
    order_id, customer_id, _ = await ingest_order(parse_order({
        "channel": "jd", "external_id": external_id, "placed_at": placed, "total": total,
        "status": status, "customer": {"name": "x", "mobile": mobile},
    }), Actor(None, "test"))
    return order_id


async def test_merge_moves_everything_fills_blanks_and_leaves_no_orphans():
    await fields.create_field("skin", "肤质", "choice", ["干性", "油性"])
    await fields.create_field("size", "尺码", "text")
    survivor = await add("王芳", "13812345678", tags=["VIP", "老客"], city="杭州市", province="浙江省",
                         created_at=dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc))
    merged = await add("王芳", "13812345679", "wangfang@qq.com", tags=["VIP", "母婴"], city="南京市",
                       province="江苏省", birthday="1990-05-17", gender="female",
                       address="文三路 100 号",
                       created_at=dt.datetime(2023, 1, 2, tzinfo=dt.timezone.utc))
    await fields.set_values(survivor, {"skin": "干性"})
    await fields.set_values(merged, {"skin": "油性", "size": "M"})
    kept_order = await order("JD1", "13812345678", "100.00")
    moved_orders = [await order("JD2", "13812345679", "50.00"),
                    await order("JD3", "13812345679", "20.00", status="refunded")]
    note = await add_interaction(ALL, merged, "call", "called back", Actor(None, "test"))
    await DuplicateDismissal.insert(DuplicateDismissal(low_id=survivor - 1 if survivor > 1 else 999,
                                                       high_id=merged, dismissed_at=dt.datetime.now(dt.timezone.utc)))

    record_id = await merge.merge_customers(ALL, survivor, merged, BOSS)

    assert not await Customer.exists().where(Customer.id == merged)
    row = await Customer.select().where(Customer.id == survivor).first()
    assert row["mobile"] == "+8613812345678"  # the survivor's own identity stays
    assert row["email"] == "wangfang@qq.com"  # filled: the survivor had none
    assert (row["province"], row["city"]) == ("浙江省", "杭州市")  # the survivor's region wins
    assert row["birthday"] == dt.date(1990, 5, 17) and row["gender"] == "female"
    assert row["address"] == "文三路 100 号"
    assert row["created_at"] == dt.datetime(2023, 1, 2, tzinfo=dt.timezone.utc)
    assert "wangfang@qq.com" in row["search_text"]
    # figures refreshed: two paid orders (the refunded one does not count)
    assert (row["orders_count"], row["total_spent_fen"]) == (2, 15000)
    orders = await Order.select(Order.id).where(Order.customer == survivor).order_by(Order.id)
    assert [o["id"] for o in orders] == [kept_order, *moved_orders]
    assert await Interaction.select(Interaction.id).where(Interaction.customer == survivor) == [{"id": note}]
    tag_names = {r["name"] for r in await raw(
        "SELECT t.name FROM customer_tag ct JOIN tag t ON t.id = ct.tag WHERE ct.customer = {}", survivor)}
    assert tag_names == {"VIP", "老客", "母婴"}
    assert await CustomerTag.count().where(CustomerTag.customer == survivor) == 3
    assert (await fields.values_for([survivor]))[survivor] == {"skin": "干性", "size": "M"}
    for table in ("order", "interaction", "customer_tag", "customer_field_value"):
        orphans = await raw(f'SELECT COUNT(*) AS n FROM "{table}" t WHERE NOT EXISTS '
                            f'(SELECT 1 FROM customer c WHERE c.id = t.customer)')
        assert orphans[0]["n"] == 0, table
    assert not await DuplicateDismissal.exists().where(DuplicateDismissal.high_id == merged)

    rec = await MergeRecord.select().where(MergeRecord.id == record_id).first()
    assert (rec["survivor"], rec["merged_id"], rec["actor_id"], rec["actor"]) == (survivor, merged, 1, "boss")
    snapshot, moved = json.loads(rec["merged_snapshot"]), json.loads(rec["moved"])
    assert snapshot["mobile"] == "+8613812345679" and snapshot["city"] == "南京市"
    assert snapshot["tags"] == sorted(["VIP", "母婴"]) and snapshot["custom_fields"] == {"skin": "油性", "size": "M"}
    assert sorted(moved["tables"]["order"]) == sorted(moved_orders)
    assert moved["tables"]["interaction"] == [note]
    assert len(moved["tables"]["customer_tag"]) == 1  # 母婴; the merged VIP stayed behind
    assert moved["left_with_merged"] == {"customer_tag": 1, "customer_field_value": 1}
    assert moved["profile"] == ["address", "birthday", "email", "gender"]

    audit = await AuditEntry.select().where(AuditEntry.action == "customer.merge").output(load_json=True)
    assert len(audit) == 1 and audit[0]["target_id"] == survivor
    assert audit[0]["detail"]["merged_id"] == merged and audit[0]["detail"]["merge_record"] == record_id
    assert audit[0]["detail"]["moved"] == {"order": 2, "interaction": 1, "customer_tag": 1,
                                           "customer_field_value": 1}
    assert "wangfang@qq.com" not in json.dumps(audit[0]["detail"])  # no personal values

    history = await merge.merge_history(survivor)
    assert len(history) == 1
    assert history[0]["merged_id"] == merged and history[0]["merged_name"] == "王芳"
    assert history[0]["merged_mobile_masked"] == "138****5679"
    assert history[0]["counts"]["order"] == 2 and history[0]["actor"] == "boss"


async def test_mobile_and_email_move_when_the_survivor_has_none_and_history_follows_a_chain():
    survivor = await add("李娜", email="lina@qq.com")
    merged = await add("李娜", "13912345678")
    third = await add("李娜", "13912345679")
    first_record = await merge.merge_customers(ALL, merged, third, BOSS)
    await merge.merge_customers(ALL, survivor, merged, BOSS)
    row = await Customer.select().where(Customer.id == survivor).first()
    assert (row["mobile"], row["email"]) == ("+8613912345678", "lina@qq.com")
    assert "13912345678" in row["search_text"]
    history = await merge.merge_history(survivor)
    assert [h["merged_id"] for h in history] == [merged, third]  # the earlier merge came along
    rec = await MergeRecord.select().where(MergeRecord.id == first_record).first()
    assert rec["survivor"] == survivor


async def test_merging_a_customer_with_itself_or_out_of_scope_changes_nothing():
    await Team.insert(Team(name="东"), Team(name="南"))
    east, south = [r["id"] for r in await Team.select(Team.id).order_by(Team.id)]
    ours = await add("王芳", "13812345678", team=east)
    theirs = await add("王芳", "13812345679", team=south)
    await order("JD9", "13812345679")
    with pytest.raises(ValidationFailed) as exc:
        await merge.merge_customers(ALL, ours, ours, BOSS)
    assert exc.value.errors == {"merged_id": "a customer cannot be merged with itself"}
    manager = Scope("team", 2, east)
    for survivor, merged in ((ours, theirs), (theirs, ours), (ours, 999_999)):
        with pytest.raises(NotFound):
            await merge.merge_customers(manager, survivor, merged, BOSS)
    assert await Customer.count() == 2 and await MergeRecord.count() == 0
    assert await Order.count().where(Order.customer == theirs) == 1


async def test_a_second_merge_of_the_same_pair_gets_a_clear_error():
    a = await add("王芳", "13812345678")
    b = await add("王芳", "13812345679")
    await merge.merge_customers(ALL, a, b, BOSS)
    with pytest.raises(ValidationFailed) as exc:
        await merge.merge_customers(ALL, a, b, BOSS)
    assert exc.value.errors == {"merged_id": "this customer was already merged"}


async def test_concurrent_merges_of_the_same_pair_one_wins():
    a = await add("王芳", "13812345678")
    b = await add("王芳", "13812345679")
    await order("JD1", "13812345679")
    results = await asyncio.gather(
        merge.merge_customers(ALL, a, b, BOSS), merge.merge_customers(ALL, b, a, BOSS),
        return_exceptions=True,
    )
    wins = [r for r in results if isinstance(r, int)]
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(wins) == 1 and len(errors) == 1, results
    assert isinstance(errors[0], (ValidationFailed, NotFound))
    assert await Customer.count() == 1 and await MergeRecord.count() == 1
    assert await Order.count() == 1
    survivor = (await Customer.select(Customer.id).first())["id"]
    assert (await Order.select(Order.customer).first())["customer"] == survivor


async def test_a_failure_midway_leaves_nothing_half_done(monkeypatch):
    a = await add("王芳", "13812345678")
    b = await add("王芳", "13812345679", tags=["VIP"])
    await order("JD1", "13812345679")

    async def broken(ids):
        raise RuntimeError("boom")

    from db.customers import lifecycle
    monkeypatch.setattr(lifecycle, "refresh_customers", broken)
    with pytest.raises(RuntimeError):
        await merge.merge_customers(ALL, a, b, BOSS)
    assert await Customer.count() == 2 and await MergeRecord.count() == 0
    assert (await Order.select(Order.customer).first())["customer"] == b
    assert await CustomerTag.count().where(CustomerTag.customer == b) == 1


async def test_every_table_that_references_customer_is_in_the_merge_list():
    if is_sqlite():
        tables = [r["name"] for r in await raw(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        refs = set()
        for table in tables:
            for fk in await raw(f"SELECT * FROM pragma_foreign_key_list('{table}')"):
                if fk["table"] == "customer":
                    refs.add((table, fk["from"]))
    else:
        refs = {(r["table_name"], r["column_name"]) for r in await raw(
            "SELECT kcu.table_name, kcu.column_name FROM information_schema.table_constraints tc "
            "JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name "
            "JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name "
            "WHERE tc.constraint_type = 'FOREIGN KEY' AND ccu.table_name = 'customer'")}
    listed = {(r.table, r.column) for r in merge.CUSTOMER_REFERENCES}
    assert refs == listed
