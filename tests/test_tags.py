"""Tag management and the admin settings pages, through the web layer (both engines)."""

import datetime as dt
import json
import re

from db.audit.tables import AuditEntry
from db.clock import now
from db.customers import tags as tag_domain
from db.customers.scope import Scope
from db.customers.tables import Customer, CustomerTag, CustomField, Tag
from db.errors import ValidationFailed
from db.staff.tables import Team

_seq = iter(range(10_000, 99_999))


async def customer(name, **fields):
    stamp = now()
    defaults = dict(mobile=f"+86139000{next(_seq):05d}", search_text=name, created_at=stamp,
                    updated_at=stamp)
    rows = await Customer.insert(Customer(name=name, **{**defaults, **fields})).returning(Customer.id)
    return rows[0]["id"]


async def team_id(name="华东门店组"):
    return (await Team.select(Team.id).where(Team.name == name).first())["id"]


async def as_role(signed_in, role, name=None, team="华东门店组"):
    c = await signed_in(name or f"{role}.user", role, team)
    c.headers["Accept-Language"] = "en"
    return c


def form(c, **values):
    return {"_csrf_token": c.csrf, **values}


HX = {"HX-Request": "true"}


async def test_everyone_sees_tags_but_only_managers_and_admins_change_them(signed_in):
    staff = await as_role(signed_in, "staff")
    tag_id = await tag_domain.create_tag("VIP", "purple", "Big spenders")
    listing = await staff.get("/tags")
    assert listing.status_code == 200 and "VIP" in listing.text and 'href="/tags/new"' not in listing.text
    page = await staff.get(f"/tags/{tag_id}")
    assert page.status_code == 200 and "Big spenders" in page.text and "/edit" not in page.text
    for url in ("/tags/new", f"/tags/{tag_id}/edit", f"/tags/{tag_id}/delete"):
        assert (await staff.get(url)).status_code == 403, url
    for url in ("/tags/new", f"/tags/{tag_id}/edit", f"/tags/{tag_id}/delete", "/tags/builder", "/tags/preview"):
        response = await staff.post(url, data=form(staff, name="x", color="blue", kind="manual"))
        assert response.status_code == 403, url
    assert await Tag.count() == 1 and (await Tag.select().first())["name"] == "VIP"
    manager = await as_role(signed_in, "manager", "chen.mgr")
    assert 'href="/tags/new"' in (await manager.get("/tags")).text
    assert (await manager.get("/tags/new")).status_code == 200


async def test_signed_out_visitors_are_sent_to_sign_in(client):
    for url in ("/tags", "/tags/new", "/settings/fields", "/settings/lifecycle"):
        response = await client.get(url, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


async def test_manager_creates_a_manual_tag(signed_in):
    manager = await as_role(signed_in, "manager")
    response = await manager.post("/tags/new", data=form(manager, name=" 老客户 ", color="amber",
                                                         description="Known for years", kind="manual"),
                                  follow_redirects=False)
    assert response.status_code == 303
    tag = await Tag.select().first()
    assert (tag["name"], tag["color"], tag["rule"]) == ("老客户", "amber", "")
    assert response.headers["location"] == f"/tags/{tag['id']}?msg=created"
    page = (await manager.get(response.headers["location"])).text
    assert "Tag created." in page and "Manual tag" in page
    entry = await AuditEntry.select().where(AuditEntry.action == "tag.create").first()
    assert entry["target_id"] == tag["id"] and entry["actor"] == "manager.user"


async def test_rule_tag_from_the_form_gets_its_members_at_once(signed_in):
    admin = await as_role(signed_in, "admin", "boss", None)
    a = await customer("王芳", lifecycle_stage="active", total_spent_fen=300_000)
    await customer("李娜", lifecycle_stage="active", total_spent_fen=10_000)
    await customer("张伟", lifecycle_stage="churned", total_spent_fen=900_000)
    response = await admin.post("/tags/new", data=form(
        admin, name="高价值活跃", color="green", kind="rule",
        **{"c-0-type": "lifecycle", "c-0-choices": ["active", "new"],
           "c-1-type": "total_spent", "c-1-min": "1,000", "c-1-max": ""}), follow_redirects=False)
    assert response.status_code == 303, response.text
    tag = await Tag.select().first()
    assert tag["rule"] and await CustomerTag.select(CustomerTag.customer).where(
        CustomerTag.tag == tag["id"]) == [{"customer": a}]
    page = (await admin.get(f"/tags/{tag['id']}")).text
    assert "Rule tag" in page and "at least ¥1,000.00" in page and f'href="/customers?tag={tag["id"]}"' in page
    listing = (await admin.get("/customers", params={"tag": tag["id"]})).text
    assert "王芳" in listing and "李娜" not in listing and "张伟" not in listing


async def test_bad_rule_is_shown_next_to_its_condition_and_nothing_is_saved(signed_in):
    manager = await as_role(signed_in, "manager")
    response = await manager.post("/tags/new", data=form(
        manager, name="坏规则", color="blue", kind="rule",
        **{"c-0-type": "lifecycle",
           "c-1-type": "total_spent", "c-1-min": "lots",
           "c-2-type": "orders_count", "c-2-min": "5", "c-2-max": "2",
           "c-3-type": "last_order", "c-3-when": "within_days", "c-3-days": "0"}))
    assert response.status_code == 200 and "<html" in response.text
    page = response.text
    assert "choose at least one stage" in page
    assert "an amount like 500.00" in page
    assert "must not be less than the minimum" in page
    assert "a whole number from 1 to 36500" in page
    assert 'value="坏规则"' in page and 'value="lots"' in page  # what was typed stays
    assert await Tag.count() == 0


async def test_rule_tag_needs_a_condition_and_names_are_unique(signed_in):
    manager = await as_role(signed_in, "manager")
    await tag_domain.create_tag("VIP", "blue")
    page = (await manager.post("/tags/new", data=form(manager, name="空", color="blue", kind="rule"))).text
    assert "add at least one condition" in page
    page = (await manager.post("/tags/new", data=form(manager, name="vip", color="blue", kind="manual"))).text
    assert "a tag with this name already exists" in page
    page = (await manager.post("/tags/new", data=form(manager, name="", color="pink", kind="manual"))).text
    assert "required" in page and "one of blue, green, amber, red, purple, neutral" in page
    assert await Tag.count() == 1


async def test_editing_a_rule_tag_recomputes_its_members(signed_in):
    manager = await as_role(signed_in, "manager")
    east = await team_id()
    await customer("杭州客户", city="杭州", team=east)
    await customer("宁波客户", city="宁波", team=east)
    tag_id = await tag_domain.create_tag("杭州", "blue", rule={"all": [{"city": ["杭州"]}]})
    page = (await manager.get(f"/tags/{tag_id}/edit")).text
    assert 'value="杭州"' in page and 'name="c-0-names"' in page
    response = await manager.post(f"/tags/{tag_id}/edit", data=form(
        manager, name="杭州宁波", color="red", **{"c-0-type": "city", "c-0-names": "杭州，宁波"}),
        follow_redirects=False)
    assert response.status_code == 303
    assert await CustomerTag.count().where(CustomerTag.tag == tag_id) == 2
    tag = await Tag.select().where(Tag.id == tag_id).first()
    assert (tag["name"], tag["color"]) == ("杭州宁波", "red")
    entry = await AuditEntry.select().where(AuditEntry.action == "tag.update").first()
    detail = entry["detail"]
    assert (json.loads(detail) if isinstance(detail, str) else detail)["fields"] == ["color", "name", "rule"]


async def test_a_manual_tag_keeps_its_members_and_never_gets_a_rule(signed_in):
    manager = await as_role(signed_in, "manager")
    c = await customer("王芳")
    tag_id = await tag_domain.create_tag("VIP", "blue")
    await CustomerTag.insert(CustomerTag(customer=c, tag=tag_id, created_at=now()))
    response = await manager.post(f"/tags/{tag_id}/edit", data=form(
        manager, name="VIP+", color="blue", **{"c-0-type": "city", "c-0-names": "上海"}),
        follow_redirects=False)
    assert response.status_code == 303
    assert (await Tag.select().first())["rule"] == ""
    assert await CustomerTag.count() == 1
    try:
        await tag_domain.update_tag(tag_id, "VIP", "blue", rule={"all": [{"city": ["上海"]}]})
        raise AssertionError("a manual tag took a rule")
    except ValidationFailed as exc:
        assert "rule" in exc.errors


async def test_delete_asks_first_then_removes_tag_and_memberships(signed_in):
    manager = await as_role(signed_in, "manager")
    c = await customer("王芳")
    tag_id = await tag_domain.create_tag("VIP", "blue")
    await CustomerTag.insert(CustomerTag(customer=c, tag=tag_id, created_at=now()))
    page = (await manager.get(f"/tags/{tag_id}")).text
    assert 'data-open-sheet="delete-sheet"' in page and f'action="/tags/{tag_id}/delete"' in page
    confirm = await manager.get(f"/tags/{tag_id}/delete")
    assert confirm.status_code == 200 and "Delete “VIP”?" in confirm.text
    assert await Tag.count() == 1
    response = await manager.post(f"/tags/{tag_id}/delete", data=form(manager), follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/tags?msg=deleted"
    assert await Tag.count() == 0 and await CustomerTag.count() == 0 and await Customer.count() == 1
    assert await AuditEntry.count().where(AuditEntry.action == "tag.delete") == 1
    assert (await manager.post(f"/tags/{tag_id}/delete", data=form(manager))).status_code == 404


async def test_counts_are_of_customers_in_the_viewers_scope(signed_in):
    manager = await as_role(signed_in, "manager")
    admin = await as_role(signed_in, "admin", "boss", None)
    east = await team_id()
    await Team.insert(Team(name="华南门店组"))
    south = await team_id("华南门店组")
    for i, team in enumerate([east, east, south]):
        await customer(f"客户{i}", lifecycle_stage="active", team=team)
    tag_id = await tag_domain.create_tag("活跃", "green", rule={"all": [{"lifecycle": ["active"]}]})
    assert [t["count"] for t in await tag_domain.list_tags(Scope.for_staff("manager", 1, east))] == [2]
    assert [t["count"] for t in await tag_domain.list_tags(Scope.everything())] == [3]
    assert re.search(r'tag-count num">2<', (await manager.get("/tags")).text)
    assert re.search(r'tag-count num">3<', (await admin.get("/tags")).text)
    preview = await manager.post("/tags/preview", headers=HX, data=form(
        manager, tag_id=str(tag_id), **{"c-0-type": "lifecycle", "c-0-choices": "active"}))
    assert "2 customers match" in preview.text


async def test_preview_counts_live_as_a_fragment_and_as_a_page(signed_in):
    admin = await as_role(signed_in, "admin", "boss", None)
    await customer("a", lifecycle_stage="dormant", rfm_r=1)
    await customer("b", lifecycle_stage="dormant", rfm_r=4)
    data = form(admin, kind="rule", **{"c-0-type": "lifecycle", "c-0-choices": "dormant",
                                       "c-1-type": "rfm", "c-1-r_min": "3"})
    fragment = await admin.post("/tags/preview", headers=HX, data=data)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'id="rule-count"' in fragment.text and "1 customer matches" in fragment.text
    assert 'name="name"' not in fragment.text
    full = await admin.post("/tags/preview", data=data)
    assert full.status_code == 200 and "<html" in full.text and "1 customer matches" in full.text
    incomplete = await admin.post("/tags/preview", headers=HX, data=form(
        admin, kind="rule", **{"c-0-type": "lifecycle"}))
    assert "Complete the conditions" in incomplete.text
    assert (await admin.post("/tags/preview", headers=HX, data=form(admin, tag_id="999"))).status_code == 404


async def test_builder_adds_and_removes_conditions(signed_in):
    manager = await as_role(signed_in, "manager")
    data = form(manager, name="草稿", color="blue", kind="rule",
                **{"c-0-type": "lifecycle", "c-0-choices": "active",
                   "c-1-type": "city", "c-1-names": "杭州", "add": "1", "add_type": "birthday_month"})
    fragment = await manager.post("/tags/builder", headers=HX, data=data)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'id="rule-builder"' in fragment.text and 'name="name"' not in fragment.text
    assert 'name="c-2-type" value="birthday_month"' in fragment.text and 'value="杭州"' in fragment.text
    full = await manager.post("/tags/builder", data=data)  # without JavaScript: the whole form
    assert "<html" in full.text and 'value="草稿"' in full.text and 'name="c-2-type"' in full.text
    removed = await manager.post("/tags/builder", headers=HX, data=form(
        manager, kind="rule", remove="0",
        **{"c-0-type": "lifecycle", "c-0-choices": "active", "c-1-type": "city", "c-1-names": "杭州"}))
    assert 'name="c-0-type" value="city"' in removed.text and "lifecycle" not in removed.text.split("add-type")[0]
    assert await Tag.count() == 0


async def test_custom_field_condition_in_the_builder(signed_in):
    from db.customers.fields import create_field, set_values

    admin = await as_role(signed_in, "admin", "boss", None)
    await create_field("skin_type", "Skin type", "choice", ["dry", "oily"])
    await create_field("shoe_size", "Shoe size", "number")
    a, b = await customer("a"), await customer("b")
    await set_values(a, {"skin_type": "oily", "shoe_size": "10"})
    await set_values(b, {"skin_type": "dry", "shoe_size": "9"})
    builder = await admin.post("/tags/builder", headers=HX, data=form(
        admin, kind="rule", **{"c-0-type": "custom", "c-0-key": "skin_type"}))
    assert '<option value="oily"' in builder.text and 'value="contains"' not in builder.text
    preview = await admin.post("/tags/preview", headers=HX, data=form(
        admin, kind="rule", **{"c-0-type": "custom", "c-0-key": "shoe_size", "c-0-op": "gte", "c-0-value": "9.5"}))
    assert "1 customer matches" in preview.text
    bad = await admin.post("/tags/new", data=form(
        admin, name="油皮", color="blue", kind="rule",
        **{"c-0-type": "custom", "c-0-key": "skin_type", "c-0-op": "eq", "c-0-value": "normal"}))
    assert "not one of the options" in bad.text and await Tag.count() == 0
    await admin.post("/tags/new", data=form(
        admin, name="油皮", color="blue", kind="rule",
        **{"c-0-type": "custom", "c-0-key": "skin_type", "c-0-op": "eq", "c-0-value": "oily"}))
    tag = await Tag.select().first()
    assert await CustomerTag.select(CustomerTag.customer).where(CustomerTag.tag == tag["id"]) == [{"customer": a}]
    assert "Skin type is “oily”" in (await admin.get(f"/tags/{tag['id']}")).text


async def test_more_page_rows_by_role(signed_in):
    staff = await as_role(signed_in, "staff")
    admin = await as_role(signed_in, "admin", "boss", None)
    page = (await staff.get("/more")).text
    assert 'href="/tags"' in page and "/settings/fields" not in page
    page = (await admin.get("/more")).text
    assert 'href="/settings/fields"' in page and 'href="/settings/lifecycle"' in page


# ---------------------------------------------------------------- settings


async def test_only_admins_open_settings(signed_in):
    for role in ("staff", "manager"):
        c = await as_role(signed_in, role, f"{role}.x")
        for url in ("/settings/fields", "/settings/fields/new", "/settings/lifecycle"):
            assert (await c.get(url)).status_code == 403, (role, url)
        response = await c.post("/settings/fields/new", data=form(c, key="k", label="K", kind="text"))
        assert response.status_code == 403
        response = await c.post("/settings/lifecycle", data=form(c, new_days="1", active_days="2", dormant_days="3"))
        assert response.status_code == 403
    assert await CustomField.count() == 0


async def test_admin_adds_edits_reorders_and_deletes_fields(signed_in):
    admin = await as_role(signed_in, "admin", "boss", None)
    response = await admin.post("/settings/fields/new", data=form(
        admin, key="skin_type", label="Skin type", kind="choice", choices="dry\noily"), follow_redirects=False)
    assert response.status_code == 303
    await admin.post("/settings/fields/new", data=form(admin, key="shoe_size", label="Shoe size", kind="number"))
    fields = await CustomField.select().order_by(CustomField.position)
    assert [f["key"] for f in fields] == ["skin_type", "shoe_size"]
    page = (await admin.get("/settings/fields")).text
    assert "Skin type" in page and "dry, oily" in page
    bad = await admin.post("/settings/fields/new", data=form(admin, key="Bad Key", label="", kind="colour"))
    assert bad.status_code == 200 and "lowercase letters, digits and _" in bad.text and await CustomField.count() == 2
    skin, size = fields[0]["id"], fields[1]["id"]
    edit = await admin.get(f"/settings/fields/{skin}")
    assert edit.status_code == 200 and "dry\noily" in edit.text
    await admin.post(f"/settings/fields/{skin}", data=form(admin, label="肤质", choices="dry, oily, combination"))
    updated = await CustomField.select().where(CustomField.id == skin).first()
    assert updated["label"] == "肤质" and "combination" in updated["choices"]
    bad = await admin.post(f"/settings/fields/{skin}", data=form(admin, label="", choices=""))
    assert "required" in bad.text and "at least one option" in bad.text
    fragment = await admin.post(f"/settings/fields/{size}/move", headers=HX, data=form(admin, direction="up"))
    assert fragment.status_code == 200 and "<html" not in fragment.text and 'id="fields"' in fragment.text
    assert fragment.text.index("Shoe size") < fragment.text.index("肤质")
    full = await admin.post(f"/settings/fields/{size}/move", data=form(admin, direction="down"), follow_redirects=False)
    assert full.status_code == 303
    order = [f["key"] for f in await CustomField.select().order_by(CustomField.position)]
    assert order == ["skin_type", "shoe_size"]
    confirm = await admin.get(f"/settings/fields/{size}/delete")
    assert confirm.status_code == 200 and "Delete “Shoe size”?" in confirm.text
    response = await admin.post(f"/settings/fields/{size}/delete", data=form(admin), follow_redirects=False)
    assert response.status_code == 303 and await CustomField.count() == 1
    assert (await admin.get(f"/settings/fields/{size}")).status_code == 404


async def test_lifecycle_thresholds_are_saved_and_everyone_recomputed(signed_in):
    from db.customers.lifecycle import thresholds
    from db.orders.tables import Order

    admin = await as_role(signed_in, "admin", "boss", None)
    c = await customer("王芳")
    stamp = now()
    await Order.insert(Order(channel="tmall", external_id="T1", customer=c, status="paid", total_fen=100,
                             placed_at=stamp - dt.timedelta(days=400), created_at=stamp, updated_at=stamp))
    await Order.insert(Order(channel="tmall", external_id="T2", customer=c, status="paid", total_fen=100,
                             placed_at=stamp - dt.timedelta(days=60), created_at=stamp, updated_at=stamp))
    page = (await admin.get("/settings/lifecycle")).text
    assert 'value="30"' in page and 'value="90"' in page and 'value="180"' in page
    response = await admin.post("/settings/lifecycle", data=form(
        admin, new_days="14", active_days="45", dormant_days="120"), follow_redirects=False)
    assert response.status_code == 303
    assert await thresholds() == {"new_days": 14, "active_days": 45, "dormant_days": 120}
    assert (await Customer.select(Customer.lifecycle_stage).first())["lifecycle_stage"] == "dormant"
    assert "Thresholds saved" in (await admin.get(response.headers["location"])).text
    bad = await admin.post("/settings/lifecycle", data=form(
        admin, new_days="abc", active_days="45", dormant_days="40"))
    assert bad.status_code == 200 and "a whole number of days from 1 to 3650" in bad.text
    assert await thresholds() == {"new_days": 14, "active_days": 45, "dormant_days": 120}
