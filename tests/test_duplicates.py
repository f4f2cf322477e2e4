"""Duplicates: exact identities never make a second customer; likely duplicates are found by
name with evidence, reviewed at /customers/duplicates, dismissed or merged."""

import re

from db.audit.tables import AuditEntry
from db.customers import duplicates
from db.customers.scope import Scope
from db.actor import Actor
from db.customers.profile import parse_customer
from db.customers.service import upsert_customer
from db.customers.tables import Customer, DuplicateDismissal
from db.orders.ingest import ingest_order, parse_order
from db.staff.tables import Team

ALL = Scope.everything()
ACTOR = Actor(None, "test")


async def add(name, mobile=None, email=None, **extra):
    data = {"name": name, "mobile": mobile, "email": email}
    data.update({k: v for k, v in extra.items() if k in ("city", "province", "birthday")})
    customer_id, _ = await upsert_customer(parse_customer(data), ACTOR)
    more = {k: v for k, v in extra.items() if k in ("address", "team", "owner")}
    if more:
        await Customer.update({getattr(Customer, k): v for k, v in more.items()}).where(
            Customer.id == customer_id)
    return customer_id


async def all_pairs(scope=ALL, limit=50):
    pairs, _ = await duplicates.find_likely_duplicates(scope, limit=limit)
    return {(p["a"]["id"], p["b"]["id"]) if p["a"]["id"] < p["b"]["id"] else (p["b"]["id"], p["a"]["id"]): p
            for p in pairs}


# ---------------------------------------------------------------- exact duplicates


async def test_api_never_creates_a_second_customer_for_the_same_mobile_or_email(api):
    first = await api.post("/api/v1/customers", json={"name": "王芳", "mobile": "+86 138 0013 8000"})
    again = await api.post("/api/v1/customers", json={"name": "王芳", "mobile": "13800138000"})
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    by_mail = await api.post("/api/v1/customers", json={"name": "Li Na", "email": "Li.Na@Example.COM"})
    by_mail_again = await api.post("/api/v1/customers", json={"name": "Li Na", "email": "li.na@example.com"})
    assert by_mail.json()["id"] == by_mail_again.json()["id"]
    assert await Customer.count() == 2


async def test_order_ingest_never_creates_a_second_customer():
    customer_id = await add("王芳", "+86 138 0013 8000")
    base = {"channel": "jd", "placed_at": "2024-03-05T14:30:00+08:00", "total": "10.00"}
    _, by_mobile, _ = await ingest_order(parse_order(
        {**base, "external_id": "JD1", "customer": {"name": "王芳", "mobile": "13800138000"}}), ACTOR)
    mail_id = await add("李娜", email="LiNa@QQ.com")
    _, by_mail, _ = await ingest_order(parse_order(
        {**base, "external_id": "JD2", "customer": {"name": "李娜", "email": "lina@qq.com"}}), ACTOR)
    assert (by_mobile, by_mail) == (customer_id, mail_id)
    assert await Customer.count() == 2


async def test_new_customer_form_refuses_an_existing_mobile_or_email(signed_in):
    staff = await signed_in("li.na", "staff", "华东门店组")
    await add("王芳", "+86 138 0013 8000", "wangfang@qq.com")
    for fields in ({"mobile": "13800138000"}, {"email": "WANGFANG@qq.com"}):
        response = await staff.post("/customers/new", data={"name": "王芳", "_csrf_token": staff.csrf, **fields},
                                    headers={"Accept-Language": "en"}, follow_redirects=False)
        assert response.status_code == 200
        assert "already exists" in response.text
    assert await Customer.count() == 1


# ---------------------------------------------------------------- likely duplicates


async def test_same_name_with_similar_mobile_email_address_or_city_and_birthday():
    a = await add("王芳", "13812345678")
    b = await add("王 芳", "13812345679")  # one digit off; a space in the name
    c = await add("李娜", "13900001111", "lina@qq.com")
    d = await add("李娜", "15000002222", "lina@163.com")  # same local part elsewhere
    e = await add("张伟", "13700001111", address="浙江省杭州市西湖区文三路 100 号")
    f = await add("张伟", "18600002222", address="浙江省杭州市西湖区文三路100号")
    g = await add("刘洋", "13600001111", city="杭州市", birthday="1990-05-17")
    h = await add("刘洋", "18900002222", city="杭州市", birthday="1990-05-17")
    i = await add("陈静", "13500001111")
    j = await add("陈静", "18800005555")  # same name only: not a likely duplicate
    k = await add("Alice Wang", "13512345678")
    m = await add("alice wang", "13512345678".replace("5678", "5687"))  # a swap: distance 2
    found = await all_pairs()
    assert set(found) == {(a, b), (c, d), (e, f), (g, h), (k, m)}
    assert found[(a, b)]["evidence"]["mobile"] == {"how": "distance1", "detail": 1}
    assert found[(c, d)]["evidence"]["email"]["how"] == "same_local"
    assert found[(e, f)]["evidence"]["address"]["how"] == "same"
    assert found[(g, h)]["evidence"] == {"city_birthday": {"how": "same", "detail": None}}
    assert found[(k, m)]["evidence"]["mobile"]["how"] == "distance2"
    assert all(50 < p["score"] < 100 for p in found.values())
    assert (i, j) not in found
    pair = found[(a, b)]
    assert pair["a"]["mobile_masked"] == "138****5678"


async def test_same_last_eight_digits_and_similar_email():
    a = await add("黄磊", "13812345678", "huanglei1990@qq.com")
    b = await add("黄磊", "15912345678", "huanglei1991@qq.com")
    pair = (await all_pairs())[(a, b)]
    assert pair["evidence"]["mobile"]["how"] == "last8"
    assert pair["evidence"]["email"]["how"] == "similar"
    assert pair["score"] == 99


async def test_suggested_survivor_is_the_one_with_more_orders_then_the_older():
    older = await add("王芳", "13812345678")
    newer = await add("王芳", "13812345679")
    pair = (await all_pairs())[(older, newer)]
    assert (pair["a"]["id"], pair["b"]["id"]) == (older, newer)
    base = {"channel": "jd", "placed_at": "2024-03-05T14:30:00+08:00", "total": "10.00"}
    await ingest_order(parse_order({**base, "external_id": "JD1",
                                    "customer": {"name": "王芳", "mobile": "13812345679"}}), ACTOR)
    pair = (await all_pairs())[(older, newer)]
    assert pair["a"]["id"] == newer and pair["a"]["orders_count"] == 1


async def test_pages_follow_the_cursor_and_cover_every_pair(monkeypatch):
    monkeypatch.setattr(duplicates, "KEYS_PER_QUERY", 2)
    monkeypatch.setattr(duplicates, "ROWS_PER_QUERY", 3)
    expected = set()
    for n, surname in enumerate("赵钱孙李周吴郑王冯陈"):
        first = await add(surname + "一", f"1381234{n:02d}00")
        second = await add(surname + "一", f"1381234{n:02d}01")
        await add(surname + "二", f"1391234{n:02d}00")  # a name with one customer only
        expected.add((first, second))
    seen, cursor, calls = set(), None, 0
    while True:
        pairs, cursor = await duplicates.find_likely_duplicates(ALL, limit=3, after=cursor)
        calls += 1
        for p in pairs:
            seen.add(tuple(sorted((p["a"]["id"], p["b"]["id"]))))
        if cursor is None:
            break
    assert seen == expected and calls >= 4


async def test_dismissed_pairs_are_left_out_and_dismissing_twice_is_fine():
    a = await add("王芳", "13812345678")
    b = await add("王芳", "13812345679")
    await duplicates.dismiss_pair(ALL, b, a, Actor(7, "boss"))
    await duplicates.dismiss_pair(ALL, a, b, Actor(7, "boss"))
    assert await all_pairs() == {}
    assert await DuplicateDismissal.count() == 1
    row = await DuplicateDismissal.select().first()
    assert (row["low_id"], row["high_id"], row["actor_id"]) == (a, b, 7)
    entries = await AuditEntry.select().where(
        AuditEntry.action == "customer.duplicate_dismiss").output(load_json=True)
    assert len(entries) == 1 and entries[0]["detail"] == {"other_id": b}


async def test_pairs_are_found_only_inside_the_scope():
    await Team.insert(Team(name="东"), Team(name="南"))
    east, south = [r["id"] for r in await Team.select(Team.id).order_by(Team.id)]
    a = await add("王芳", "13812345678", team=east)
    b = await add("王芳", "13812345679", team=east)
    c = await add("李娜", "13912345678", team=east)
    d = await add("李娜", "13912345679", team=south)
    assert set(await all_pairs(Scope("team", 1, east))) == {(a, b)}
    assert set(await all_pairs(Scope("team", 1, south))) == set()
    assert set(await all_pairs()) == {(a, b), (c, d)}
    import pytest
    from db.errors import NotFound
    with pytest.raises(NotFound):
        await duplicates.dismiss_pair(Scope("team", 1, east), c, d, ACTOR)
    assert await DuplicateDismissal.count() == 0


# ---------------------------------------------------------------- the review page


EN = {"Accept-Language": "en"}


async def test_review_page_for_managers_and_admins_only(signed_in):
    a = await add("王芳", "13812345678", "wangfang@qq.com")
    b = await add("王芳", "13812345679")
    staff = await signed_in("li.na", "staff", "华东门店组")
    assert (await staff.get("/customers/duplicates")).status_code == 403
    assert (await staff.post("/customers/duplicates/dismiss", data={"a": a, "b": b, "_csrf_token": staff.csrf})).status_code == 403
    assert (await staff.get(f"/customers/duplicates/merge?survivor={a}&merged={b}")).status_code == 403
    assert "/customers/duplicates" not in (await staff.get("/more")).text
    admin = await signed_in("boss", "admin", None)
    assert "/customers/duplicates" in (await admin.get("/more")).text
    page = await admin.get("/customers/duplicates", headers=EN)
    assert page.status_code == 200 and "<html" in page.text
    assert f'id="pair-{a}-{b}"' in page.text
    assert "138****5678" in page.text and "138****5679" in page.text
    assert "13812345678" not in page.text  # masked
    assert "Mobile 1 digit apart" in page.text and 'class="dup-match"' in page.text
    assert re.search(rf'name="survivor" value="{a}" form="pair-{a}-{b}-merge" checked', page.text)


async def test_review_is_empty_without_pairs_and_pages_as_fragments(signed_in, monkeypatch):
    admin = await signed_in("boss", "admin", None)
    empty = await admin.get("/customers/duplicates", headers=EN)
    assert "No likely duplicates" in empty.text
    for n in range(3):
        await add(f"王{n}", f"1381234560{n}")
        await add(f"王{n}", f"1381234561{n}")
    from web.customers import duplicates as web_duplicates
    monkeypatch.setattr(web_duplicates, "PAGE_PAIRS", 1)
    first = await admin.get("/customers/duplicates")
    assert first.text.count('class="card dup-pair"') == 1
    more = re.search(r'hx-get="(/customers/duplicates\?after=[^"]+)"', first.text).group(1)
    fragment = await admin.get(more.replace("&amp;", "&"), headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert fragment.text.count('class="card dup-pair"') == 1


async def test_manager_sees_pairs_of_their_team_only(signed_in):
    manager = await signed_in("chen.mgr", "manager", "华东门店组")
    east = (await Team.select(Team.id).where(Team.name == "华东门店组").first())["id"]
    await Team.insert(Team(name="华南门店组"))
    south = (await Team.select(Team.id).where(Team.name == "华南门店组").first())["id"]
    a = await add("王芳", "13812345678", team=east)
    b = await add("王芳", "13812345679", team=east)
    c = await add("李娜", "13912345678", team=south)
    d = await add("李娜", "13912345679", team=south)
    page = (await manager.get("/customers/duplicates")).text
    assert f"pair-{a}-{b}" in page and f"pair-{c}-{d}" not in page and "李娜" not in page
    dismiss = await manager.post("/customers/duplicates/dismiss", data={"a": c, "b": d, "_csrf_token": manager.csrf})
    assert dismiss.status_code == 404
    confirm = await manager.get(f"/customers/duplicates/merge?survivor={a}&merged={c}")
    assert confirm.status_code == 404


async def test_dismiss_as_fragment_and_as_form(signed_in):
    admin = await signed_in("boss", "admin", None)
    a = await add("王芳", "13812345678")
    b = await add("王芳", "13812345679")
    c = await add("李娜", "13912345678")
    d = await add("李娜", "13912345679")
    fragment = await admin.post("/customers/duplicates/dismiss", data={"a": a, "b": b},
                                headers={"HX-Request": "true", "X-CSRFToken": admin.csrf, **EN})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "Marked as different people: 王芳 (138****5678) and 王芳 (138****5679)." in fragment.text
    full = await admin.post("/customers/duplicates/dismiss", data={"a": d, "b": c, "_csrf_token": admin.csrf},
                            follow_redirects=False)
    assert full.status_code == 303 and full.headers["location"] == "/customers/duplicates"
    assert "dup-pair" not in (await admin.get("/customers/duplicates")).text
    assert await DuplicateDismissal.count() == 2


async def test_merge_from_the_review_confirms_then_redirects_to_the_survivor(signed_in):
    admin = await signed_in("boss", "admin", None)
    a = await add("王芳", "13812345678")
    b = await add("王芳", "13812345679", "wangfang@qq.com")
    confirm = await admin.get(f"/customers/duplicates/merge?a={a}&b={b}&survivor={b}", headers=EN)
    assert confirm.status_code == 200 and "Merged into it and removed" in confirm.text
    assert f'name="survivor" value="{b}"' in confirm.text and f'name="merged" value="{a}"' in confirm.text
    assert f"survivor={a}&amp;merged={b}" in confirm.text  # keep the other one instead
    done = await admin.post("/customers/duplicates/merge",
                            data={"survivor": b, "merged": a, "_csrf_token": admin.csrf}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/customers/{b}?saved=merged"
    assert await Customer.count() == 1
    again = await admin.post("/customers/duplicates/merge",
                             data={"survivor": b, "merged": a, "_csrf_token": admin.csrf}, headers=EN)
    assert again.status_code == 409 and "merged this customer a moment ago" in again.text
    assert (await admin.get(f"/customers/duplicates/merge?survivor={b}&merged={b}")).status_code in (422, 200)
    audit = await AuditEntry.select().where(AuditEntry.action == "customer.merge")
    assert len(audit) == 1


async def test_demo_data_holds_a_few_likely_duplicates():
    from db.demo import load_demo

    await load_demo(customers=400, seed=7)
    pairs, _ = await duplicates.find_likely_duplicates(ALL, limit=100)
    twins = [p for p in pairs if "city_birthday" in p["evidence"]]
    assert 1 <= len(twins) <= 6
    assert all(p["a"]["name"] == p["b"]["name"] and p["a"]["birthday"] == p["b"]["birthday"] for p in twins)
