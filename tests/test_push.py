"""Web Push: subscriptions, the outbox and the sender, against a local push service
(tests/push_receiver.py) and an independent client that decrypts and verifies what arrives
(tests/webpush_client.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest

from db.clock import now
from db.engine import as_datetime, raw, writing
from db.errors import ValidationFailed
from db.push import sender
from db.push.outbox import cancel, enqueue, wake
from db.push.sender import backoff, retry_after, run_sender, send_due
from db.push.subscriptions import host_allowed, remove_subscription, save_subscription
from tests.conftest import IS_SQLITE
from tests.push_receiver import PushReceiver, Step
from tests.webpush_client import WebPushClient, b64url, verify_vapid
from db.settings import get_settings

ANDROID_CHROME = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/131.0.0.0 Mobile Safari/537.36")
PAYLOAD = {"title": "跟进提醒", "body": "王芳 · 今天 15:00 回访", "url": "/customers/7"}


@pytest.fixture
async def rx():
    async with PushReceiver() as receiver:
        yield receiver


@pytest.fixture
def local_push(settings_env, rx):
    """Let subscriptions point at the local receiver (plain http on 127.0.0.1)."""
    settings_env(CRM_PUSH_ALLOW_HTTP="1", CRM_PUSH_ALLOWED_HOSTS="127.0.0.1",
                 CRM_PUSH_RETRY_SECONDS="0", CRM_PUSH_TIMEOUT_SECONDS="2")
    return rx


async def _device(user_id: int, rx: PushReceiver, path: str) -> WebPushClient:
    client = WebPushClient(rx.endpoint(path))
    await save_subscription(user_id, client.subscription(), ANDROID_CHROME)
    return client


async def _messages() -> list[dict]:
    return await raw("SELECT id, subscription, state, attempts, not_before, last_status, "
                     "last_error, sent_at FROM push_message ORDER BY id")


async def _subscription_count() -> int:
    return (await raw("SELECT count(*) AS n FROM push_subscription"))[0]["n"]


def _json_headers(client) -> dict:
    return {"X-CSRFToken": client.csrf, "Content-Type": "application/json",
            "User-Agent": ANDROID_CHROME}


# ---------------------------------------------------------------- subscribing over HTTP


async def test_subscribe_saves_the_device_and_the_account_page_lists_it(signed_in_english,
                                                                       local_push):
    client = await signed_in_english()
    sub = WebPushClient(local_push.endpoint("/phone-1")).subscription()
    response = await client.post("/push/subscriptions", content=json.dumps(sub),
                                 headers=_json_headers(client))
    assert response.status_code == 201, response.text
    sub_id = response.json()["id"]
    rows = await raw("SELECT id, \"user\", endpoint, p256dh, auth, user_agent "
                     "FROM push_subscription")
    assert rows == [{"id": sub_id, "user": client.user_id, "endpoint": sub["endpoint"],
                     "p256dh": sub["keys"]["p256dh"], "auth": sub["keys"]["auth"],
                     "user_agent": ANDROID_CHROME}]
    page = await client.get("/account")
    assert page.status_code == 200
    assert "Reminders on this phone" in page.text
    assert "Chrome · Android" in page.text
    assert "Devices with reminders: 1" in page.text
    assert 'data-push-key="' in page.text and "<script>" not in page.text.replace("<script src", "")


async def test_the_account_page_carries_the_vapid_public_key(signed_in_english):
    from db.push.vapid import public_key_b64

    client = await signed_in_english()
    page = await client.get("/account")
    key = public_key_b64(get_settings().data_dir)
    assert f'data-push-key="{key}"' in page.text
    from tests.webpush_client import unb64url
    point = unb64url(key)
    assert len(point) == 65 and point[0] == 4


def _sub(endpoint="https://fcm.googleapis.com/fcm/send/abc", p256dh=None, auth=None):
    keys = WebPushClient(endpoint).subscription()["keys"]
    return {"endpoint": endpoint, "keys": {"p256dh": keys["p256dh"] if p256dh is None else p256dh,
                                           "auth": keys["auth"] if auth is None else auth}}


NOT_ON_CURVE = b64url(b"\x04" + (1).to_bytes(32, "big") + (1).to_bytes(32, "big"))
COMPRESSED = b64url(b"\x02" + bytes(range(32)))


@pytest.mark.parametrize("data, field", [
    (_sub(p256dh="not base64!"), "keys.p256dh"),
    (_sub(p256dh=b64url(b"\x04" + bytes(63))), "keys.p256dh"),   # 64 bytes
    (_sub(p256dh=NOT_ON_CURVE), "keys.p256dh"),
    (_sub(p256dh=COMPRESSED), "keys.p256dh"),
    (_sub(auth=b64url(bytes(15))), "keys.auth"),
    (_sub(auth="***"), "keys.auth"),
    ({"endpoint": "https://fcm.googleapis.com/fcm/send/abc"}, "keys"),
    ({"keys": {}}, "endpoint"),
])
async def test_malformed_keys_are_refused_with_field_errors_and_nothing_is_saved(
        signed_in_english, data, field):
    client = await signed_in_english()
    response = await client.post("/push/subscriptions", content=json.dumps(data),
                                 headers=_json_headers(client))
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "invalid input" and field in body["errors"]
    assert await _subscription_count() == 0


async def test_padded_base64url_keys_are_accepted(signed_in_english):
    client = await signed_in_english()
    data = _sub()
    data["keys"]["auth"] += "=="  # 16 bytes: 22 characters and two padding characters
    response = await client.post("/push/subscriptions", content=json.dumps(data),
                                 headers=_json_headers(client))
    assert response.status_code == 201, response.text


async def test_an_http_endpoint_is_refused_without_the_flag(signed_in_english, settings_env):
    settings_env(CRM_PUSH_ALLOWED_HOSTS="127.0.0.1")
    client = await signed_in_english()
    data = _sub("http://127.0.0.1:9/push")
    response = await client.post("/push/subscriptions", content=json.dumps(data),
                                 headers=_json_headers(client))
    assert response.status_code == 422 and "endpoint" in response.json()["errors"]
    settings_env(CRM_PUSH_ALLOW_HTTP="1")
    response = await client.post("/push/subscriptions", content=json.dumps(data),
                                 headers=_json_headers(client))
    assert response.status_code == 201


@pytest.mark.parametrize("endpoint", [
    "https://evil.example.com/push", "https://127.0.0.1/push", "https://169.254.169.254/latest",
    "https://fcm.googleapis.com.evil.com/x", "https://push.apple.com.evil.com/x",
    "https://user:pw@fcm.googleapis.com/x", "ftp://fcm.googleapis.com/x", "/relative", "",
])
async def test_a_host_that_is_not_a_push_service_is_refused(signed_in_english, endpoint):
    client = await signed_in_english()
    response = await client.post("/push/subscriptions", content=json.dumps(_sub(endpoint)),
                                 headers=_json_headers(client))
    assert response.status_code == 422 and "endpoint" in response.json()["errors"]
    assert await _subscription_count() == 0


def test_the_known_push_services_are_allowed_by_default():
    for url in ("https://fcm.googleapis.com/fcm/send/x",
                "https://android.googleapis.com/gcm/send/x",
                "https://updates.push.services.mozilla.com/wpush/v2/x",
                "https://web.push.apple.com/QGx", "https://api.push.apple.com/x",
                "https://wns2-par02p.notify.windows.com/w/?token=x"):
        assert host_allowed(url), url
    for url in ("https://push.apple.com.attacker.net/x", "https://notify.windows.com/x",
                "https://evilpush.apple.com/x", "https://localhost/x", "not a url"):
        assert not host_allowed(url), url


def test_allowed_hosts_setting_replaces_the_list(settings_env):
    settings_env(CRM_PUSH_ALLOWED_HOSTS="push.example.org, *.example.com,127.0.0.1:8443")
    assert host_allowed("https://push.example.org/x")
    assert host_allowed("https://a.b.example.com/x")
    assert not host_allowed("https://example.com/x")
    assert host_allowed("https://127.0.0.1:8443/x")
    assert not host_allowed("https://127.0.0.1:8444/x")
    assert not host_allowed("https://fcm.googleapis.com/fcm/send/x")  # replaced, not added to


async def test_the_same_endpoint_posted_by_another_user_moves_to_them(make_user):
    first, second = await make_user("a.one"), await make_user("b.two")
    data = _sub()
    one = await save_subscription(first, data)
    two = await save_subscription(second, data, "UA")
    assert one == two
    rows = await raw("SELECT \"user\", user_agent FROM push_subscription")
    assert rows == [{"user": second, "user_agent": "UA"}]


async def test_delete_forgets_one_device_or_all_of_them(signed_in_english, make_user, local_push):
    client = await signed_in_english()
    other = await make_user("someone.else")
    await _device(other, local_push, "/other")
    phone = await _device(client.user_id, local_push, "/phone")
    await _device(client.user_id, local_push, "/laptop")
    response = await client.request("DELETE", "/push/subscriptions",
                                    content=json.dumps({"endpoint": phone.endpoint}),
                                    headers=_json_headers(client))
    assert response.status_code == 204 and response.headers["X-Push-Devices"] == "1"
    assert {r["endpoint"] for r in await raw("SELECT endpoint FROM push_subscription")} == {
        local_push.endpoint("/laptop"), local_push.endpoint("/other")}
    response = await client.request("DELETE", "/push/subscriptions", headers=_json_headers(client))
    assert response.status_code == 204
    assert [r["endpoint"] for r in await raw("SELECT endpoint FROM push_subscription")] == [
        local_push.endpoint("/other")]  # someone else's device is untouched


async def test_a_missing_csrf_token_is_refused(signed_in_english):
    client = await signed_in_english()
    headers = {"Content-Type": "application/json"}
    response = await client.post("/push/subscriptions", content=json.dumps(_sub()), headers=headers)
    assert response.status_code == 403
    response = await client.request("DELETE", "/push/subscriptions", headers=headers)
    assert response.status_code == 403
    response = await client.post("/push/test", headers=headers)
    assert response.status_code == 403
    assert await _subscription_count() == 0


async def test_signed_out_requests_are_sent_to_sign_in(client):
    response = await client.get("/account", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


async def test_send_a_test_reaches_the_callers_devices(signed_in_english, make_user, local_push):
    client = await signed_in_english()
    other = await make_user("someone.else")
    await _device(other, local_push, "/other")
    phone = await _device(client.user_id, local_push, "/phone")
    response = await client.post("/push/test", data={"_csrf_token": client.csrf},
                                 follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/account?msg=push_test"
    stats = await send_due()
    assert stats["sent"] == 1
    [received] = local_push.requests
    assert received.path == "/phone"
    message = phone.decrypt_json(received.body)
    assert message["url"] == "/account" and message["title"] and message["body"]


# ---------------------------------------------------------------- sending


async def test_two_devices_each_receive_a_message_that_decrypts_with_vapid_and_headers(
        make_user, local_push):
    from db.push.vapid import public_key_b64

    user = await make_user()
    phones = [await _device(user, local_push, "/phone-1"),
              await _device(user, local_push, "/phone-2")]
    assert await enqueue(user, PAYLOAD, urgency="high", ttl=3600, ref="followup:7:reminder") == 2
    stats = await send_due()
    assert stats == {"claimed": 2, "sent": 2, "retry": 0, "failed": 0, "gone": 0}
    for phone, path in zip(phones, ("/phone-1", "/phone-2")):
        [req] = local_push.requests_to(path)
        assert phone.decrypt_json(req.body) == PAYLOAD
        assert req.headers["content-encoding"] == "aes128gcm"
        assert req.headers["ttl"] == "3600"
        assert req.headers["urgency"] == "high"
        vapid = verify_vapid(req.headers["authorization"], phone.endpoint)
        assert vapid["k"] == public_key_b64(get_settings().data_dir)
        assert vapid["claims"]["sub"] == "mailto:admin@localhost"
    rows = await _messages()
    assert [r["state"] for r in rows] == ["sent", "sent"]
    assert all(r["last_status"] == 201 and as_datetime(r["sent_at"]) for r in rows)
    subs = await raw("SELECT last_success_at, failures FROM push_subscription")
    assert all(as_datetime(s["last_success_at"]) and s["failures"] == 0 for s in subs)
    assert await send_due() == {"claimed": 0, "sent": 0, "retry": 0, "failed": 0, "gone": 0}


async def test_the_default_ttl_is_a_day_never_zero(make_user, local_push):
    user = await make_user()
    await _device(user, local_push, "/p")
    await enqueue(user, PAYLOAD)
    await send_due()
    [req] = local_push.requests
    assert req.headers["ttl"] == "86400" and req.headers["urgency"] == "normal"


async def test_enqueue_rejects_a_zero_ttl_and_an_unknown_urgency(make_user):
    user = await make_user()
    with pytest.raises(ValueError):
        await enqueue(user, PAYLOAD, ttl=0)
    with pytest.raises(ValueError):
        await enqueue(user, PAYLOAD, urgency="urgent")


async def test_a_server_error_is_retried_and_delivered_once(make_user, local_push):
    user = await make_user()
    phone = await _device(user, local_push, "/flaky")
    local_push.script("/flaky", 500, 201)
    await enqueue(user, PAYLOAD)
    assert (await send_due())["retry"] == 1
    [row] = await _messages()
    assert (row["state"], row["attempts"], row["last_status"]) == ("pending", 1, 500)
    assert (await send_due())["sent"] == 1
    assert (await send_due())["claimed"] == 0
    statuses = [r.status for r in local_push.requests_to("/flaky")]
    assert statuses == [500, 201]
    assert phone.decrypt_json(local_push.requests[-1].body) == PAYLOAD
    [row] = await _messages()
    assert (row["state"], row["attempts"]) == ("sent", 2)


async def test_gives_up_after_the_maximum_number_of_attempts(make_user, local_push, settings_env):
    settings_env(CRM_PUSH_MAX_ATTEMPTS="3")
    user = await make_user()
    await _device(user, local_push, "/down")
    local_push.script("/down", 503, 503, 503, 201)
    await enqueue(user, PAYLOAD)
    for _ in range(5):
        await send_due()
    [row] = await _messages()
    assert (row["state"], row["attempts"], row["last_status"]) == ("failed", 3, 503)
    assert len(local_push.requests_to("/down")) == 3
    [sub] = await raw("SELECT failures FROM push_subscription")
    assert sub["failures"] == 3


def test_backoff_doubles_with_jitter_and_is_capped_at_an_hour(settings_env):
    settings_env(CRM_PUSH_RETRY_SECONDS="30")
    for attempts, base in ((1, 30), (2, 60), (4, 240)):
        values = [backoff(attempts) for _ in range(200)]
        assert all(base / 2 <= v <= base for v in values)
        assert len(set(values)) > 100  # jitter: devices that failed together spread out
    assert all(1800 <= backoff(30) <= 3600 for _ in range(50))


async def test_a_timeout_on_one_endpoint_does_not_hold_back_the_others(make_user, local_push,
                                                                       settings_env):
    settings_env(CRM_PUSH_TIMEOUT_SECONDS="1")
    user = await make_user()
    await _device(user, local_push, "/slow")
    local_push.script("/slow", Step(201, delay=3))
    for i in range(5):
        await _device(user, local_push, f"/fast-{i}")
    await enqueue(user, PAYLOAD)
    started = asyncio.get_running_loop().time()
    stats = await send_due()
    assert asyncio.get_running_loop().time() - started < 2.5  # the timeout ended the slow one
    assert stats["sent"] == 5 and stats["retry"] == 1
    slow_first = local_push.requests_to("/slow")[0].at
    for i in range(5):
        [fast] = local_push.requests_to(f"/fast-{i}")
        assert abs(fast.at - slow_first) < 0.5  # sent alongside, not queued behind it
    states = {r["state"] for r in await _messages()}
    assert states == {"sent", "pending"}
    assert (await send_due())["sent"] == 1  # the retry goes through
    assert {r["state"] for r in await _messages()} == {"sent"}


@pytest.mark.parametrize("status", [404, 410])
async def test_a_gone_subscription_is_deleted_with_its_messages(make_user, local_push, status):
    user = await make_user()
    await _device(user, local_push, "/gone")
    await _device(user, local_push, "/alive")
    local_push.script("/gone", status)
    await enqueue(user, PAYLOAD)
    await enqueue(user, PAYLOAD, not_before=now() + dt.timedelta(hours=1))  # queued for later
    stats = await send_due()
    assert stats["gone"] == 1 and stats["sent"] == 1
    endpoints = [r["endpoint"] for r in await raw("SELECT endpoint FROM push_subscription")]
    assert endpoints == [local_push.endpoint("/alive")]
    assert len(await _messages()) == 2  # the alive device's sent one and its later one


async def test_too_many_requests_waits_for_retry_after(make_user, local_push):
    user = await make_user()
    await _device(user, local_push, "/busy")
    local_push.script("/busy", Step(429, {"Retry-After": "1"}))
    await enqueue(user, PAYLOAD)
    before = now()
    assert (await send_due())["retry"] == 1
    [row] = await _messages()
    wait = (as_datetime(row["not_before"]) - before).total_seconds()
    assert 0.8 <= wait <= 1.6 and row["last_status"] == 429
    assert (await send_due())["claimed"] == 0  # not before Retry-After
    await asyncio.sleep(1.2)
    assert (await send_due())["sent"] == 1


def test_retry_after_reads_seconds_and_http_dates():
    import email.utils

    assert retry_after("120") == 120
    date = email.utils.format_datetime(now() + dt.timedelta(seconds=90), usegmt=True)
    assert 85 <= retry_after(date) <= 91
    assert retry_after("soon") is None and retry_after(None) is None


@pytest.mark.parametrize("status", [400, 401, 403, 413])
async def test_other_client_errors_fail_at_once(make_user, local_push, status):
    user = await make_user()
    await _device(user, local_push, "/refused")
    local_push.script("/refused", status, 201)
    await enqueue(user, PAYLOAD)
    assert (await send_due())["failed"] == 1
    assert (await send_due())["claimed"] == 0
    [row] = await _messages()
    assert (row["state"], row["last_status"]) == ("failed", status)
    assert await _subscription_count() == 1  # only 404/410 mean the subscription is gone


async def test_a_host_no_longer_allowed_is_never_fetched(make_user, local_push, settings_env):
    user = await make_user()
    await _device(user, local_push, "/p")
    await enqueue(user, PAYLOAD)
    settings_env(CRM_PUSH_ALLOWED_HOSTS="fcm.googleapis.com")
    assert (await send_due())["failed"] == 1
    assert local_push.requests == []
    [row] = await _messages()
    assert row["state"] == "failed" and "endpoint" in row["last_error"]


async def test_an_expired_lease_is_claimed_again(make_user, local_push):
    user = await make_user()
    await _device(user, local_push, "/p")
    await enqueue(user, PAYLOAD)
    claimed = await sender.claim(10)  # a process claims it, then dies
    assert len(claimed) == 1
    assert (await send_due())["claimed"] == 0  # leased: nobody else takes it
    async with writing():
        await raw("UPDATE push_message SET lease_until = {}", now() - dt.timedelta(seconds=1))
    assert (await send_due())["sent"] == 1
    assert len(local_push.requests) == 1


async def test_concurrent_passes_deliver_each_message_exactly_once(make_user, local_push):
    """Several senders at the same moment (on PostgreSQL each on its own connection): the
    claim gives each message to one of them."""
    keys = WebPushClient("x")
    users = [await make_user(f"user.{i}") for i in range(30)]
    for n, user in enumerate(users):
        for d in range(5):
            data = WebPushClient(local_push.endpoint(f"/u{n}-d{d}"), keys.private_key,
                                 keys.auth_secret).subscription()
            await save_subscription(user, data)
    assert await enqueue(users, PAYLOAD) == 150
    totals = {"claimed": 0, "sent": 0}
    for _ in range(10):
        results = await asyncio.gather(*(send_due(20) for _ in range(4)))
        for r in results:
            totals["claimed"] += r["claimed"]
            totals["sent"] += r["sent"]
        if not any(r["claimed"] for r in results):
            break
    assert totals == {"claimed": 150, "sent": 150}
    assert len(local_push.counts) == 150 and set(local_push.counts.values()) == {1}
    assert {r["state"] for r in await _messages()} == {"sent"}


# ---------------------------------------------------------------- outbox


async def test_enqueue_writes_one_message_per_device_and_cancel_drops_pending_ones(make_user,
                                                                                   local_push):
    a, b, nobody = await make_user("a.a"), await make_user("b.b"), await make_user("c.c")
    await _device(a, local_push, "/a1")
    await _device(a, local_push, "/a2")
    await _device(b, local_push, "/b1")
    assert await enqueue([a, b, nobody, a], PAYLOAD, ref="followup:1:reminder") == 3
    assert await enqueue(nobody, PAYLOAD) == 0
    await enqueue(b, PAYLOAD, ref="followup:2:reminder")
    assert await cancel("followup:1:reminder") == 3
    assert await cancel("followup:1:reminder") == 0
    await send_due()
    assert [r.path for r in local_push.requests] == ["/b1"]
    assert await cancel("followup:2:reminder") == 0  # sent messages stay as history


async def test_enqueue_joins_the_callers_transaction(make_user, local_push):
    user = await make_user()
    await _device(user, local_push, "/p")

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with writing():
            await enqueue(user, PAYLOAD)
            raise Boom  # the follow-up was not saved: neither is its reminder
    assert await _messages() == []


async def test_a_message_waits_for_not_before(make_user, local_push):
    user = await make_user()
    await _device(user, local_push, "/p")
    await enqueue(user, PAYLOAD, not_before=now() + dt.timedelta(minutes=10))
    assert (await send_due())["claimed"] == 0


async def test_remove_subscription_takes_its_queued_messages_with_it(make_user, local_push):
    user = await make_user()
    phone = await _device(user, local_push, "/p")
    await enqueue(user, PAYLOAD)
    assert await remove_subscription(user, phone.endpoint) == 1
    assert await _messages() == []


async def test_save_subscription_raises_validation_failed_with_field_keys(make_user):
    user = await make_user()
    with pytest.raises(ValidationFailed) as info:
        await save_subscription(user, {"endpoint": "https://evil.test/x", "keys": {"p256dh": "x",
                                                                                  "auth": "y"}})
    assert set(info.value.errors) == {"endpoint", "keys.p256dh", "keys.auth"}


# ---------------------------------------------------------------- the loop


async def test_the_sender_loop_sends_on_wake_and_survives_errors(make_user, local_push,
                                                                 settings_env, monkeypatch):
    settings_env(CRM_PUSH_POLL_SECONDS="30")
    user = await make_user()
    await _device(user, local_push, "/p")
    real_claim, calls = sender.claim, []

    async def flaky_claim(limit):
        calls.append(limit)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return await real_claim(limit)

    monkeypatch.setattr(sender, "claim", flaky_claim)
    task = asyncio.create_task(run_sender())
    try:
        await asyncio.sleep(0.1)
        wake()  # the first claim failed; the loop is still there
        await asyncio.sleep(0.1)
        await enqueue(user, PAYLOAD)
        wake()
        await local_push.wait_for(1, timeout=3)  # long before the 30 s poll
        await enqueue(user, PAYLOAD)
        wake()
        await local_push.wait_for(2, timeout=3)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert len(calls) >= 3


async def test_the_sender_loop_polls_without_a_wake(make_user, local_push, settings_env):
    settings_env(CRM_PUSH_POLL_SECONDS="0.2")
    user = await make_user()
    await _device(user, local_push, "/p")
    task = asyncio.create_task(run_sender())
    try:
        await enqueue(user, PAYLOAD)  # another process queued it: no wake() here
        await local_push.wait_for(1, timeout=3)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_vapid_tokens_are_cached_per_audience_with_fresh_claims(local_push):
    sender._vapid_cache.clear()
    a1 = sender.vapid_header("https://fcm.googleapis.com/fcm/send/1")
    a2 = sender.vapid_header("https://fcm.googleapis.com/fcm/send/2")
    b = sender.vapid_header("https://updates.push.services.mozilla.com/wpush/v2/x")
    assert a1 == a2 and a1 != b
    assert verify_vapid(b, "https://updates.push.services.mozilla.com/wpush/v2/x")["claims"][
        "aud"] == "https://updates.push.services.mozilla.com"
    exp = verify_vapid(a1, "https://fcm.googleapis.com/x")["claims"]["exp"]
    import time
    assert 11 * 3600 < exp - time.time() <= 12 * 3600


@pytest.mark.skipif(IS_SQLITE, reason="PostgreSQL row locks")
async def test_on_postgresql_a_claim_skips_rows_another_transaction_holds(make_user, local_push):
    """Two connections: while one transaction holds its claim, another claims other rows."""
    user = await make_user()
    for i in range(4):
        await _device(user, local_push, f"/p{i}")
    await enqueue(user, PAYLOAD)
    import asyncpg

    from db.engine import engine
    conn = await asyncpg.connect(engine().config["dsn"])
    try:
        async with conn.transaction():
            locked = await conn.fetch("SELECT id FROM push_message ORDER BY id LIMIT 2 FOR UPDATE")
            others = await sender.claim(10)  # runs on another connection meanwhile
            assert {r["id"] for r in others}.isdisjoint({r["id"] for r in locked})
            assert len(others) == 2
    finally:
        await conn.close()


def test_the_push_prompt_component_renders_hidden_until_the_script_decides():
    from web.core.templating import env

    source = ('{% from "components/push_prompt.html" import push_prompt with context %}'
              '{{ push_prompt("KEY") }}')
    html = env.from_string(source).render(csrf_token="t")
    assert 'data-push-key="KEY"' in html and "data-push-prompt hidden" in html
    assert "data-push-subscribe" in html and "<script" not in html


async def test_stopping_the_loop_lets_the_requests_in_flight_finish(make_user, local_push):
    user = await make_user()
    await _device(user, local_push, "/slowish")
    local_push.script("/slowish", Step(201, delay=0.5))
    await enqueue(user, PAYLOAD)
    task = asyncio.create_task(run_sender())
    wake()
    await local_push.wait_for(1, timeout=3)
    task.cancel()  # a deploy restarts the process mid-request
    with pytest.raises(asyncio.CancelledError):
        await task
    [row] = await _messages()
    assert row["state"] == "sent"  # recorded, so no other process sends it again


async def test_two_server_processes_send_each_message_once(make_user, local_push):
    """The real server with two worker processes, each running its sender loop."""
    from tests.server import running_server

    keys = WebPushClient("x")
    users = [await make_user(f"user.{i}") for i in range(8)]
    for n, user in enumerate(users):
        for d in range(25):
            data = WebPushClient(local_push.endpoint(f"/w{n}-{d}"), keys.private_key,
                                 keys.auth_secret).subscription()
            await save_subscription(user, data)
    env = {"CRM_PUSH_SENDER": "on", "CRM_PUSH_ALLOW_HTTP": "1",
           "CRM_PUSH_ALLOWED_HOSTS": "127.0.0.1", "CRM_PUSH_POLL_SECONDS": "0.05"}
    with running_server(workers=2, **env):
        await enqueue(users, PAYLOAD)  # queued by "another process": they find it by polling
        await local_push.wait_for(200, timeout=20)
        for _ in range(100):
            if {r["state"] for r in await _messages()} == {"sent"}:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)  # a duplicate would arrive now
    assert len(local_push.counts) == 200 and set(local_push.counts.values()) == {1}
    assert {r["state"] for r in await _messages()} == {"sent"}
