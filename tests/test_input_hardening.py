"""Issue 11, findings 5-8: no input gives a 500. Control characters are refused in stored text
and stripped from searches; money, currencies, dates, ids and JSON bodies are read strictly and
answered with 4xx field errors; pages carry one charset."""

import io
import zipfile

import pytest

from db.actor import Actor
from db.customers.profile import parse_customer
from db.customers.service import upsert_customer
from db.customers.tables import Customer, Interaction
from db.followups.tables import FollowUp
from db.money import parse_money
from db.orders.tables import Order

ACTOR = Actor(None, "test")
ORDER = {
    "channel": "tmall", "external_id": "TM1", "customer": {"mobile": "13812345678", "name": "王芳"},
    "placed_at": "2024-03-05T14:30:00+08:00", "status": "paid", "total": "1299.50", "currency": "CNY",
}
INVALID = {"detail": "invalid input"}


async def add(name="王芳芳", mobile="13812345678", **extra) -> int:
    customer_id, _ = await upsert_customer(parse_customer({"name": name, "mobile": mobile, **extra}), ACTOR)
    return customer_id


# ---------------------------------------------------------------- 5: NUL and other control characters


async def test_searches_strip_control_characters_everywhere(api, signed_in):
    wang = await add()
    admin = await signed_in("boss", "admin", None)
    for q in ("王\x00芳", "王芳\x1b", "\x00"):
        page = await admin.get("/customers", params={"q": q})
        assert page.status_code == 200, page.text[-500:]
        assert "\x00" not in page.text and "\x1b" not in page.text
        assert (await admin.get("/pipeline/customers", params={"q": q},
                                headers={"HX-Request": "true"})).status_code == 200
        found = await api.get("/api/v1/customers", params={"q": q})
        assert found.status_code == 200 and [c["id"] for c in found.json()["items"]] == [wang]
    long_q = "x\x00y" + "z" * 3  # three or more characters: the substring index
    assert (await admin.get("/customers", params={"q": long_q})).status_code == 200
    assert (await api.get("/api/v1/customers", params={"q": long_q})).status_code == 200
    csv = await admin.get("/customers/export", params={"format": "csv", "q": "王\x00芳"})
    assert csv.status_code == 200 and "王芳芳" in csv.content.decode("utf-8-sig")
    xlsx = await admin.get("/customers/export", params={"format": "xlsx", "q": "王\x00芳"})
    assert xlsx.status_code == 200 and zipfile.is_zipfile(io.BytesIO(xlsx.content))


@pytest.mark.parametrize("body, field", [
    ({"name": "a\u0000b", "mobile": "13812345678"}, "name"),
    ({"name": "王芳", "mobile": "13812345678", "city": "杭州\u001b"}, "city"),
    ({"name": "王芳", "mobile": "13812345678", "tags": ["ok", "V\u0007IP"]}, "tags[1]"),
    ({"name": "王芳\r", "mobile": "13812345678"}, "name"),  # a lone CR
])
async def test_api_refuses_control_characters_with_a_field_error(api, body, field):
    response = await api.post("/api/v1/customers", json=body)
    assert response.status_code == 422, response.text
    assert response.json() == {**INVALID, "errors": {field: "must not contain control characters"}}
    assert await Customer.count() == 0
    order = await api.post("/api/v1/orders", json={**ORDER, "customer": {"mobile": "13812345678",
                                                                         "name": "a\u0000b"}})
    assert order.status_code == 422 and set(order.json()["errors"]) == {"customer.name"}
    assert await Order.count() == 0


async def test_forms_refuse_control_characters_but_keep_crlf_from_a_textarea(signed_in):
    me = await signed_in("li.na", "staff", "华东门店组")
    bad = await me.post("/customers/new", data={"name": "a\x00b", "mobile": "13912345678",
                                                "_csrf_token": me.csrf})
    assert bad.status_code == 422 and "name" in bad.text and "\x00" not in bad.text
    assert await Customer.count() == 0
    customer_id = await add(owner=None)
    await Customer.update({Customer.owner: me.user_id}).where(Customer.id == customer_id)
    for body in ("回访\x00", "回访\x0b", "回访\r"):
        refused = await me.post(f"/customers/{customer_id}/interactions",
                                data={"kind": "call", "body": body},
                                headers={"HX-Request": "true", "X-CSRFToken": me.csrf})
        assert refused.status_code == 422, body
    assert await Interaction.count() == 0
    saved = await me.post(f"/customers/{customer_id}/interactions",
                          data={"kind": "call", "body": "第一行\r\n第二行\t备注"},
                          headers={"HX-Request": "true", "X-CSRFToken": me.csrf})
    assert saved.status_code == 200
    assert (await Interaction.select(Interaction.body).first())["body"].startswith("第一行")


# ---------------------------------------------------------------- 6: unhandled 500s in the API


async def test_huge_amount_is_a_field_error(api):
    response = await api.post("/api/v1/orders", json={**ORDER, "total": "1e1000000"})
    assert response.status_code == 422 and set(response.json()["errors"]) == {"total"}
    assert await Order.count() == 0


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00", "9999-12-31T23:59:59-12:00",
                                  "1999-12-31T23:00:00+08:00", "2101-01-01T00:00:00Z"])
async def test_follow_up_times_outside_2000_to_2100_are_field_errors(api, make_user, when):
    await make_user("li.lei")
    customer_id = await add()
    body = {"customer_id": customer_id, "assignee": "li.lei", "kind": "call", "title": "回访",
            "due_at": "2026-12-03T15:30:00+08:00", "priority": "normal"}
    for field in ("due_at", "remind_at"):
        response = await api.post("/api/v1/followups", json={**body, field: when})
        assert response.status_code == 422, response.text
        assert field in response.json()["errors"]
    placed = await api.post("/api/v1/orders", json={**ORDER, "placed_at": when})
    assert placed.status_code == 422 and "placed_at" in placed.json()["errors"]
    assert await FollowUp.count() == 0 and await Order.count() == 0


@pytest.mark.parametrize("customer_id", ["99999999999999999999999", "2147483648", "9" * 5000])
async def test_ids_beyond_the_column_are_404(api, signed_in, customer_id):
    assert (await api.get(f"/api/v1/customers/{customer_id}")).status_code == 404
    assert (await api.get(f"/api/v1/customers/{customer_id}/points")).status_code == 404
    assert (await api.get(f"/api/v1/followups/{customer_id}")).status_code == 404
    me = await signed_in("li.na", "staff", "华东门店组")
    assert (await me.get(f"/customers/{customer_id}")).status_code == 404
    assert (await me.get("/customers", params={"before": customer_id})).status_code == 200


async def test_deeply_nested_json_is_a_422(api):
    body = b'{"name": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    response = await api.post("/api/v1/customers", content=body,
                              headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json() == {**INVALID, "errors": {"body": "JSON nested too deeply"}}
    nested: list = []
    for _ in range(40):  # deeper than any body of ours, far below what breaks the decoder
        nested = [nested]
    moderate = {"name": "王芳", "mobile": "13812345678", "tags": nested}
    assert (await api.post("/api/v1/customers", json=moderate)).status_code == 422
    assert await Customer.count() == 0


# ---------------------------------------------------------------- 7: money, currency, JSON errors


@pytest.mark.parametrize("total", ["1e3", "１０.００", "1,299.50", "¥199", " 10", "10.", ".5", "+10",
                                   "1_000", "NaN", "Infinity", "0x10", "٣", "1" * 13, "10.001"])
async def test_api_money_is_ascii_digits_with_two_decimals(api, total):
    response = await api.post("/api/v1/orders", json={**ORDER, "total": total})
    assert response.status_code == 422, total
    assert set(response.json()["errors"]) == {"total"}
    price = await api.post("/api/v1/orders", json={**ORDER, "items": [{"sku": "A", "qty": 1, "price": total}]})
    assert price.status_code == 422 and set(price.json()["errors"]) == {"items[0].price"}
    assert await Order.count() == 0


async def test_api_money_in_the_pattern_is_exact(api):
    for total, fen in (("0", 0), ("10", 1000), ("10.5", 1050), ("999999999.99", 99999999999)):
        response = await api.post("/api/v1/orders", json={**ORDER, "external_id": f"T{fen}", "total": total})
        assert response.status_code == 201, response.text
        order = await Order.select(Order.total_fen).where(Order.external_id == f"T{fen}").first()
        assert order["total_fen"] == fen


def test_forms_money_is_tidied_but_not_guessed():
    assert parse_money("１０.００") == 1000 and parse_money("¥1,299.50") == 129950
    assert parse_money(" 199 ") == 19900
    for text in ("1e3", "1_000", "NaN", "٣", "+1"):
        with pytest.raises(ValueError):
            parse_money(text)
    with pytest.raises(ValueError, match="must be zero or more"):
        parse_money("-1")
    with pytest.raises(ValueError, match="at most two decimal places"):
        parse_money("1.999")


@pytest.mark.parametrize("currency", ["USD", "cny", "RMB", "", 5])
async def test_currency_must_be_cny(api, currency):
    response = await api.post("/api/v1/orders", json={**ORDER, "currency": currency})
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert errors == {"currency": "must be CNY"} if isinstance(currency, str) else set(errors) == {"currency"}
    assert await Order.count() == 0
    assert (await api.post("/api/v1/orders", json={k: v for k, v in ORDER.items() if k != "currency"})
            ).status_code == 201  # CNY when not given


@pytest.mark.parametrize("body, message", [
    (b'{"name": "x", "mobile": ' + b"9" * 900_000 + b"}", "a number out of range"),
    (b'{"name": 1e999}', "a number out of range"),
    (b"{not json", "not valid JSON"),
    (b'{"name": "x"', "not valid JSON"),
    (b'{"name": "\\ud800"}', "not valid JSON"),
])
async def test_malformed_or_out_of_range_json_is_a_422_in_the_usual_shape(api, body, message):
    response = await api.post("/api/v1/customers", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json() == {**INVALID, "errors": {"body": message}}
    assert await Customer.count() == 0


# ---------------------------------------------------------------- 8: one charset


async def test_pages_fragments_and_csv_carry_one_charset(client, signed_in):  # client first: closed last
    assert (await client.get("/login")).headers["content-type"] == "text/html; charset=utf-8"
    assert (await client.get("/no-such-page")).headers["content-type"] == "text/html; charset=utf-8"
    me = await signed_in("boss", "admin", None)
    customer_id = await add()
    await Customer.update({Customer.owner: me.user_id}).where(Customer.id == customer_id)
    logged = await me.post(f"/customers/{customer_id}/interactions", data={"kind": "call", "body": "好"},
                           headers={"HX-Request": "true", "X-CSRFToken": me.csrf})
    assert logged.headers["content-type"] == "text/html; charset=utf-8"
    csv = await me.get("/customers/export", params={"format": "csv"})
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"


async def test_cursors_beyond_the_id_column_read_the_first_page(api, signed_in):
    customer_id = await add()
    for before in ("99999999999999999999999", "2147483648", "-1", "１２"):
        response = await api.get("/api/v1/customers", params={"before": before})
        assert response.status_code == 200, response.text
        assert [c["id"] for c in response.json()["items"]] == [customer_id]
    admin = await signed_in("boss", "admin", None)
    assert (await admin.get("/admin/audit", params={"before": "9" * 30})).status_code == 200
    for params in ({"mobile": "138\x0012345678"}, {"email": "a\x00@b.cn"}):
        assert (await api.get("/api/v1/customers", params=params)).status_code in (200, 422)
