"""Rule tags: the rule format, its SQL and keeping members current (on both engines)."""

import datetime as dt

import pytest

from db.clock import now
from db.customers import rules
from db.customers.scope import Scope
from db.customers.tables import Customer, CustomerFieldValue, CustomerTag, CustomField, Tag
from db.engine import raw
from db.errors import ValidationFailed
from db.orders.tables import Order

_seq = iter(range(10_000, 99_999))


async def customer(name, **fields):
    stamp = now()
    n = next(_seq)
    defaults = dict(mobile=f"+86138000{n:05d}", search_text=name, created_at=stamp, updated_at=stamp)
    rows = await Customer.insert(Customer(name=name, **{**defaults, **fields})).returning(Customer.id)
    return rows[0]["id"]


async def order(customer_id, channel="tmall", status="paid", fen=10_000, days_ago=1):
    stamp = now()
    n = next(_seq)
    await Order.insert(Order(channel=channel, external_id=f"X{n}", customer=customer_id,
                             placed_at=stamp - dt.timedelta(days=days_ago), status=status,
                             total_fen=fen, created_at=stamp, updated_at=stamp))


async def field(key, kind="text", choices="[]"):
    rows = await CustomField.insert(CustomField(key=key, label=key, kind=kind, choices=choices,
                                                created_at=now())).returning(CustomField.id)
    return rows[0]["id"]


async def value(customer_id, field_id, text):
    await CustomerFieldValue.insert(CustomerFieldValue(customer=customer_id, field=field_id, value=text))


async def matching(rule):
    cond, args = rules.compile_rule(rules.parse_rule(rule), "c")
    rows = await raw(f"SELECT c.name FROM customer c WHERE {cond} ORDER BY c.name", *args)
    return [r["name"] for r in rows]


def one(condition):
    return {"all": [condition]}


async def test_lifecycle_rfm_spend_and_order_count():
    await customer("a", lifecycle_stage="active", rfm_r=5, rfm_f=4, rfm_m=3,
                   orders_count=5, total_spent_fen=250_000)
    await customer("b", lifecycle_stage="dormant", rfm_r=2, rfm_f=1, rfm_m=5,
                   orders_count=1, total_spent_fen=50_000)
    await customer("c", lifecycle_stage="prospect")
    assert await matching(one({"lifecycle": ["active", "dormant"]})) == ["a", "b"]
    assert await matching(one({"lifecycle": ["prospect"]})) == ["c"]
    assert await matching(one({"rfm": {"r": [4, 5]}})) == ["a"]
    assert await matching(one({"rfm": {"f": [1, 4], "m": [5, 5]}})) == ["b"]
    assert await matching(one({"total_spent": {"min": "500.00", "max": "2000"}})) == ["b"]
    assert await matching(one({"total_spent": {"min": "¥2,000.01"}})) == ["a"]
    assert await matching(one({"total_spent": {"max": "0"}})) == ["c"]
    assert await matching(one({"orders_count": {"min": 2, "max": None}})) == ["a"]
    assert await matching(one({"orders_count": {"max": 1}})) == ["b", "c"]


async def test_channel_needs_a_paid_order_there():
    a, b, c = await customer("a"), await customer("b"), await customer("c")
    await order(a, "tmall")
    await order(b, "jd", status="refunded")
    await order(b, "douyin")
    await order(c, "store")
    assert await matching(one({"channel": ["tmall", "jd"]})) == ["a"]
    assert await matching(one({"channel": ["douyin", "store"]})) == ["b", "c"]


async def test_province_city_and_birthday_month():
    await customer("a", province="浙江", city="杭州", birthday=dt.date(1990, 3, 5))
    await customer("b", province="浙江", city="宁波", birthday=dt.date(1985, 12, 31))
    await customer("c", province="上海", city="上海")
    assert await matching(one({"province": ["浙江"]})) == ["a", "b"]
    assert await matching(one({"city": ["杭州", "上海"]})) == ["a", "c"]
    assert await matching(one({"birthday_month": [3]})) == ["a"]
    assert await matching(one({"birthday_month": [1, 12]})) == ["b"]


async def test_last_order_within_and_over():
    stamp = now()
    await customer("recent", last_order_at=stamp - dt.timedelta(days=10))
    await customer("old", last_order_at=stamp - dt.timedelta(days=200))
    await customer("never")
    assert await matching(one({"last_order": {"within_days": 30}})) == ["recent"]
    assert await matching(one({"last_order": {"over_days": 180}})) == ["old"]
    assert await matching(one({"last_order": {"over_days": 5}})) == ["old", "recent"]


async def test_custom_fields_by_kind():
    skin = await field("skin_type", "choice", '["dry", "oily"]')
    note = await field("note")
    size = await field("shoe_size", "number")
    since = await field("member_since", "date")
    a, b, c = await customer("a"), await customer("b"), await customer("c")
    await value(a, skin, "oily")
    await value(b, skin, "dry")
    await value(a, note, "Likes ROSE scent")
    await value(b, note, "")
    await value(a, size, "9")
    await value(b, size, "38.5")
    await value(c, size, "10")
    await value(a, since, "2024-03-05")
    await value(b, since, "2023-12-31")
    fields = [{"key": "skin_type", "kind": "choice", "choices": ["dry", "oily"]},
              {"key": "note", "kind": "text", "choices": []},
              {"key": "shoe_size", "kind": "number", "choices": []},
              {"key": "member_since", "kind": "date", "choices": []}]

    async def m(key, op, val=""):
        rule = rules.parse_rule(one({"custom": {"key": key, "op": op, "value": val}}), fields)
        cond, args = rules.compile_rule(rule)
        rows = await raw(f"SELECT c.name FROM customer c WHERE {cond} ORDER BY c.name", *args)
        return [r["name"] for r in rows]

    assert await m("skin_type", "eq", "oily") == ["a"]
    assert await m("note", "contains", "rose") == ["a"]
    assert await m("note", "contains", "%") == []
    assert await m("note", "set") == ["a"]
    assert await m("note", "unset") == ["b", "c"]
    # numbers compare as numbers: "10" >= "9.5" though "10" < "9.5" as text
    assert await m("shoe_size", "gte", "9.5") == ["b", "c"]
    assert await m("shoe_size", "lte", "9") == ["a"]
    assert await m("shoe_size", "eq", "9.0") == ["a"]
    assert await m("member_since", "gte", "2024/1/1") == ["a"]
    assert await m("member_since", "lte", "20231231") == ["b"]


async def test_conditions_combine_with_and():
    await customer("a", lifecycle_stage="active", province="浙江", total_spent_fen=300_000)
    await customer("b", lifecycle_stage="active", province="上海", total_spent_fen=300_000)
    await customer("c", lifecycle_stage="dormant", province="浙江", total_spent_fen=300_000)
    rule = {"all": [{"lifecycle": ["active"]}, {"province": ["浙江"]},
                    {"total_spent": {"min": "1000"}}]}
    assert await matching(rule) == ["a"]


async def test_parse_normalises():
    rule = rules.parse_rule('{"all": [{"lifecycle": ["dormant", "active", "active"]},'
                            '{"total_spent": {"min": "1,000", "max": 2000}},'
                            '{"rfm": {"r": [null, 3]}}, {"city": [" 杭州 ", "杭州", ""]}]}')
    assert rule == {"all": [{"lifecycle": ["active", "dormant"]},
                            {"total_spent": {"min": "1000.00", "max": "2000.00"}},
                            {"rfm": {"r": [1, 3]}}, {"city": ["杭州"]}]}
    assert rules.parse_rule(rules.dumps(rule)) == rule


@pytest.mark.parametrize("rule, key", [
    ("not json", "rule"),
    ([], "rule"),
    ({"any": []}, "rule"),
    ({"all": []}, "rule"),
    ({"all": [{"colour": ["red"]}]}, "all.0"),
    ({"all": [{"lifecycle": ["active"], "city": ["杭州"]}]}, "all.0"),
    ({"all": [{"lifecycle": ["sleeping"]}]}, "all.0"),
    ({"all": [{"lifecycle": []}]}, "all.0"),
    ({"all": [{"rfm": {"r": [0, 6]}}]}, "all.0.r"),
    ({"all": [{"rfm": {"x": [1, 2]}}]}, "all.0"),
    ({"all": [{"rfm": {"r": [4, 2]}}]}, "all.0.r"),
    ({"all": [{"total_spent": {"min": "lots"}}]}, "all.0.min"),
    ({"all": [{"total_spent": {"min": 1.5}}]}, "all.0.min"),
    ({"all": [{"total_spent": {"min": "300", "max": "200"}}]}, "all.0.max"),
    ({"all": [{"total_spent": {}}]}, "all.0"),
    ({"all": [{"orders_count": {"min": -1}}]}, "all.0.min"),
    ({"all": [{"orders_count": {"min": True}}]}, "all.0.min"),
    ({"all": [{"channel": ["taobao"]}]}, "all.0"),
    ({"all": [{"province": "浙江"}]}, "all.0"),
    ({"all": [{"birthday_month": [13]}]}, "all.0"),
    ({"all": [{"custom": {"key": "x", "op": "like", "value": "a"}}]}, "all.0.op"),
    ({"all": [{"custom": {"key": "", "op": "eq", "value": "a"}}]}, "all.0.key"),
    ({"all": [{"custom": {"key": "x", "op": "eq", "value": ""}}]}, "all.0.value"),
    ({"all": [{"last_order": {"within_days": 0}}]}, "all.0.within_days"),
    ({"all": [{"last_order": {"within_days": 3, "over_days": 9}}]}, "all.0"),
    ({"all": [{"last_order": {"ago": 3}}]}, "all.0"),
    ({"all": [{"lifecycle": ["new"]}] * 21}, "rule"),
])
def test_bad_rules_name_the_bad_part(rule, key):
    with pytest.raises(ValidationFailed) as caught:
        rules.parse_rule(rule)
    assert key in caught.value.errors, caught.value.errors


def test_custom_conditions_are_checked_against_the_fields():
    fields = [{"key": "skin_type", "kind": "choice", "choices": ["dry", "oily"]},
              {"key": "size", "kind": "number", "choices": []},
              {"key": "since", "kind": "date", "choices": []}]
    cases = [({"key": "nope", "op": "eq", "value": "a"}, "all.0.key"),
             ({"key": "skin_type", "op": "eq", "value": "normal"}, "all.0.value"),
             ({"key": "skin_type", "op": "gte", "value": "dry"}, "all.0.op"),
             ({"key": "size", "op": "contains", "value": "1"}, "all.0.op"),
             ({"key": "size", "op": "gte", "value": "ten"}, "all.0.value"),
             ({"key": "since", "op": "lte", "value": "2024-02-30"}, "all.0.value")]
    for cond, key in cases:
        with pytest.raises(ValidationFailed) as caught:
            rules.parse_rule(one({"custom": cond}), fields)
        assert key in caught.value.errors, cond


async def test_values_never_become_sql():
    evil = "'); DROP TABLE c;--"
    await customer(evil, province=evil)
    assert await matching(one({"province": [evil]})) == [evil]
    assert await matching(one({"custom": {"key": evil[:40], "op": "contains", "value": evil}})) == []
    assert await Customer.count() == 1


async def rule_tag(name, rule):
    rows = await Tag.insert(Tag(name=name, rule=rules.dumps(rules.parse_rule(rule)),
                                created_at=now())).returning(Tag.id)
    return rows[0]["id"]


async def members(tag_id):
    rows = await raw("SELECT c.name FROM customer_tag ct JOIN customer c ON c.id = ct.customer "
                     "WHERE ct.tag = {} ORDER BY c.name", tag_id)
    return [r["name"] for r in rows]


async def test_refresh_adds_and_removes_members_and_is_idempotent():
    a = await customer("a", lifecycle_stage="active")
    b = await customer("b", lifecycle_stage="dormant")
    active = await rule_tag("活跃", one({"lifecycle": ["active"]}))
    await rules.refresh_rule_tags()
    assert await members(active) == ["a"]
    await rules.refresh_rule_tags()
    assert await members(active) == ["a"] and await CustomerTag.count() == 1
    await Customer.update({Customer.lifecycle_stage: "dormant"}).where(Customer.id == a)
    await Customer.update({Customer.lifecycle_stage: "active"}).where(Customer.id == b)
    await rules.refresh_rule_tags(tag_ids=[active])
    assert await members(active) == ["b"]


async def test_refresh_for_some_customers_leaves_the_rest():
    a = await customer("a", lifecycle_stage="active")
    b = await customer("b", lifecycle_stage="active")
    c = await customer("c", lifecycle_stage="dormant")
    tag = await rule_tag("活跃", one({"lifecycle": ["active"]}))
    await rules.refresh_rule_tags(customer_ids=[a, c])
    assert await members(tag) == ["a"]
    await Customer.update({Customer.lifecycle_stage: "dormant"}).where(Customer.id == a)
    await Customer.update({Customer.lifecycle_stage: "active"}).where(Customer.id == c)
    await rules.refresh_rule_tags(customer_ids=[c])  # a is stale but not asked about
    assert await members(tag) == ["a", "c"]
    await rules.refresh_rule_tags(customer_ids=[a, b])
    assert await members(tag) == ["b", "c"]
    await rules.refresh_rule_tags(customer_ids=[])
    assert await members(tag) == ["b", "c"]


async def test_refresh_in_chunks_of_many_customer_ids():
    ids = [await customer(f"c{i:04d}", lifecycle_stage="new") for i in range(rules.IDS_PER_STATEMENT + 20)]
    tag = await rule_tag("新客", one({"lifecycle": ["new"]}))
    await rules.refresh_rule_tags(customer_ids=ids)
    assert len(await members(tag)) == len(ids)


async def test_manual_tags_are_never_touched():
    a = await customer("a", lifecycle_stage="active")
    b = await customer("b", lifecycle_stage="prospect")
    manual = (await Tag.insert(Tag(name="VIP", created_at=now())).returning(Tag.id))[0]["id"]
    await CustomerTag.insert(CustomerTag(customer=b, tag=manual, created_at=now()))
    rule = await rule_tag("活跃", one({"lifecycle": ["active"]}))
    await rules.refresh_rule_tags()
    await rules.refresh_rule_tags(tag_ids=[manual, rule], customer_ids=[a, b])
    assert await members(manual) == ["b"]
    assert await members(rule) == ["a"]


async def test_an_unreadable_stored_rule_is_skipped_not_fatal():
    await customer("a", lifecycle_stage="active")
    bad = (await Tag.insert(Tag(name="坏", rule='{"all": [{"nope": 1}]}', created_at=now()))
           .returning(Tag.id))[0]["id"]
    good = await rule_tag("活跃", one({"lifecycle": ["active"]}))
    await rules.refresh_rule_tags()
    assert await members(bad) == [] and await members(good) == ["a"]


async def test_count_matches_respects_the_scope(make_user):
    from db.customers.tags import count_matches
    from db.staff.tables import Team

    user = await make_user("li.na", "staff", "华东门店组")
    team = (await Team.select(Team.id).first())["id"]
    await customer("mine", lifecycle_stage="active", owner=user, team=team)
    await customer("team", lifecycle_stage="active", team=team)
    await customer("other", lifecycle_stage="active")
    rule = one({"lifecycle": ["active"]})
    assert await count_matches(Scope.everything(), rule) == 3
    assert await count_matches(Scope.for_staff("staff", user, team), rule) == 2
    assert await count_matches(Scope.for_staff("manager", user, None), rule) == 0
