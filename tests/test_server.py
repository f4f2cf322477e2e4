"""The real server with several worker processes: sessions and idempotent ingest hold across them."""

import asyncio
import re

import httpx

from db.orders.tables import Order
from db.staff.accounts import create_api_key
from tests.conftest import PASSWORD
from tests.server import running_server

ORDER = {
    "channel": "jd", "external_id": "JD-778899", "customer": {"mobile": "13912345678", "name": "李娜"},
    "placed_at": "2025-06-18T20:00:00+08:00", "status": "paid", "total": "88.00",
}


async def test_two_workers_share_sessions_and_ingest_one_order(make_user):
    await make_user("li.na")
    key = await create_api_key("jd-sync")
    # httpx keeps Secure cookies to https; browsers keep them for http://127.0.0.1 too
    # (the browser test checks that), so plain-http cookies are used for this client.
    with running_server(workers=2, CRM_COOKIE_SECURE="0") as base:
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}) as api:
            responses = await asyncio.gather(*[api.post("/api/v1/orders", json=ORDER) for _ in range(20)])
        assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
        # Sign in once, then many requests spread over both workers all see the session.
        async with httpx.AsyncClient(base_url=base) as browser:
            page = await browser.get("/login")
            token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
            signed = await browser.post("/login", data={"username": "li.na", "password": PASSWORD,
                                                          "_csrf_token": token}, follow_redirects=True)
            assert signed.status_code == 200 and str(signed.url).endswith("/today")
            statuses = await asyncio.gather(*[browser.get("/today") for _ in range(20)])
            assert {s.status_code for s in statuses} == {200}
    assert await Order.count() == 1
