"""Signing in and out through the browser-facing pages, CSRF, and security headers."""

import re
import time

from db.audit.tables import AuditEntry
from db.staff.tables import StaffSession
from tests.conftest import PASSWORD, csrf_token, sign_in


async def test_pages_need_sign_in_and_redirect_back(client):
    response = await client.get("/customers?q=王", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=%2Fcustomers")


async def test_sign_in_sets_a_secure_session_cookie_and_rotates_the_id(client, make_user):
    await make_user("li.na")
    first = await sign_in(client, "li.na")
    assert first.status_code == 303 and first.headers["location"] == "/today"
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie
    token_one = client.cookies.get("crm_session")
    second = await sign_in(client, "li.na")
    assert second.status_code == 303
    token_two = client.cookies.get("crm_session")
    assert token_one != token_two
    assert await StaffSession.count() == 1  # the first session ended when the second began
    assert (await client.get("/today")).status_code == 200


async def test_sign_out_ends_the_session(client, make_user):
    await make_user("li.na")
    await sign_in(client, "li.na")
    token = await csrf_token(client, "/more")
    response = await client.post("/logout", data={"_csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert await StaffSession.count() == 0
    assert (await client.get("/today", follow_redirects=False)).status_code == 303


async def test_missing_or_wrong_csrf_token_is_refused_and_changes_nothing(signed_in):
    c = await signed_in("li.na")
    for data, headers in (({}, {}), ({"_csrf_token": "forged"}, {}), ({}, {"X-CSRFToken": "forged"})):
        response = await c.post("/account/language", data={**data, "lang": "en"}, headers=headers)
        assert response.status_code == 403
    assert (await c.get("/more")).text.count('aria-pressed="true"') == 1
    ok = await c.post("/account/language", data={"lang": "en"}, headers={"X-CSRFToken": c.csrf},
                      follow_redirects=False)
    assert ok.status_code == 303


async def test_sign_in_form_needs_csrf_too(client, make_user):
    await make_user("li.na")
    response = await client.post("/login", data={"username": "li.na", "password": PASSWORD})
    assert response.status_code == 403
    assert await StaffSession.count() == 0


async def test_ten_wrong_passwords_hit_the_rate_limit_with_a_clear_message(client, make_user):
    await make_user("li.na")
    statuses = []
    for _ in range(10):
        response = await sign_in(client, "li.na", "not-the-password")
        statuses.append(response.status_code)
    assert statuses[:5] == [200] * 5 and set(statuses[5:]) == {429}
    assert "Try again in" in response.text or "分钟后再试" in response.text
    assert "retry-after" in response.headers
    failed = await AuditEntry.count().where(AuditEntry.action == "auth.sign_in_failed")
    assert failed == 5


async def test_security_headers_on_every_response(client):
    for path in ("/login", "/healthz", "/no-such-page"):
        response = await client.get(path)
        csp = response.headers["content-security-policy"]
        assert "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert re.search(r"script-src 'self' 'nonce-[\w-]+'", csp)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["cache-control"] == "no-store"


async def test_script_tags_carry_the_nonce(client):
    response = await client.get("/login")
    nonce = re.search(r"'nonce-([\w-]+)'", response.headers["content-security-policy"]).group(1)
    scripts = re.findall(r"<script[^>]*>", response.text)
    assert scripts and all(f'nonce="{nonce}"' in s for s in scripts)


async def test_hsts_only_over_https(client):
    assert "strict-transport-security" in (await client.get("/login")).headers


async def test_admin_must_set_up_two_factor_when_required(client, make_user, settings_env):
    import pyotp

    settings_env(CRM_ADMIN_2FA="required")
    await make_user("boss", role="admin", team=None)
    response = await sign_in(client, "boss")
    assert response.headers["location"].startswith("/account/2fa")
    # Nothing else is reachable until two-factor is set up.
    assert (await client.get("/customers", follow_redirects=False)).headers["location"] == "/account/2fa"
    page = await client.get("/account/2fa")
    secret = re.search(r'name="secret" value="([A-Z2-7]+)"', page.text).group(1)
    signature = re.search(r'name="signature" value="(\w+)"', page.text).group(1)
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
    first_code = pyotp.TOTP(secret).now()
    done = await client.post("/account/2fa", data={
        "secret": secret, "signature": signature, "_csrf_token": token,
        "code": first_code, "next": "/customers"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/customers"
    assert (await client.get("/customers")).status_code == 200
    # Next sign-in asks for a code.
    client.cookies.clear()
    response = await sign_in(client, "boss")
    assert response.headers["location"].startswith("/login/2fa")
    token = await csrf_token(client, "/login/2fa")
    wrong = await client.post("/login/2fa", data={"code": "000000", "_csrf_token": token})
    assert "Wrong code" in wrong.text or "验证码错误" in wrong.text
    # The code that turned two-factor on is spent; the next step's code is accepted.
    spent = await client.post("/login/2fa", data={"code": first_code, "_csrf_token": token},
                              follow_redirects=False)
    assert spent.status_code == 200
    upcoming = pyotp.TOTP(secret).at(time.time() + 30)
    right = await client.post("/login/2fa", data={"code": upcoming, "_csrf_token": token},
                              follow_redirects=False)
    assert right.status_code == 303 and right.headers["location"] == "/today"


async def test_password_change_signs_out_other_devices(app, signed_in):
    from litestar.testing import AsyncTestClient

    phone = await signed_in("li.na")
    async with AsyncTestClient(app=app, base_url="https://testserver.local") as laptop:
        await sign_in(laptop, "li.na")
        assert (await laptop.get("/today")).status_code == 200
        response = await phone.post("/account/password", data={
            "current_password": PASSWORD, "new_password": "another-long-passphrase",
            "new_password_again": "another-long-passphrase", "_csrf_token": phone.csrf},
            follow_redirects=False)
        assert response.status_code == 303
        assert (await laptop.get("/today", follow_redirects=False)).status_code == 303
        assert (await phone.get("/today")).status_code == 200


async def test_errors_show_a_page_not_a_stack_trace(signed_in):
    c = await signed_in("li.na")
    response = await c.get("/customers/999999")
    assert response.status_code == 404
    assert "Traceback" not in response.text and "<html" in response.text


async def test_audit_log_is_for_admins_and_reads_as_words(signed_in):
    admin = await signed_in("boss", "admin", None)
    staff = await signed_in("li.na", "staff")
    page = await admin.get("/admin/audit", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and "Signed in" in page.text and "auth.sign_in" not in page.text
    assert (await staff.get("/admin/audit")).status_code == 403
