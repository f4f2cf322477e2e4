"""The points API: POST/GET /api/v1/customers/{id}/points, membership, and the member fields
on GET /api/v1/customers/{id}."""

import pytest

from db.engine import raw

ORDER = {"channel": "tmall", "external_id": "TM1", "customer": {"mobile": "13812345678", "name": "王芳"},
         "placed_at": "2026-11-30T10:00:00+08:00", "status": "paid", "total": "1299.50"}


async def member(api) -> int:
    created = await api.post("/api/v1/customers", json={"name": "王芳", "mobile": "13812345678"})
    cid = created.json()["id"]
    joined = await api.post(f"/api/v1/customers/{cid}/membership", json={"consents": {"sms": True}})
    assert joined.status_code == 201, joined.text
    again = await api.post(f"/api/v1/customers/{cid}/membership", json={})
    assert again.status_code == 200
    return cid


async def test_customer_json_has_member_fields(api):
    plain = await api.post("/api/v1/customers", json={"name": "李雷", "mobile": "13900000000"})
    assert plain.json()["member_no"] is None and plain.json()["points_balance"] is None
    cid = await member(api)
    body = (await api.get(f"/api/v1/customers/{cid}")).json()
    assert body["tier"] == "普通" and body["points_balance"] == 100 and len(body["member_no"]) == 9


async def test_points_post_replay_and_overdraw(api):
    cid = await member(api)
    first = await api.post(f"/api/v1/customers/{cid}/points",
                           json={"delta": -30, "reason": "兑换", "idempotency_key": "k-1"})
    assert first.status_code == 201, first.text
    assert first.json()["balance"] == 70 and first.json()["entry"]["delta"] == -30
    again = await api.post(f"/api/v1/customers/{cid}/points",
                           json={"delta": -30, "reason": "兑换", "idempotency_key": "k-1"})
    assert again.status_code == 200 and again.json()["entry"]["id"] == first.json()["entry"]["id"]
    over = await api.post(f"/api/v1/customers/{cid}/points",
                          json={"delta": -71, "reason": "兑换", "idempotency_key": "k-2"})
    assert over.status_code == 409
    assert (await api.get(f"/api/v1/customers/{cid}")).json()["points_balance"] == 70
    other = await api.post(f"/api/v1/customers/{cid}/points",
                           json={"delta": -5, "reason": "兑换", "idempotency_key": "k-1"})
    assert other.status_code == 409  # same key, different request


@pytest.mark.parametrize("delta", [0, 1.5, 1e3, -2**63, "100", None, True, [1]])
async def test_bad_deltas_are_422_and_write_nothing(api, delta):
    cid = await member(api)
    response = await api.post(f"/api/v1/customers/{cid}/points",
                              json={"delta": delta, "reason": "x", "idempotency_key": "bad"})
    assert response.status_code == 422, response.text
    assert "delta" in response.json()["errors"]
    assert len(await raw("SELECT id FROM points_entry")) == 1  # the sign-up bonus only


async def test_extra_fields_are_never_applied(api):
    cid = await member(api)
    response = await api.post(f"/api/v1/customers/{cid}/points", json={
        "delta": 1, "reason": "x", "idempotency_key": "extra", "points_balance": 999999, "tier": "钻石"})
    assert response.status_code == 201
    body = (await api.get(f"/api/v1/customers/{cid}")).json()
    assert body["points_balance"] == 101 and body["tier"] == "普通"


async def test_reason_and_key_are_required(api):
    cid = await member(api)
    response = await api.post(f"/api/v1/customers/{cid}/points", json={"delta": 5})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"reason", "idempotency_key"}


async def test_non_member_and_unknown_customer(api):
    plain = (await api.post("/api/v1/customers", json={"name": "李雷", "mobile": "13900000000"})).json()
    response = await api.post(f"/api/v1/customers/{plain['id']}/points",
                              json={"delta": 5, "reason": "x", "idempotency_key": "n"})
    assert response.status_code == 409
    assert (await api.get("/api/v1/customers/999999/points")).status_code == 404


async def test_history_is_newest_first_with_a_cursor(api):
    cid = await member(api)
    for i in range(60):
        await api.post(f"/api/v1/customers/{cid}/points",
                       json={"delta": 1, "reason": f"r{i}", "idempotency_key": f"h{i}"})
    page = (await api.get(f"/api/v1/customers/{cid}/points")).json()
    assert len(page["items"]) == 50 and page["items"][0]["reason"] == "r59" and page["next"]
    rest = (await api.get(f"/api/v1/customers/{cid}/points", params={"cursor": page["next"]})).json()
    assert [e["reason"] for e in rest["items"]][-1] == "sign-up bonus" and rest["next"] is None
    assert len(rest["items"]) == 11


async def test_orders_through_the_api_earn_and_refunds_take_back(api):
    cid = await member(api)
    assert (await api.post("/api/v1/orders", json=ORDER)).status_code == 201
    assert (await api.post("/api/v1/orders", json=ORDER)).status_code == 200
    body = (await api.get(f"/api/v1/customers/{cid}")).json()
    assert body["points_balance"] == 100 + 1299 and body["tier"] == "银卡"
    refunded = {**ORDER, "status": "refunded"}
    await api.post("/api/v1/orders", json=refunded)
    await api.post("/api/v1/orders", json=refunded)
    items = (await api.get(f"/api/v1/customers/{cid}/points")).json()["items"]
    assert [e["kind"] for e in items] == ["reverse", "earn", "earn"]
    assert items[0]["delta"] == -1299
    assert (await api.get(f"/api/v1/customers/{cid}")).json()["points_balance"] == 100


async def test_a_cursor_that_is_not_ours_reads_the_first_page(api):
    cid = await member(api)
    for cursor in (10**30, -5, 0):
        response = await api.get(f"/api/v1/customers/{cid}/points", params={"cursor": cursor})
        assert response.status_code == 200 and len(response.json()["items"]) == 1


async def test_two_joins_at_once_answer_201_once_and_200_once(api):
    import asyncio

    created = await api.post("/api/v1/customers", json={"name": "王芳", "mobile": "13812345678"})
    cid = created.json()["id"]
    first, second = await asyncio.gather(
        api.post(f"/api/v1/customers/{cid}/membership", json={}),
        api.post(f"/api/v1/customers/{cid}/membership", json={}))
    assert sorted((first.status_code, second.status_code)) == [200, 201], (first.text, second.text)
    assert first.json()["member_no"] == second.json()["member_no"]
    assert (await raw("SELECT COUNT(*) AS n FROM member"))[0]["n"] == 1
