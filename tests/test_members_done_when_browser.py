"""Issue 5's "done when", end to end against a real server, as a new user would try it:
the shop's system sends orders through the API; the member signs in on a phone (390x844)
with the SMS code, sees those points and redeems a reward; the staff 360 card shows the same
balance at once; a refund through the API takes the order's points back; and the member's
pages never show another member's data."""

from __future__ import annotations

import httpx

from db.actor import Actor
from db.engine import raw
from db.members import coupons, membership
from db.staff.accounts import create_api_key
from tests.conftest import PASSWORD
from tests.test_member_browser import code_from_log, server_with_log
from tests.test_push_browser import ARGS, CHROMIUM, SHOTS, pytestmark  # noqa: F401

ORDER = {"channel": "tmall", "external_id": "TM-DONE-1", "customer": {"mobile": "13812345678", "name": "王芳"},
         "placed_at": "2026-11-30T10:00:00+08:00", "status": "paid", "total": "388.00"}


async def test_member_sees_api_points_redeems_and_staff_card_agrees(make_user):
    from playwright.async_api import async_playwright, expect

    await make_user("zhou.min", "manager", "华东门店组")
    key = await create_api_key("shop-sync")
    stamp = (await raw("SELECT CURRENT_TIMESTAMP AS now"))[0]["now"]
    await raw("INSERT INTO reward (name, description, points_cost, stock, active, created_at) "
              "VALUES ('保温杯', '316 不锈钢保温杯', 300, 3, {}, {})", True, stamp)
    other_cid = (await raw("INSERT INTO customer (name, mobile, search_text, created_at, updated_at) "
                           "VALUES ('李雷', '+8613900000000', '', {}, {}) RETURNING id", stamp, stamp))[0]["id"]
    other = await membership.join(other_cid, "staff", Actor(None, "t"))
    kinds = await raw("INSERT INTO coupon_type (name, kind, amount_off_fen, percent_off, min_spend_fen, valid_days, "
                      "active, created_at) VALUES ('满100减10', 'amount', 1000, 0, 10000, 30, {}, {}) RETURNING id",
                      True, stamp)
    others_coupon = await coupons.issue(other["id"], kinds[0]["id"], source="staff", actor_label="t")

    with server_with_log() as (base, log):
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10)
        cid = api.post("/api/v1/customers", json={"name": "王芳", "mobile": "13812345678"}).json()["id"]
        assert api.post(f"/api/v1/customers/{cid}/membership", json={"consents": {"sms": True}}).status_code == 201
        await raw("UPDATE customer SET team = (SELECT team FROM staff_user WHERE username = 'zhou.min') "
                  "WHERE id = {}", cid)  # the manager's team: in their scope
        assert api.post("/api/v1/orders", json=ORDER).status_code == 201
        assert api.post("/api/v1/orders", json=ORDER).status_code == 200  # a replay earns nothing more
        assert api.get(f"/api/v1/customers/{cid}").json()["points_balance"] == 100 + 388

        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            phone = await browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                              is_mobile=True, has_touch=True, locale="zh-CN")
            page = await phone.new_page()
            await page.goto(f"{base}/m/login")
            await page.fill("#f-mobile", "13812345678")
            await page.locator("button[type=submit]").first.tap()
            await page.fill("#f-code", code_from_log(log))
            await page.locator("form[action='/m/login/verify'] button[type=submit]").tap()
            await page.wait_for_url(f"{base}/m/")
            await expect(page.locator("#balance")).to_have_text("488")
            await page.goto(f"{base}/m/points")
            await expect(page.locator("main")).to_contain_text("TM-DONE-1")

            await page.goto(f"{base}/m/rewards")
            await page.locator(".m-reward", has_text="保温杯").tap()
            await page.locator("#redeem-sheet button[type=submit]").tap()
            await page.wait_for_url(lambda url: "/m/redemptions/" in url)
            await page.goto(f"{base}/m/")
            await expect(page.locator("#balance")).to_have_text("188")
            if SHOTS:
                await page.screenshot(path=str(SHOTS / "done-member-home.png"), full_page=True)

            # Someone else's coupon, by its id: a 404 that shows nothing of theirs.
            response = await page.goto(f"{base}/m/coupons/{others_coupon['id']}")
            assert response.status == 404
            assert others_coupon["code"] not in await page.content()
            assert "李雷" not in await page.content()

            # The staff card on another phone shows the same, at once.
            staff = await browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
            desk = await staff.new_page()
            await desk.goto(f"{base}/login")
            await desk.fill("#f-username", "zhou.min")
            await desk.fill("#f-password", PASSWORD)
            await desk.click("button[type=submit]")
            await desk.wait_for_url(f"{base}/today")
            await desk.goto(f"{base}/customers/{cid}")
            await expect(desk.locator("#card-member .member-balance .num")).to_have_text("188")
            await expect(desk.locator("#card-member")).to_contain_text("保温杯")

            # The order refunded through the API takes its 388 points back: 188 covers 188 of
            # them, the other 200 are the shortfall staff see.
            refund = api.post("/api/v1/orders", json={**ORDER, "status": "refunded"})
            assert refund.status_code == 200
            api.post("/api/v1/orders", json={**ORDER, "status": "refunded"})  # twice: once
            await page.goto(f"{base}/m/")
            await expect(page.locator("#balance")).to_have_text("0")
            await desk.goto(f"{base}/customers/{cid}")
            await expect(desk.locator("#card-member .member-balance .num")).to_have_text("0")
            await expect(desk.locator("#card-member")).to_contain_text("200")
            if SHOTS:
                await desk.locator("#card-member").screenshot(path=str(SHOTS / "done-staff-card.png"))
            await browser.close()
        body = api.get(f"/api/v1/customers/{cid}/points").json()
        assert [e["kind"] for e in body["items"]] == ["reverse", "redeem", "earn", "earn"]
        assert body["items"][0]["delta"] == -188 and body["items"][0]["shortfall"] == 200
