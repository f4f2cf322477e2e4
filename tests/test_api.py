"""The JSON API: upserts, idempotent order ingest, validation and authentication."""

import asyncio

import pytest

from db.audit.tables import AuditEntry
from db.actor import Actor
from db.customers.tables import Customer, CustomerTag, Tag
from db.orders.ingest import ingest_order, parse_order
from db.orders.tables import Order

ORDER = {
    "channel": "tmall", "external_id": "TM20240305001",
    "customer": {"mobile": "138 1234 5678", "email": "wangfang@qq.com", "name": "王芳"},
    "placed_at": "2024-03-05T14:30:00+08:00", "status": "paid", "total": "1299.50",
    "currency": "CNY",
    "items": [{"sku": "SK-1", "name": "保湿面霜", "qty": 2, "price": "599.75"},
              {"sku": "SK-2", "name": "小样", "qty": 1, "price": "100.00"}],
}


async def test_customer_upsert_creates_then_updates(api):
    body = {"name": "王芳", "mobile": "13812345678", "email": "WangFang@QQ.com", "gender": "female",
            "birthday": "1990-05-17", "province": "浙江省", "city": "杭州市", "tags": ["VIP", "母婴人群"]}
    first = await api.post("/api/v1/customers", json=body)
    assert first.status_code == 201, first.text
    created = first.json()
    assert created["mobile"] == "+8613812345678" and created["email"] == "wangfang@qq.com"
    assert sorted(created["tags"]) == ["VIP", "母婴人群"]
    second = await api.post("/api/v1/customers", json={"name": "王芳芳", "mobile": "+86 138-1234-5678"})
    assert second.status_code == 200 and second.json()["id"] == created["id"]
    assert second.json()["name"] == "王芳芳" and second.json()["city"] == "杭州市"
    by_email = await api.post("/api/v1/customers", json={"name": "王芳", "email": "wangfang@qq.com"})
    assert by_email.status_code == 200 and by_email.json()["id"] == created["id"]
    assert await Customer.count() == 1
    assert await AuditEntry.count().where(AuditEntry.action == "customer.update") == 2


@pytest.mark.parametrize("body, fields", [
    ({"name": "王芳", "mobile": "12345"}, {"mobile"}),
    ({"name": "王芳", "email": "not-an-email"}, {"email"}),
    ({"name": "", "mobile": "abc", "email": "x@", "gender": "x", "birthday": "2099-01-01"},
     {"name", "mobile", "email", "gender", "birthday"}),
    ({"name": "王芳"}, {"mobile"}),
    ({"name": "王芳", "mobile": "13812345678", "tags": ["x" * 41]}, {"tags"}),
    ({"name": 42, "mobile": "13812345678"}, {"name"}),
])
async def test_invalid_customers_get_422_per_field_and_nothing_is_written(api, body, fields):
    response = await api.post("/api/v1/customers", json=body)
    assert response.status_code == 422
    assert set(response.json()["errors"]) == fields
    assert await Customer.count() == 0 and await Tag.count() == 0


async def test_unknown_or_missing_key_is_401_and_writes_nothing(client):
    for headers in ({}, {"Authorization": "Bearer crm_wrong"}, {"Authorization": "Basic abc"}):
        response = await client.post("/api/v1/customers", json={"name": "王芳", "mobile": "13812345678"},
                                     headers=headers)
        assert response.status_code == 401
    assert await Customer.count() == 0


async def test_a_staff_session_cookie_does_not_open_the_api(signed_in):
    staff = await signed_in("li.na")
    response = await staff.get("/api/v1/customers?q=王")
    assert response.status_code == 401


async def test_get_customer_and_find_by_mobile_email_or_text(api):
    created = (await api.post("/api/v1/customers", json={"name": "王芳", "mobile": "13812345678",
                                                         "email": "wf@163.com"})).json()
    assert (await api.get(f"/api/v1/customers/{created['id']}")).json()["name"] == "王芳"
    assert (await api.get("/api/v1/customers/999999")).status_code == 404
    for params in ({"mobile": "138-1234-5678"}, {"email": "WF@163.com"}, {"q": "2345"}, {"q": "王"}):
        found = (await api.get("/api/v1/customers", params=params)).json()["items"]
        assert [c["id"] for c in found] == [created["id"]], params
    assert (await api.get("/api/v1/customers", params={"mobile": "13900000000"})).json()["items"] == []
    assert (await api.get("/api/v1/customers", params={"mobile": "1"})).status_code == 422


async def test_order_ingest_is_idempotent_and_money_exact(api):
    first = await api.post("/api/v1/orders", json=ORDER)
    assert first.status_code == 201, first.text
    again = await api.post("/api/v1/orders", json=ORDER)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["customer_id"] == first.json()["customer_id"]
    order = await Order.select().output(load_json=True).first()
    assert order["total_fen"] == 129950 and isinstance(order["total_fen"], int)
    assert order["items"][0] == {"sku": "SK-1", "name": "保湿面霜", "qty": 2, "price": "599.75"}
    customer = await Customer.select().first()
    assert customer["name"] == "王芳" and customer["first_channel"] == "tmall"
    assert await Order.count() == 1


async def test_status_change_is_a_200_on_the_same_order(api):
    created = (await api.post("/api/v1/orders", json=ORDER)).json()
    refunded = await api.post("/api/v1/orders", json={**ORDER, "status": "refunded"})
    assert refunded.status_code == 200 and refunded.json()["id"] == created["id"]
    assert (await Order.select(Order.status).first())["status"] == "refunded"


async def test_same_external_id_on_another_channel_is_another_order(api):
    await api.post("/api/v1/orders", json=ORDER)
    other = await api.post("/api/v1/orders", json={**ORDER, "channel": "jd"})
    assert other.status_code == 201 and await Order.count() == 2


async def test_twenty_concurrent_identical_orders_make_one(api):
    responses = await asyncio.gather(*[api.post("/api/v1/orders", json=ORDER) for _ in range(20)])
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 19 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await Order.count() == 1 and await Customer.count() == 1


async def test_concurrent_ingest_in_the_domain_makes_one_order_and_one_customer():
    parsed = parse_order(ORDER)
    results = await asyncio.gather(*[ingest_order(parsed, Actor(None, "t")) for _ in range(20)])
    assert sum(1 for _, _, created in results if created) == 1
    assert await Order.count() == 1 and await Customer.count() == 1


@pytest.mark.parametrize("change, field", [
    ({"total": 1299.5}, "total"), ({"total": "12.345"}, "total"), ({"total": "-1"}, "total"),
    ({"total": None}, "total"), ({"channel": "taobao"}, "channel"), ({"external_id": ""}, "external_id"),
    ({"status": "shipped"}, "status"), ({"placed_at": "yesterday"}, "placed_at"),
    ({"placed_at": "2099-01-01T00:00:00Z"}, "placed_at"), ({"currency": "RMB1"}, "currency"),
    ({"customer": {"name": "王芳"}}, "customer.mobile"), ({"customer": {"mobile": "123"}}, "customer.mobile"),
    ({"items": [{"sku": "A", "qty": 0, "price": "1"}]}, "items[0].qty"),
    ({"items": [{"sku": "A", "qty": 1, "price": 9.99}]}, "items[0].price"),
])
async def test_invalid_orders_get_422_and_nothing_is_written(api, change, field):
    response = await api.post("/api/v1/orders", json={**ORDER, **change})
    assert response.status_code == 422, response.text
    assert field in response.json()["errors"]
    assert await Order.count() == 0 and await Customer.count() == 0


async def test_malformed_json_is_a_4xx_not_a_500(api):
    response = await api.post("/api/v1/orders", content=b"{not json",
                              headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500


async def test_oversized_body_is_413(api):
    big = {**ORDER, "items": [{"sku": "X" * 60, "name": "Y" * 190, "qty": 1, "price": "1.00"}] * 6000}
    response = await api.post("/api/v1/orders", json=big)
    assert response.status_code == 413
    assert await Order.count() == 0


async def test_extra_fields_are_ignored(api):
    response = await api.post("/api/v1/customers", json={"name": "王芳", "mobile": "13812345678",
                                                         "id": 999, "owner_id": 1, "is_admin": True})
    assert response.status_code == 201 and response.json()["id"] != 999
    assert response.json()["owner_id"] is None


async def test_tags_attach_once(api):
    for _ in range(2):
        await api.post("/api/v1/customers", json={"name": "王芳", "mobile": "13812345678", "tags": ["VIP"]})
    assert await CustomerTag.count() == 1


async def test_openapi_docs_are_served(client):
    schema = await client.get("/api/docs/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/orders" in paths and "/api/v1/customers" in paths
    page = await client.get("/api/docs")
    assert page.status_code == 200 and "rapi-doc" in page.text
