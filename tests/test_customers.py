"""The customer list, search, data scopes and the customer page, through the web layer."""

import re

from db.customers.scope import Scope
from db.actor import Actor
from db.customers.profile import parse_customer
from db.customers.service import upsert_customer
from db.customers.tables import Customer, Interaction
from db.staff.tables import StaffUser, Team


async def add_customer(name, mobile=None, email=None, owner=None, team=None, tags=()):
    customer_id, _ = await upsert_customer(
        parse_customer({"name": name, "mobile": mobile, "email": email, "tags": list(tags)}),
        Actor(None, "test"),
    )
    await Customer.update({Customer.owner: owner, Customer.team: team}).where(Customer.id == customer_id)
    return customer_id


async def team_id(name):
    return (await Team.select(Team.id).where(Team.name == name).first())["id"]


async def test_staff_see_own_and_unassigned_team_customers_only(signed_in, make_user):
    me = await signed_in("li.na", "staff", "华东门店组")
    colleague = await make_user("zhou.jie", "staff", "华东门店组")
    await make_user("other.team", "staff", "华南门店组")
    east, south = await team_id("华东门店组"), await team_id("华南门店组")
    mine = await add_customer("王芳", "13812345678", owner=me.user_id, team=east)
    unassigned = await add_customer("李娜", "13912345678", team=east)
    colleagues = await add_customer("张伟", "13712345678", owner=colleague, team=east)
    other_team = await add_customer("刘洋", "13612345678", team=south)
    for visible in (mine, unassigned):
        assert (await me.get(f"/customers/{visible}")).status_code == 200
    for hidden in (colleagues, other_team):
        response = await me.get(f"/customers/{hidden}")
        assert response.status_code == 404
        assert "张伟" not in response.text and "刘洋" not in response.text
    listing = (await me.get("/customers")).text
    assert "王芳" in listing and "李娜" in listing and "张伟" not in listing and "刘洋" not in listing


async def test_managers_see_their_team_and_admins_see_all(signed_in):
    manager = await signed_in("chen.mgr", "manager", "华东门店组")
    admin = await signed_in("boss", "admin", None)
    east = await team_id("华东门店组")
    await Team.insert(Team(name="华南门店组"))
    south = await team_id("华南门店组")
    ours = await add_customer("王芳", "13812345678", team=east)
    theirs = await add_customer("刘洋", "13612345678", team=south)
    assert (await manager.get(f"/customers/{ours}")).status_code == 200
    assert (await manager.get(f"/customers/{theirs}")).status_code == 404
    assert (await admin.get(f"/customers/{theirs}")).status_code == 200


async def test_scope_clause_and_allows_agree():
    staff = Scope.for_staff("staff", 7, 3)
    assert staff.allows(7, 9) and staff.allows(None, 3)
    assert not staff.allows(8, 3) and not staff.allows(None, 4) and not staff.allows(None, None)
    assert Scope.for_staff("manager", 1, None).clause()[0] == "1 = 0"


async def test_search_by_four_digits_name_and_email(signed_in):
    admin = await signed_in("boss", "admin", None)
    await add_customer("王芳", "13812345678", "wangfang@qq.com")
    await add_customer("王小明", "13987650000")
    await add_customer("李娜", "15011112222")
    await add_customer("Alice Wang", "15811112222")
    cases = {"al": ["Alice Wang"], "ALICE": ["Alice Wang"],"2345": ["王芳"], "5678": ["王芳"], "8765": ["王小明"], "王": ["王芳", "王小明"],
             "王小明": ["王小明"], "wangfang@": ["王芳"], "138 1234": ["王芳"], "+86 150": ["李娜"]}
    for query, expected in cases.items():
        page = (await admin.get("/customers", params={"q": query})).text
        found = sorted(n for n in ("王芳", "王小明", "李娜", "Alice Wang") if f">{n}<" in page)
        assert found == sorted(expected), query


async def test_search_as_you_type_returns_a_fragment(signed_in):
    admin = await signed_in("boss", "admin", None)
    await add_customer("王芳", "13812345678")
    fragment = await admin.get("/customers", params={"q": "王"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "王芳" in fragment.text
    assert "<html" not in fragment.text and 'id="q"' not in fragment.text
    assert "HX-Request" in fragment.headers["vary"]
    full = await admin.get("/customers", params={"q": "王"})
    assert "<html" in full.text and "王芳" in full.text


async def test_endless_scrolling_pages_through_everyone_once(signed_in):
    admin = await signed_in("boss", "admin", None)
    for i in range(45):
        await add_customer(f"客户{i:02d}", f"1380000{i:04d}")
    seen, url = [], "/customers"
    while url:
        response = await admin.get(url, headers={"HX-Request": "true"})
        seen += re.findall(r'href="/customers/(\d+)"', response.text)
        found = re.search(r'hx-get="(/customers\?[^"]*before=\d+[^"]*)"', response.text)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert len(seen) == 45 and len(set(seen)) == 45


async def test_filter_by_tag(signed_in):
    admin = await signed_in("boss", "admin", None)
    await add_customer("王芳", "13812345678", tags=["VIP"])
    await add_customer("李娜", "13912345678", tags=["母婴人群"])
    from db.customers.tables import Tag

    vip = (await Tag.select(Tag.id).where(Tag.name == "VIP").first())["id"]
    page = (await admin.get("/customers", params={"tag": vip})).text
    assert "王芳" in page and "李娜" not in page
    page = (await admin.get("/customers", params={"tag": vip, "q": "李"})).text
    assert "李娜" not in page


async def test_markup_and_sql_in_names_and_searches_are_just_text(signed_in):
    admin = await signed_in("boss", "admin", None)
    evil = "<script>alert(1)</script>'; DROP TABLE customer; --"
    customer_id = await add_customer(evil, "13812345678")
    page = await admin.get(f"/customers/{customer_id}")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    for query in ("<script>", "'; DROP TABLE customer; --", "%", "_", '"', "\\", "' OR 1=1 --"):
        response = await admin.get("/customers", params={"q": query})
        assert response.status_code == 200
    hits = (await admin.get("/customers", params={"q": "DROP TABLE"})).text
    assert "DROP TABLE" in hits
    assert "王" not in (await admin.get("/customers", params={"q": "%"})).text
    assert await Customer.count() == 1


async def test_customer_page_shows_profile_orders_and_interactions(signed_in):
    admin = await signed_in("boss", "admin", None)
    from db.orders.ingest import ingest_order, parse_order

    await ingest_order(parse_order({
        "channel": "tmall", "external_id": "TM-1", "customer": {"mobile": "13812345678", "name": "王芳"},
        "placed_at": "2024-03-05T10:00:00+08:00", "status": "paid", "total": "1299.50",
        "items": [{"sku": "A1", "name": "保湿面霜", "qty": 1, "price": "1299.50"}]}), Actor(None, "t"))
    customer_id = (await Customer.select(Customer.id).first())["id"]
    response = await admin.get(f"/customers/{customer_id}")
    page = response.text
    assert response.status_code == 200, page[-3000:]
    for text in ("王芳", "TM-1", "¥1,299.50", "保湿面霜"):
        assert text in page, text
    assert 'href="tel:+8613812345678"' in page


async def test_add_interaction_with_htmx_updates_the_timeline(signed_in):
    me = await signed_in("li.na", "staff", "华东门店组")
    customer_id = await add_customer("王芳", "13812345678", owner=me.user_id)
    response = await me.post(f"/customers/{customer_id}/interactions",
                             data={"kind": "call", "body": "回访：很满意，下月再联系"},
                             headers={"HX-Request": "true", "X-CSRFToken": me.csrf})
    assert response.status_code == 200
    assert 'id="timeline"' in response.text and "<html" not in response.text
    assert "回访：很满意" in response.text
    row = await Interaction.select().first()
    assert row["staff"] == me.user_id and row["kind"] == "call"


async def test_add_interaction_without_javascript_redirects(signed_in):
    me = await signed_in("li.na", "staff", "华东门店组")
    customer_id = await add_customer("王芳", "13812345678", owner=me.user_id)
    response = await me.post(f"/customers/{customer_id}/interactions",
                             data={"kind": "visit", "body": "到店试用", "_csrf_token": me.csrf},
                             follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].endswith("#timeline")


async def test_bad_interaction_shows_field_errors_and_saves_nothing(signed_in):
    me = await signed_in("li.na", "staff", "华东门店组")
    customer_id = await add_customer("王芳", "13812345678", owner=me.user_id)
    response = await me.post(f"/customers/{customer_id}/interactions",
                             data={"kind": "fax", "body": "  "},
                             headers={"HX-Request": "true", "X-CSRFToken": me.csrf})
    assert response.status_code == 200 and 'aria-invalid="true"' in response.text
    assert await Interaction.count() == 0


async def test_cannot_log_on_someone_elses_customer(signed_in, make_user):
    me = await signed_in("li.na", "staff", "华东门店组")
    other = await make_user("zhou.jie", "staff", "华东门店组")
    customer_id = await add_customer("王芳", "13812345678", owner=other)
    response = await me.post(f"/customers/{customer_id}/interactions",
                             data={"kind": "call", "body": "x"}, headers={"X-CSRFToken": me.csrf})
    assert response.status_code == 404
    assert await Interaction.count() == 0


async def test_create_customer_by_hand_and_refuse_duplicates(signed_in):
    me = await signed_in("li.na", "staff", "华东门店组")
    response = await me.post("/customers/new", data={
        "name": "赵敏", "mobile": "139 1234 5678", "gender": "female", "_csrf_token": me.csrf},
        follow_redirects=False)
    assert response.status_code == 303
    row = await Customer.select().first()
    assert row["mobile"] == "+8613912345678" and row["owner"] == me.user_id
    again = await me.post("/customers/new", data={"name": "赵敏", "mobile": "13912345678",
                                                 "_csrf_token": me.csrf})
    assert again.status_code == 200 and 'aria-invalid="true"' in again.text
    bad = await me.post("/customers/new", data={"name": "", "mobile": "12345", "email": "x@",
                                               "_csrf_token": me.csrf})
    assert bad.text.count('aria-invalid="true"') == 3
    assert await Customer.count() == 1
    assert await StaffUser.count() == 1


async def test_bad_interaction_without_javascript_shows_the_whole_page_with_errors(signed_in):
    me = await signed_in("li.na", "staff", "华东门店组")
    customer_id = await add_customer("王芳", "13812345678", owner=me.user_id)
    response = await me.post(f"/customers/{customer_id}/interactions",
                             data={"kind": "call", "body": "", "_csrf_token": me.csrf})
    assert response.status_code == 200
    assert "<html" in response.text and 'aria-invalid="true"' in response.text
    assert await Interaction.count() == 0
