"""Member sign-in on the member page: one-time SMS codes, their limits, support links, member
sessions, and the wall between member and staff sessions."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re

import pytest
from click.testing import CliRunner

from db.clock import now as real_now
from db.actor import Actor
from db.customers.profile import parse_customer
from db.customers.service import upsert_customer
from db.engine import raw
from db.members import membership, signin, sms
from db.members.qr_card import card_payload, read_card_payload
from tests.conftest import BASE_URL, CSRF_META

MOBILE = "13812345678"
E164 = "+8613812345678"


async def make_member(name: str = "王芳", mobile: str = MOBILE) -> dict:
    cid, _ = await upsert_customer(parse_customer({"name": name, "mobile": mobile}), Actor(None, "test"))
    return await membership.join(cid, "staff", Actor(None, "test"))


def code_for(mobile: str = E164) -> str:
    text = sms.last_console_message(mobile)
    assert text, "no SMS was sent"
    return re.search(r"\b(\d{6})\b", text).group(1)


@pytest.fixture
def clock(monkeypatch):
    """Move the sign-in rules' clock: clock(minutes=6) is six minutes from now."""
    shift = {"delta": dt.timedelta()}
    monkeypatch.setattr(signin, "now", lambda: real_now() + shift["delta"])

    def move(**kwargs):
        shift["delta"] = dt.timedelta(**kwargs)

    return move


async def token_of(client, path: str = "/m/login") -> str:
    page = await client.get(path)
    return CSRF_META.search(page.text).group(1)


async def ask_code(client, mobile: str = MOBILE):
    return await client.post("/m/login", data={"mobile": mobile, "_csrf_token": await token_of(client)})


async def type_code(client, code: str, mobile: str = MOBILE):
    return await client.post("/m/login/verify", data={
        "mobile": mobile, "code": code, "_csrf_token": await token_of(client)}, follow_redirects=False)


def other(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


# ---------------------------------------------------------------- codes (domain)


async def test_a_code_signs_in_once_and_is_stored_only_as_a_hash():
    member = await make_member()
    sent = await signin.request_code(MOBILE, "1.2.3.4")
    assert sent.mobile == E164
    code = code_for()
    rows = await raw("SELECT secret_hash FROM member_sign_in_code")
    assert len(rows) == 1 and code not in rows[0]["secret_hash"] and len(rows[0]["secret_hash"]) == 64
    result = await signin.verify_code("138 1234 5678", code, "1.2.3.4")
    assert result.member_id == member["id"]
    with pytest.raises(signin.ValidationFailed):  # single use
        await signin.verify_code(MOBILE, code, "1.2.3.4")


async def test_a_code_expires_after_five_minutes(clock):
    await make_member()
    await signin.request_code(MOBILE, "1.2.3.4")
    code = code_for()
    clock(minutes=5, seconds=1)
    with pytest.raises(signin.ValidationFailed) as caught:
        await signin.verify_code(MOBILE, code, "1.2.3.4")
    assert caught.value.errors == {"code": "this code has expired; ask for a new one"}


async def test_five_wrong_tries_kill_the_code_and_lock_the_number(clock):
    await make_member()
    await signin.request_code(MOBILE, "1.2.3.4")
    code = code_for()
    for left in (4, 3, 2, 1):
        with pytest.raises(signin.WrongCode) as caught:
            await signin.verify_code(MOBILE, other(code), "1.2.3.4")
        assert caught.value.tries_left == left
    with pytest.raises(signin.SignInLimited) as caught:
        await signin.verify_code(MOBILE, other(code), "1.2.3.4")
    assert caught.value.reason == "locked" and caught.value.retry_after == 15 * 60
    # The right code no longer works, and no new code can be asked for while locked.
    with pytest.raises(signin.SignInLimited):
        await signin.verify_code(MOBILE, code, "1.2.3.4")
    clock(minutes=2)
    with pytest.raises(signin.SignInLimited) as caught:
        await signin.request_code(MOBILE, "1.2.3.4")
    assert caught.value.reason == "locked" and 12 * 60 < caught.value.retry_after <= 13 * 60 + 1
    clock(minutes=15, seconds=5)
    await signin.request_code(MOBILE, "1.2.3.4")
    assert (await signin.verify_code(MOBILE, code_for(), "1.2.3.4")).member_id


async def test_parallel_guesses_each_count(clock):
    """Twenty wrong guesses at once: no more than five are ever checked against the code."""
    await make_member()
    await signin.request_code(MOBILE, "1.2.3.4")
    code = code_for()
    results = await asyncio.gather(*[signin.verify_code(MOBILE, other(code), f"10.0.0.{i}")
                                     for i in range(20)], return_exceptions=True)
    wrong = [r for r in results if isinstance(r, signin.WrongCode)]
    assert len(wrong) <= 4
    assert not any(isinstance(r, signin.Verified) for r in results)
    with pytest.raises(signin.SignInLimited):
        await signin.verify_code(MOBILE, code, "1.2.3.4")


async def test_resend_waits_a_minute_and_at_most_five_codes_an_hour(clock):
    await make_member()
    await signin.request_code(MOBILE, "1.2.3.4")
    first = code_for()
    with pytest.raises(signin.SignInLimited) as caught:
        await signin.request_code(MOBILE, "1.2.3.4")
    assert caught.value.reason == "cooldown" and 55 <= caught.value.retry_after <= 61
    for i in range(1, 5):
        clock(seconds=61 * i)
        await signin.request_code(MOBILE, "1.2.3.4")
    clock(seconds=61 * 5)
    with pytest.raises(signin.SignInLimited) as caught:
        await signin.request_code(MOBILE, "1.2.3.4")
    assert caught.value.reason == "hourly"
    # Only the newest code works: the first one was replaced (unless both came out the same).
    if first != code_for():
        with pytest.raises(signin.ValidationFailed):
            await signin.verify_code(MOBILE, first, "1.2.3.4")
    clock(minutes=61)
    await signin.request_code(MOBILE, "1.2.3.4")


async def test_an_address_may_ask_for_twenty_codes_an_hour():
    for i in range(signin.ADDRESS_SENDS_PER_HOUR):
        await signin.request_code(f"1390000{i:04d}", "9.9.9.9")
    with pytest.raises(signin.SignInLimited) as caught:
        await signin.request_code("13911112222", "9.9.9.9")
    assert caught.value.reason == "address"
    await signin.request_code("13911112222", "8.8.8.8")  # another address is not held back


async def test_a_failed_sms_is_not_counted(settings_env):
    await make_member()
    settings_env(CRM_SMS_BACKEND="http", CRM_SMS_HTTP_URL="http://127.0.0.1:9/sms")
    with pytest.raises(signin.SmsNotSent):
        await signin.request_code(MOBILE, "1.2.3.4")
    assert await raw("SELECT id FROM member_sign_in_code") == []
    assert await raw("SELECT id FROM limit_attempt") == []
    settings_env(CRM_SMS_BACKEND="console")
    await signin.request_code(MOBILE, "1.2.3.4")  # at once: no cooldown from the failed one


async def test_the_http_backend_posts_json_with_the_bearer_token(settings_env):
    from aiohttp import web

    seen = []

    async def handler(request):
        seen.append((request.headers.get("Authorization"), await request.json()))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/sms", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        settings_env(CRM_SMS_BACKEND="http", CRM_SMS_HTTP_URL=f"http://127.0.0.1:{port}/sms",
                     CRM_SMS_HTTP_TOKEN="gateway-secret")
        await signin.request_code(MOBILE, "1.2.3.4")
    finally:
        await runner.cleanup()
    assert len(seen) == 1
    auth, body = seen[0]
    assert auth == "Bearer gateway-secret" and body["to"] == E164
    assert re.search(r"\b\d{6}\b", body["text"])


async def test_the_console_backend_logs_the_masked_number_and_the_code(caplog):
    with caplog.at_level(logging.INFO, logger="crm.sms"):
        await signin.request_code(MOBILE, "1.2.3.4")
    line = [r.getMessage() for r in caplog.records if r.name == "crm.sms"][0]
    assert line.startswith("SMS to 138****5678: ") and code_for() in line
    assert MOBILE not in line


async def test_a_number_that_is_not_a_member_gets_a_join_token_after_its_code():
    await signin.request_code("13900001111", "1.2.3.4")
    result = await signin.verify_code("13900001111", code_for("+8613900001111"), "1.2.3.4")
    assert result.member_id is None and result.join_token and not result.is_customer
    with pytest.raises(signin.ValidationFailed) as caught:
        await signin.join(result.join_token, "", "1.2.3.4")
    assert caught.value.errors == {"name": "required"}
    member_id = await signin.join(result.join_token, "李娜", "1.2.3.4", consents={"sms": True})
    member = await membership.get(member_id)
    customer = (await raw("SELECT name, mobile FROM customer WHERE id = {}", member["customer"]))[0]
    assert customer == {"name": "李娜", "mobile": "+8613900001111"}
    assert (await membership.consents(member_id))["sms"]["granted"] is True
    with pytest.raises(signin.NotFound):  # the join token works once
        await signin.join(result.join_token, "李娜", "1.2.3.4")


async def test_an_existing_customer_joins_without_typing_a_name():
    cid, _ = await upsert_customer(parse_customer({"name": "赵敏", "mobile": "13700001111"}), Actor(None, "t"))
    await signin.request_code("13700001111", "1.2.3.4")
    result = await signin.verify_code("13700001111", code_for("+8613700001111"), "1.2.3.4")
    assert result.is_customer
    member_id = await signin.join(result.join_token, "", "1.2.3.4")
    assert (await membership.get(member_id))["customer"] == cid


# ---------------------------------------------------------------- support links


async def test_a_login_link_works_once_within_fifteen_minutes(clock):
    member = await make_member()
    token, member_id = await signin.create_login_link(MOBILE)
    assert member_id == member["id"]
    assert await signin.link_is_live(token)
    assert await signin.use_login_link(token) == member["id"]
    with pytest.raises(signin.NotFound):
        await signin.use_login_link(token)
    late, _ = await signin.create_login_link(MOBILE)
    clock(minutes=15, seconds=1)
    assert not await signin.link_is_live(late)
    with pytest.raises(signin.NotFound):
        await signin.use_login_link(late)


async def test_no_login_link_for_a_number_that_is_not_a_member():
    with pytest.raises(signin.NotFound):
        await signin.create_login_link("13900009999")


def test_crm_member_login_link_prints_a_url_and_fails_for_a_stranger(settings_env):
    import asyncio

    from web.cli import main

    asyncio.run(make_member())
    settings_env(CRM_BASE_URL="https://crm.example.com/")
    result = CliRunner().invoke(main, ["member", "login-link", MOBILE])
    assert result.exit_code == 0, result.output
    url = result.stdout.strip().splitlines()[0]
    assert re.fullmatch(r"https://crm\.example\.com/m/login/link/[A-Za-z0-9_-]{40,}", url)
    audit = asyncio.run(raw("SELECT action, actor FROM audit_entry WHERE action = 'member.login_link'"))
    assert audit == [{"action": "member.login_link", "actor": "cli"}]
    missing = CliRunner().invoke(main, ["member", "login-link", "13900009999"])
    assert missing.exit_code != 0 and "no member has this mobile number" in missing.output


# ---------------------------------------------------------------- over HTTP


async def test_sign_in_by_code_sets_a_fresh_member_cookie(client):
    await make_member()
    page = await ask_code(client)
    assert page.status_code == 200 and "138****5678" in page.text
    code = code_for()
    assert code not in page.text
    response = await type_code(client, code)
    assert response.status_code == 303 and response.headers["location"] == "/m/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("crm_member=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" in cookie and "Path=/m" in cookie
    home = await client.get("/m/")
    assert home.status_code == 200 and "王芳" in home.text


async def test_the_same_answer_for_a_member_and_a_stranger(client):
    await make_member()
    member_page = await ask_code(client)
    stranger_page = await ask_code(client, "13900001111")
    strip = lambda t: re.sub(r'(content|value|nonce)="[^"]*"|\d{3}\*{4}\d{4}', "", t)  # noqa: E731
    assert member_page.status_code == stranger_page.status_code == 200
    assert strip(member_page.text) == strip(stranger_page.text)


async def test_a_new_session_id_at_every_sign_in(client):
    member = await make_member()
    await ask_code(client)
    first = await type_code(client, code_for())
    old_token = first.cookies.get("crm_member") or first.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    token, _ = await signin.create_login_link(MOBILE)
    second = await client.post(f"/m/login/link/{token}", data={"_csrf_token": await token_of(client, f"/m/login/link/{token}")},
                               follow_redirects=False)
    assert second.status_code == 303
    new_token = second.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    assert new_token and new_token != old_token
    # The old session is gone: only the new one is live.
    rows = await raw("SELECT member FROM member_session")
    assert rows == [{"member": member["id"]}]
    assert await signin.load_session(old_token, dt.timedelta(days=1), dt.timedelta(days=1)) is None


async def test_wrong_codes_over_http_lock_with_a_clear_wait(client):
    await make_member()
    await ask_code(client)
    code = code_for()
    for _ in range(4):
        page = await type_code(client, other(code))
        assert page.status_code == 200
    page = await type_code(client, other(code))
    assert page.status_code == 429 and page.headers["retry-after"] == "900"
    assert "15" in page.text
    page = await type_code(client, code)
    assert page.status_code == 429 and "crm_member" not in page.headers.get("set-cookie", "")


async def test_a_link_page_shows_a_button_and_does_not_spend_the_link(client):
    await make_member()
    token, _ = await signin.create_login_link(MOBILE)
    for _ in range(2):  # a chat app's link preview opens it first
        page = await client.get(f"/m/login/link/{token}")
        assert page.status_code == 200 and f'action="/m/login/link/{token}"' in page.text
    csrf = CSRF_META.search(page.text).group(1)
    used = await client.post(f"/m/login/link/{token}", data={"_csrf_token": csrf}, follow_redirects=False)
    assert used.status_code == 303
    again = await client.get(f"/m/login/link/{token}")
    assert again.status_code == 410
    csrf = CSRF_META.search(again.text).group(1)  # signed in now: the session's token
    replay = await client.post(f"/m/login/link/{token}", data={"_csrf_token": csrf}, follow_redirects=False)
    assert replay.status_code == 410


async def test_signing_up_over_http(client):
    await ask_code(client, "13900001111")
    page = await type_code(client, code_for("+8613900001111"), "13900001111")
    assert page.status_code == 200 and 'name="token"' in page.text and 'name="name"' in page.text
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    csrf = CSRF_META.search(page.text).group(1)
    missing = await client.post("/m/join", data={"token": token, "name": "", "_csrf_token": csrf})
    assert missing.status_code == 200 and 'aria-invalid="true"' in missing.text
    joined = await client.post("/m/join", data={"token": token, "name": "李娜", "consent_push": "1",
                                                "_csrf_token": csrf}, follow_redirects=False)
    assert joined.status_code == 303 and joined.headers["location"] == "/m/?welcome=1"
    home = await client.get("/m/?welcome=1")
    assert home.status_code == 200 and "李娜" in home.text


async def test_member_pages_need_the_csrf_token(client):
    await make_member()
    await ask_code(client)
    await type_code(client, code_for())
    response = await client.post("/m/logout", data={})
    assert response.status_code == 403
    token = await token_of(client, "/m/")
    response = await client.post("/m/logout", data={"_csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/m/login"
    assert (await client.get("/m/", follow_redirects=False)).status_code == 303
    assert await raw("SELECT id FROM member_session") == []


async def test_member_sessions_expire_when_idle_and_absolutely(client, monkeypatch):
    member = await make_member()
    token = await signin.start_session(member["id"], "1.2.3.4", "ua")
    idle, absolute = dt.timedelta(days=30), dt.timedelta(days=90)
    assert await signin.load_session(token, idle, absolute)
    monkeypatch.setattr(signin, "now", lambda: real_now() + dt.timedelta(days=31))
    assert await signin.load_session(token, idle, absolute) is None
    token = await signin.start_session(member["id"], "1.2.3.4", "ua")
    for day in range(20, 100, 20):  # used every 20 days, but never past 90 days in all
        monkeypatch.setattr(signin, "now", lambda d=day: real_now() + dt.timedelta(days=d))
        alive = await signin.load_session(token, idle, absolute)
        assert (alive is not None) == (day <= 90)


# ---------------------------------------------------------------- staff and members apart


async def test_a_staff_session_opens_nothing_under_m(signed_in):
    staff = await signed_in("li.na", "admin")
    await make_member()
    for path in ("/m/", "/m/points", "/m/rewards", "/m/coupons", "/m/card", "/m/settings"):
        response = await staff.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/m/login", path
    response = await staff.post("/m/push/subscriptions", content="{}",
                                headers={"X-CSRFToken": staff.csrf, "Content-Type": "application/json"})
    assert response.status_code in (303, 403)


async def test_a_member_cookie_opens_no_staff_page_and_no_api(app, client):
    from litestar.testing import AsyncTestClient

    await make_member()
    await ask_code(client)
    signed = await type_code(client, code_for())
    token = signed.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    async with AsyncTestClient(app=app, base_url=BASE_URL) as other_client:
        other_client.cookies.set("crm_member", token)
        for path in ("/today", "/customers", "/more", "/account"):
            response = await other_client.get(path, follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"].startswith("/login"), path
        # Sent as a staff cookie (someone copying it over) it is nothing either.
        other_client.cookies.set("crm_session", token)
        assert (await other_client.get("/today", follow_redirects=False)).status_code == 303
        api = await other_client.get("/api/v1/customers?q=138", headers={"Cookie": f"crm_member={token}"})
        assert api.status_code == 401


# ---------------------------------------------------------------- the card's QR payload


def test_card_payload_round_trips_and_refuses_forgeries():
    payload = card_payload("100000018")
    prefix, number, sig = payload.split(":")
    assert prefix == "CRMM" and number == "100000018" and len(sig) == 10
    assert re.fullmatch(r"[A-Z2-7]{10}", sig)
    assert read_card_payload(payload) == "100000018"
    assert read_card_payload(f"  {payload}\n") == "100000018"
    assert read_card_payload(f"CRMM:100000026:{sig}") is None
    assert read_card_payload("CRMM:100000018:AAAAAAAAAA") is None
    assert read_card_payload("100000018") is None
    assert read_card_payload("CRMM:100000018:ÄÄÄÄÄÄÄÄÄÄ") is None
    assert read_card_payload(None) is None
