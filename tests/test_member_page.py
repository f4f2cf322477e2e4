"""The member page (/m/): home, points history, rewards and redeeming, coupons, the card,
settings and member Web Push; a member sees only their own records."""

from __future__ import annotations

import json
import re

import pytest

from db.engine import raw
from db.members import ledger
from db.members.qr_card import card_payload, read_card_payload
from db.push.outbox import enqueue, enqueue_members
from db.push.subscriptions import save_subscription
from tests.conftest import BASE_URL
from tests.webpush_client import WebPushClient

HX = {"HX-Request": "true"}


@pytest.fixture
def member_client(member_page_client):
    return member_page_client


async def earn(member_id: int, points: int, key: str) -> None:
    await ledger.post(member_id, points, kind="earn", reason="order", source_type="order", key=key)


async def make_reward(name="Tote bag", cost=100, stock=None, coupon=False) -> int:
    from db.clock import now

    coupon_type = None
    if coupon:
        coupon_type = (await raw(
            "INSERT INTO coupon_type (name, kind, amount_off_fen, percent_off, min_spend_fen, valid_days, "
            "active, created_at) VALUES ('¥20 off', 'amount', 2000, 0, 10000, 30, {}, {}) RETURNING id",
            True, now()))[0]["id"]
    rows = await raw(
        "INSERT INTO reward (name, description, points_cost, stock, coupon_type, active, created_at) "
        "VALUES ({}, 'A canvas bag', {}, {}, {}, {}, {}) RETURNING id",
        name, cost, stock, coupon_type, True, now())
    return rows[0]["id"]


def no_html(text: str) -> bool:
    return "<html" not in text and "<!doctype" not in text.lower()


# ---------------------------------------------------------------- pages


async def test_home_shows_tier_balance_progress_and_expiring_points(member_client):
    c = await member_client()
    await earn(c.member["id"], 250, "o1")
    page = await c.get("/m/")
    assert page.status_code == 200
    text = page.text
    balance = (await raw("SELECT points_balance FROM member WHERE id = {}", c.member["id"]))[0]["points_balance"]
    assert f'id="balance">{balance:,}<' in text
    assert "普通" in text and "银卡" in text and "<progress" in text
    assert re.search(r"Spend ¥[\d,]+\.\d\d more", text)
    assert "shortfall" not in text.lower()
    assert 'class="appnav"' not in text  # no staff chrome
    assert 'href="/m/manifest.webmanifest"' in text


async def test_home_in_chinese_by_default(member_client):
    c = await member_client(lang="zh-CN")
    page = await c.get("/m/")
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text


async def test_points_history_pages_with_a_cursor_full_page_and_fragment(member_client):
    c = await member_client()
    for i in range(25):
        await earn(c.member["id"], 10 + i, f"o{i}")
    page = await c.get("/m/points")
    assert page.status_code == 200 and "<html" in page.text
    assert page.text.count('class="m-item"') == 20
    cursor = re.search(r'hx-get="/m/points\?before=(\d+)"', page.text).group(1)
    more = await c.get(f"/m/points?before={cursor}", headers=HX)
    assert more.status_code == 200 and no_html(more.text)
    assert more.text.count('class="m-item"') == 6  # 25 orders + the sign-up bonus
    assert "before=" not in more.text
    full = await c.get(f"/m/points?before={cursor}")
    assert "<html" in full.text and full.text.count('class="m-item"') == 6
    assert page.headers["vary"].startswith("HX-Request")


async def test_redeem_a_reward_once_even_when_tapped_twice(member_client):
    c = await member_client()
    await earn(c.member["id"], 500, "o1")
    reward_id = await make_reward(cost=300, coupon=True)
    listing = await c.get("/m/rewards")
    assert listing.status_code == 200 and "Tote bag" in listing.text
    sheet = await c.get(f"/m/rewards/{reward_id}", headers=HX)
    assert sheet.status_code == 200 and no_html(sheet.text) and "<dialog" in sheet.text
    full = await c.get(f"/m/rewards/{reward_id}")
    assert "<html" in full.text and "<dialog" in full.text
    key = re.search(r'name="key" value="([^"]+)"', sheet.text).group(1)
    before = (await raw("SELECT points_balance FROM member WHERE id = {}", c.member["id"]))[0]["points_balance"]
    form = {"key": key, "_csrf_token": c.csrf}
    first = await c.post(f"/m/rewards/{reward_id}/redeem", data=form, follow_redirects=False)
    second = await c.post(f"/m/rewards/{reward_id}/redeem", data=form, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    after = (await raw("SELECT points_balance FROM member WHERE id = {}", c.member["id"]))[0]["points_balance"]
    assert before - after == 300
    assert len(await raw("SELECT id FROM redemption")) == 1
    done = await c.get(first.headers["location"])
    coupon = (await raw("SELECT id, code FROM coupon"))[0]
    assert done.status_code == 200 and coupon["code"] in done.text
    coupons = await c.get("/m/coupons")
    assert coupon["code"] not in coupons.text and f'/m/coupons/{coupon["id"]}' in coupons.text
    detail = await c.get(f"/m/coupons/{coupon['id']}")
    assert coupon["code"] in detail.text and "¥20.00" in detail.text and "¥100.00" in detail.text


async def test_not_enough_points_or_out_of_stock_takes_nothing(member_client):
    c = await member_client()
    costly = await make_reward("Kettle", cost=100_000)
    gone = await make_reward("Mug", cost=10, stock=0)
    before = await raw("SELECT points_balance FROM member WHERE id = {}", c.member["id"])
    for reward_id, words in ((costly, "not have enough points"), (gone, "run out")):
        response = await c.post(f"/m/rewards/{reward_id}/redeem", data={"key": f"k{reward_id}", "_csrf_token": c.csrf})
        assert response.status_code == 409 and words in response.text and "No points were taken" in response.text
    assert await raw("SELECT points_balance FROM member WHERE id = {}", c.member["id"]) == before
    assert await raw("SELECT id FROM redemption") == []


async def test_a_member_cannot_open_another_members_coupon_or_redemption(member_client):
    alice = await member_client("王芳", "13812345678")
    bob = await member_client("李娜", "13900001111")
    await earn(alice.member["id"], 500, "a1")
    reward_id = await make_reward(cost=100, coupon=True)
    done = await alice.post(f"/m/rewards/{reward_id}/redeem", data={"key": "alice-1", "_csrf_token": alice.csrf},
                            follow_redirects=False)
    redemption_id = int(done.headers["location"].split("/")[-1].split("?")[0])
    coupon = (await raw("SELECT id, code FROM coupon"))[0]
    for path in (f"/m/coupons/{coupon['id']}", f"/m/redemptions/{redemption_id}",
                 f"/m/coupons/{coupon['id'] + 1000}", f"/m/redemptions/{redemption_id + 1000}"):
        response = await bob.get(path)
        assert response.status_code == 404, path
        assert coupon["code"] not in response.text and "Tote bag" not in response.text
    assert (await alice.get(f"/m/coupons/{coupon['id']}")).status_code == 200
    # Redeeming always charges the session's member, whatever the form says.
    bob_before = (await raw("SELECT points_balance FROM member WHERE id = {}", bob.member["id"]))[0]
    response = await bob.post(f"/m/rewards/{reward_id}/redeem",
                              data={"key": "bob-1", "member_id": str(alice.member["id"]), "_csrf_token": bob.csrf},
                              follow_redirects=False)
    assert response.status_code == 303
    assert (await raw("SELECT points_balance FROM member WHERE id = {}", bob.member["id"]))[0]["points_balance"] \
        == bob_before["points_balance"] - 100
    assert len(await raw("SELECT id FROM redemption WHERE member = {}", alice.member["id"])) == 1


async def test_an_inactive_reward_is_not_found(member_client):
    c = await member_client()
    reward_id = await make_reward()
    await raw("UPDATE reward SET active = {} WHERE id = {}", False, reward_id)
    assert (await c.get(f"/m/rewards/{reward_id}")).status_code == 404
    assert (await c.get("/m/rewards/999999")).status_code == 404


async def test_coupons_list_greys_used_and_expired_ones(member_client):
    from db.members import coupons

    c = await member_client()
    await make_reward(coupon=True)
    type_id = (await raw("SELECT id FROM coupon_type"))[0]["id"]
    used = await coupons.issue(c.member["id"], type_id, source="staff", actor_label="t")
    await coupons.issue(c.member["id"], type_id, source="staff", actor_label="t")
    await coupons.use(used["code"], "order-1", "t")
    page = await c.get("/m/coupons")
    assert page.status_code == 200
    assert page.text.count("m-coupon is-done") == 1 and page.text.count('class="m-coupon"') == 1
    assert "Used" in page.text and "Valid until" in page.text


async def test_the_card_shows_a_signed_qr_and_the_member_number(member_client):
    c = await member_client()
    page = await c.get("/m/card")
    assert page.status_code == 200 and "<svg" in page.text and c.member["member_no"] in page.text
    # The QR is drawn from exactly the payload the staff scanner reads back.
    import segno

    payload = card_payload(c.member["member_no"])
    expected = segno.make(payload, error="m").svg_inline(scale=6, dark="#1c1917", light="#ffffff",
                                                         svgclass="m-qr", lineclass=None, border=2,
                                                         omitsize=True)
    assert expected in page.text
    assert read_card_payload(payload) == c.member["member_no"]


async def test_settings_consent_toggle_full_page_and_fragment(member_client):
    c = await member_client()
    page = await c.get("/m/settings")
    assert page.status_code == 200 and 'id="consents"' in page.text and "<html" in page.text
    fragment = await c.post("/m/settings/consent", data={"channel": "sms", "granted": "1", "_csrf_token": c.csrf},
                            headers=HX)
    assert fragment.status_code == 200 and no_html(fragment.text) and 'id="consents"' in fragment.text
    assert "On since" in fragment.text and "hx-trigger" in fragment.headers
    rows = await raw("SELECT channel, granted, source FROM customer_consent WHERE customer = {}",
                     c.member["customer"])
    assert [(r["channel"], bool(r["granted"]), r["source"]) for r in rows] == [("sms", True, "member_page")]
    plain = await c.post("/m/settings/consent", data={"channel": "sms", "granted": "0", "_csrf_token": c.csrf},
                         follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"] == "/m/settings"
    bad = await c.post("/m/settings/consent", data={"channel": "fax", "granted": "1", "_csrf_token": c.csrf})
    assert bad.status_code == 422


async def test_manifest_is_scoped_to_m():
    from web.app import create_app
    from litestar.testing import AsyncTestClient

    async with AsyncTestClient(app=create_app(), base_url=BASE_URL) as c:
        response = await c.get("/m/manifest.webmanifest")
    assert response.status_code == 200
    data = response.json()
    assert data["scope"] == "/m/" and data["start_url"] == "/m/" and data["name"] == "会员中心"
    assert "crm_anon" not in response.headers.get("set-cookie", "")


async def test_member_pages_are_never_cached(member_client):
    c = await member_client()
    assert (await c.get("/m/")).headers["cache-control"] == "no-store"


# ---------------------------------------------------------------- member Web Push


@pytest.fixture
def push_hosts(settings_env):
    settings_env(CRM_PUSH_ALLOW_HTTP="1", CRM_PUSH_ALLOWED_HOSTS="127.0.0.1")


async def test_member_subscribes_and_enqueue_members_reaches_only_their_devices(member_client, push_hosts,
                                                                               make_user):
    c = await member_client()
    sub = WebPushClient("http://127.0.0.1:9/member-phone").subscription()
    response = await c.post("/m/push/subscriptions", content=json.dumps(sub),
                            headers={"X-CSRFToken": c.csrf, "Content-Type": "application/json"})
    assert response.status_code == 201 and response.json()["devices"] == 1
    rows = await raw('SELECT "user", member FROM push_subscription')
    assert rows == [{"user": None, "member": c.member["id"]}]
    staff_id = await make_user("li.na")
    await save_subscription(staff_id, WebPushClient("http://127.0.0.1:9/staff-phone").subscription())
    queued = await enqueue_members([c.member["id"]], {"title": "积分到账", "body": "+100", "url": "/m/points"},
                                   urgency="normal", ttl=3600, ref=f"points:{c.member['id']}:1")
    assert queued == 1
    assert await enqueue(staff_id, {"title": "t", "body": "b", "url": "/today"}) == 1
    targets = await raw("SELECT s.member, s.\"user\" FROM push_message m JOIN push_subscription s "
                        "ON s.id = m.subscription ORDER BY m.id")
    assert targets == [{"member": c.member["id"], "user": None}, {"member": None, "user": staff_id}]
    assert await enqueue_members([], {"title": "x"}) == 0
    gone = await c.request("DELETE", "/m/push/subscriptions", content=json.dumps({"endpoint": sub["endpoint"]}),
                           headers={"X-CSRFToken": c.csrf, "Content-Type": "application/json"})
    assert gone.status_code == 204 and gone.headers["x-push-devices"] == "0"


async def test_a_bad_member_subscription_is_refused(member_client, push_hosts):
    c = await member_client()
    response = await c.post("/m/push/subscriptions", content=json.dumps({"endpoint": "https://evil.example/x"}),
                            headers={"X-CSRFToken": c.csrf, "Content-Type": "application/json"})
    assert response.status_code == 422 and "endpoint" in response.json()["errors"]
    assert await raw("SELECT id FROM push_subscription") == []


async def test_a_staff_user_taking_over_a_browser_takes_the_subscription(member_client, push_hosts, make_user):
    c = await member_client()
    sub = WebPushClient("http://127.0.0.1:9/shared").subscription()
    await c.post("/m/push/subscriptions", content=json.dumps(sub),
                 headers={"X-CSRFToken": c.csrf, "Content-Type": "application/json"})
    staff_id = await make_user("li.na")
    await save_subscription(staff_id, sub)
    assert await raw('SELECT "user", member FROM push_subscription') == [{"user": staff_id, "member": None}]
