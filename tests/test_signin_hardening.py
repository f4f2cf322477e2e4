"""Sign-in under attack (issue 11, findings 1–3): limits that hold when guesses arrive all at
once, through real server processes on both engines; a TOTP code that works once; `next`
that never leaves the site; and the real client address behind a trusted proxy."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from urllib.parse import unquote

import httpx
import pyotp
import pytest

from db.audit.tables import AuditEntry
from db.errors import ValidationFailed
from db.settings import get_settings
from db.staff import accounts
from db.staff.tables import StaffSession
from tests.conftest import CSRF_META, PASSWORD, csrf_token, sign_in
from tests.server import running_server
from web.core.auth import client_ip

# Plain http to 127.0.0.1: the cookies must not be Secure-only for httpx to send them back.
PLAIN = {"CRM_COOKIE_SECURE": "0"}


async def _form_token(http: httpx.AsyncClient, path: str) -> str:
    page = await http.get(path)
    assert page.status_code == 200, page.text[:500]
    return CSRF_META.search(page.text).group(1)


async def _all_at_once(requests) -> Counter:
    results = await asyncio.gather(*requests)
    return Counter(r.status_code for r in results)


# ---------------------------------------------------------------- finding 1: concurrent guesses


@pytest.mark.parametrize("workers", [3])
async def test_parallel_wrong_passwords_evaluate_at_most_the_limit(make_user, workers):
    await make_user("li.na")
    with running_server(workers=workers, **PLAIN) as base:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
            token = await _form_token(http, "/login")
            form = {"username": "li.na", "password": "wrong-password", "_csrf_token": token}
            statuses = await _all_at_once(http.post("/login", data=form) for _ in range(150))
            # 200 is a wrong password that was checked; 429 one that was not.
            assert statuses[200] <= accounts.ACCOUNT_LIMIT, statuses
            assert set(statuses) <= {200, 429}, statuses
            right = await http.post("/login", data={**form, "password": PASSWORD},
                                    follow_redirects=False)
            assert right.status_code == 429


async def test_parallel_totp_codes_evaluate_at_most_the_limit(make_user):
    user_id = await make_user("boss", role="admin", team=None)
    secret = pyotp.random_base32()
    await accounts.enable_totp(user_id, secret, pyotp.TOTP(secret).now())
    with running_server(workers=3, **PLAIN) as base:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
            token = await _form_token(http, "/login")
            signed = await http.post("/login", data={"username": "boss", "password": PASSWORD,
                                                     "_csrf_token": token}, follow_redirects=False)
            assert signed.headers["location"].startswith("/login/2fa")
            token = await _form_token(http, "/login/2fa")
            right = pyotp.TOTP(secret).at(time.time() + 30)
            codes = [f"{n:06d}" for n in range(100)] + [right]
            statuses = await _all_at_once(
                http.post("/login/2fa", data={"code": code, "_csrf_token": token},
                          follow_redirects=False) for code in codes)
    # 200 is a wrong code that was checked, 303 the right one; 429 a code never looked at.
    assert statuses[200] + statuses[303] <= accounts.ACCOUNT_LIMIT, statuses
    assert set(statuses) <= {200, 303, 429}, statuses


async def test_a_totp_code_signs_in_once_per_account(make_user):
    user_id = await make_user("boss", role="admin", team=None)
    secret = pyotp.random_base32()
    await accounts.enable_totp(user_id, secret, pyotp.TOTP(secret).now())
    code = pyotp.TOTP(secret).at(time.time() + 30)
    await accounts.verify_totp(user_id, code, "10.0.0.1")
    with pytest.raises(ValidationFailed):  # a second session, another address: still spent
        await accounts.verify_totp(user_id, code, "10.0.0.2")
    with pytest.raises(ValidationFailed):  # an older code is no use either
        await accounts.verify_totp(user_id, pyotp.TOTP(secret).now(), "10.0.0.2")


async def test_the_code_that_turned_two_factor_on_is_spent(make_user):
    user_id = await make_user("boss", role="admin", team=None)
    secret = pyotp.random_base32()
    code = pyotp.TOTP(secret).now()
    await accounts.enable_totp(user_id, secret, code)
    with pytest.raises(ValidationFailed):
        await accounts.verify_totp(user_id, code, "10.0.0.1")


async def test_a_right_password_does_not_use_up_the_address(make_user):
    await make_user("li.na")
    for _ in range(accounts.ADDRESS_LIMIT + 5):
        await accounts.authenticate("li.na", PASSWORD, "10.0.0.9")


# ---------------------------------------------------------------- finding 2: open redirect


NASTY_NEXT = ["/%09/evil.example/phish", "/%0d/evil.example", "/%0a/evil.example",
              "/%0b/evil.example", "/%E3%80%80/evil.example", "//evil.example", "/%5Cevil.example",
              "https://evil.example/", "/%00x", "/%7F/evil.example", "/%E2%80%8B/evil.example"]


@pytest.mark.parametrize("next_", NASTY_NEXT)
async def test_next_never_leaves_the_site(client, make_user, next_):
    await make_user("li.na")
    page = await client.get(f"/login?next={next_}")
    assert page.status_code == 200
    token = CSRF_META.search(page.text).group(1)
    hidden = page.text.split('name="next" value="', 1)[1].split('"', 1)[0]
    response = await client.post("/login", data={"username": "li.na", "password": PASSWORD,
                                                 "_csrf_token": token, "next": hidden},
                                 follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/today"
    # The same `next` posted straight to the form, bypassing the page, lands home too, or
    # (a control character in a form field) the form is refused and nobody is signed in.
    client.cookies.clear()
    token = await csrf_token(client)
    response = await client.post("/login", data={"username": "li.na", "password": PASSWORD,
                                                 "_csrf_token": token, "next": unquote(next_)},
                                 follow_redirects=False)
    if response.status_code == 422:
        assert await StaffSession.count() == 1
    else:
        assert response.status_code == 303 and response.headers["location"] == "/today"


async def test_a_local_next_with_a_query_survives_the_second_step(client, make_user):
    user_id = await make_user("boss", role="admin", team=None)
    secret = pyotp.random_base32()
    await accounts.enable_totp(user_id, secret, pyotp.TOTP(secret).now())
    token = await csrf_token(client)
    response = await client.post("/login", data={
        "username": "boss", "password": PASSWORD, "_csrf_token": token,
        "next": "/customers?q=王&tag=3"}, follow_redirects=False)
    assert response.headers["location"] == "/login/2fa?next=%2Fcustomers%3Fq%3D%25E7%258E%258B%26tag%3D3"
    page = await client.get(response.headers["location"])
    token = CSRF_META.search(page.text).group(1)
    hidden = page.text.split('name="next" value="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    done = await client.post("/login/2fa", data={
        "code": pyotp.TOTP(secret).at(time.time() + 30), "_csrf_token": token, "next": hidden},
        follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/customers?q=%E7%8E%8B&tag=3"


# ---------------------------------------------------------------- finding 3: behind a proxy


def _scope(peer: str, *forwarded: str) -> dict:
    return {"client": (peer, 50000),
            "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded]}


def test_the_forwarded_address_counts_only_from_a_trusted_proxy(settings_env):
    assert client_ip(_scope("127.0.0.1", "203.0.113.7")) == "127.0.0.1"  # setting off: ignored
    settings_env(CRM_BEHIND_HTTPS_PROXY="1")
    assert client_ip(_scope("127.0.0.1", "203.0.113.7")) == "203.0.113.7"
    assert client_ip(_scope("::1", "2001:db8::5")) == "2001:db8::5"
    # What the client wrote itself stands to the left of what our proxy added.
    assert client_ip(_scope("127.0.0.1", "6.6.6.6, 203.0.113.7")) == "203.0.113.7"
    assert client_ip(_scope("127.0.0.1", "6.6.6.6", "203.0.113.7")) == "203.0.113.7"
    # A peer that is not one of our proxies cannot name an address.
    assert client_ip(_scope("198.51.100.1", "203.0.113.7")) == "198.51.100.1"
    # Garbage or nothing: the proxy's own address, never a made-up one.
    assert client_ip(_scope("127.0.0.1", "not-an-address")) == "127.0.0.1"
    assert client_ip(_scope("127.0.0.1")) == "127.0.0.1"


def test_a_chain_of_trusted_proxies_is_walked_from_the_right(settings_env):
    settings_env(CRM_BEHIND_HTTPS_PROXY="1", CRM_TRUSTED_PROXIES="127.0.0.1/32, 10.0.0.0/8")
    assert client_ip(_scope("127.0.0.1", "6.6.6.6, 203.0.113.7, 10.1.2.3")) == "203.0.113.7"
    assert client_ip(_scope("10.9.9.9", "203.0.113.7")) == "203.0.113.7"
    settings_env(CRM_BEHIND_HTTPS_PROXY="1", CRM_TRUSTED_PROXIES="10.0.0.0/8, nonsense")
    with pytest.raises(ValueError, match="CRM_TRUSTED_PROXIES"):  # a typo stops the start
        get_settings()


async def test_behind_a_proxy_one_address_locks_only_itself(make_user):
    await make_user("li.na")
    env = {**PLAIN, "CRM_BEHIND_HTTPS_PROXY": "1"}
    with running_server(workers=2, **env) as base:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            token = await _form_token(http, "/login")

            async def wrong(n: int, address: str):
                return await http.post("/login", headers={"X-Forwarded-For": address}, data={
                    "username": f"nobody{n}", "password": "wrong", "_csrf_token": token})

            # Twenty addresses, one wrong sign-in each: nobody else is held back.
            for n in range(accounts.ADDRESS_LIMIT):
                assert (await wrong(n, f"203.0.113.{n + 1}")).status_code == 200
            async with httpx.AsyncClient(base_url=base, timeout=60) as other:
                other_token = await _form_token(other, "/login")
                right = await other.post("/login", headers={"X-Forwarded-For": "198.51.100.20"},
                                         data={"username": "li.na", "password": PASSWORD,
                                               "_csrf_token": other_token}, follow_redirects=False)
            assert right.status_code == 303
            # One address over its limit is held back by itself.
            for n in range(accounts.ADDRESS_LIMIT):
                assert (await wrong(100 + n, "198.51.100.66")).status_code == 200
            assert (await wrong(200, "198.51.100.66")).status_code == 429
            assert (await wrong(201, "198.51.100.67")).status_code == 200
    logged = await AuditEntry.select(AuditEntry.ip).where(
        AuditEntry.action == "auth.sign_in_failed").order_by(AuditEntry.id).first()
    assert logged["ip"] == "203.0.113.1"


async def test_behind_a_proxy_members_on_other_addresses_still_get_codes():
    env = {**PLAIN, "CRM_BEHIND_HTTPS_PROXY": "1"}
    with running_server(workers=1, **env) as base:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            token = await _form_token(http, "/m/login")
            statuses = Counter()
            for n in range(25):
                response = await http.post("/m/login", headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
                                           data={"mobile": f"1391234{n:04d}", "_csrf_token": token})
                statuses[response.status_code] += 1
    assert statuses == Counter({200: 25})


async def test_without_the_proxy_setting_a_forwarded_header_changes_nothing(make_user):
    await make_user("li.na")
    with running_server(workers=1, **PLAIN) as base:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            token = await _form_token(http, "/login")
            for n in range(accounts.ADDRESS_LIMIT):
                response = await http.post("/login", headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
                                           data={"username": f"nobody{n}", "password": "wrong",
                                                 "_csrf_token": token})
                assert response.status_code == 200
            response = await http.post("/login", headers={"X-Forwarded-For": "203.0.113.99"},
                                       data={"username": "li.na", "password": PASSWORD,
                                             "_csrf_token": token}, follow_redirects=False)
            assert response.status_code == 429  # every guess counted against 127.0.0.1


async def test_sign_in_still_works(client, make_user):
    await make_user("li.na")
    assert (await sign_in(client, "li.na")).status_code == 303
