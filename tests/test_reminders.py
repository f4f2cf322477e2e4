"""Reminders and the daily digest: claimed once however many processes look, sent to every
device of the assignee, late ones marked, and what arrives decrypts (with an independent
Web Push client) to the follow-up's title, body and page."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from db.clock import now
from db.customers.scope import Scope
from db.actor import Actor
from db.customers.profile import parse_customer
from db.customers.service import upsert_customer
from db.engine import raw
from db.followups import reminders, service
from db.followups import lists as followup_lists
from db.followups.rules import FollowUpInput
from db.push.sender import send_due
from db.push.subscriptions import save_subscription
from tests.push_receiver import PushReceiver
from tests.webpush_client import WebPushClient, verify_vapid
from web.followups.reminders import compose_digest, compose_reminder

ACTOR = Actor(None, "test")


@pytest.fixture
async def rx(settings_env):
    settings_env(CRM_PUSH_ALLOW_HTTP="1", CRM_PUSH_ALLOWED_HOSTS="127.0.0.1",
                 CRM_PUSH_RETRY_SECONDS="0", CRM_PUSH_TIMEOUT_SECONDS="2")
    async with PushReceiver() as receiver:
        yield receiver


async def _customer(name="王芳") -> int:
    return (await upsert_customer(parse_customer({"name": name, "mobile": "13812345678"}), ACTOR))[0]


async def _follow_up(customer_id, assignee, due, remind, title="回访：面霜用得怎么样") -> int:
    return await service.create(Scope.everything(), FollowUpInput(
        customer_id=customer_id, assignee_id=assignee, kind="call", title=title, priority="normal",
        due_at=due, remind_at=remind), ACTOR)


async def _device(user_id, rx, path) -> WebPushClient:
    phone = WebPushClient(rx.endpoint(path))
    await save_subscription(user_id, phone.subscription(), "test")
    return phone


async def test_a_due_reminder_reaches_every_device_of_the_assignee(make_user, rx):
    staff = await make_user("li.lei")
    phone, tablet = await _device(staff, rx, "/phone"), await _device(staff, rx, "/tablet")
    cid = await _customer()
    due = now() + dt.timedelta(minutes=10)
    fid = await _follow_up(cid, staff, due, now() - dt.timedelta(seconds=1))
    await _follow_up(cid, staff, due + dt.timedelta(hours=2), now() + dt.timedelta(hours=1))  # not yet

    assert await reminders.queue_due_reminders(compose_reminder) == 1
    stats = await send_due()
    assert stats["sent"] == 2, stats
    for client, path in ((phone, "/phone"), (tablet, "/tablet")):
        [request] = rx.requests_to(path)
        verify_vapid(request.headers["authorization"], client.endpoint)
        assert int(request.headers["ttl"]) > 0 and request.headers["urgency"] == "high"
        message = client.decrypt_json(request.body)
        assert message["url"] == f"/followups/{fid}"
        assert "王芳" in message["title"] and "回访：面霜用得怎么样" in message["body"]
    row = await followup_lists.get(Scope.everything(), fid)
    assert row["reminder_state"] == "sent" and row["reminded_at"] and not row["reminder_late"]
    assert await reminders.queue_due_reminders(compose_reminder) == 0  # never twice


async def test_several_processes_claim_each_reminder_once(make_user, rx):
    staff = await make_user("li.lei")
    await _device(staff, rx, "/phone")
    cid = await _customer()
    for i in range(60):
        await _follow_up(cid, staff, now() + dt.timedelta(hours=1), now() - dt.timedelta(seconds=1), f"回访 {i}")
    counts = await asyncio.gather(*(reminders.queue_due_reminders(compose_reminder, limit=25) for _ in range(4)))
    counts = list(counts) + [await reminders.queue_due_reminders(compose_reminder, limit=100)]
    assert sum(counts) == 60, counts
    rows = await raw("SELECT ref, COUNT(*) AS n FROM push_message GROUP BY ref")
    assert len(rows) == 60 and all(r["n"] == 1 for r in rows)


async def test_a_reminder_missed_while_the_server_was_down_goes_out_marked_late(make_user, rx):
    staff = await make_user("li.lei")
    phone = await _device(staff, rx, "/phone")
    cid = await _customer()
    fid = await _follow_up(cid, staff, now() + dt.timedelta(hours=1), now() + dt.timedelta(minutes=5))
    # the server was down when it came due: its reminder time is now an hour ago
    await raw("UPDATE follow_up SET remind_at = {}, updated_at = {} WHERE id = {}",
              now() - dt.timedelta(hours=1), now() - dt.timedelta(hours=2), fid)
    assert await reminders.queue_due_reminders(compose_reminder) == 1
    await send_due()
    message = phone.decrypt_json(rx.requests_to("/phone")[0].body)
    assert message["title"].startswith(("Late reminder", "迟到的提醒", "补发提醒"))
    assert (await followup_lists.get(Scope.everything(), fid))["reminder_late"]


async def test_a_reminder_set_in_the_past_is_sent_now_and_not_late(make_user, rx):
    staff = await make_user("li.lei")
    await _device(staff, rx, "/phone")
    cid = await _customer()
    fid = await _follow_up(cid, staff, now() + dt.timedelta(hours=1), now() - dt.timedelta(hours=2))
    assert await reminders.queue_due_reminders(compose_reminder) == 1
    assert not (await followup_lists.get(Scope.everything(), fid))["reminder_late"]


async def test_completed_or_snoozed_follow_ups_do_not_remind_at_the_old_time(make_user, rx):
    staff = await make_user("li.lei")
    await _device(staff, rx, "/phone")
    cid = await _customer()
    done = await _follow_up(cid, staff, now() + dt.timedelta(hours=1), now() - dt.timedelta(seconds=1))
    await service.complete(Scope.everything(), done, ACTOR, "提前打过了")
    snoozed = await _follow_up(cid, staff, now() + dt.timedelta(hours=1), now() - dt.timedelta(seconds=1))
    await service.snooze(Scope.everything(), snoozed, ACTOR, now() + dt.timedelta(hours=3))
    assert await reminders.queue_due_reminders(compose_reminder) == 0
    assert await raw("SELECT id FROM push_message") == []


async def test_a_push_service_error_is_retried_and_the_others_still_get_theirs(make_user, rx):
    staff, other = await make_user("li.lei"), await make_user("zhang.wei")
    await _device(staff, rx, "/flaky")
    calm = await _device(other, rx, "/calm")
    rx.script("/flaky", 500, 201)
    cid = await _customer()
    await _follow_up(cid, staff, now() + dt.timedelta(hours=1), now() - dt.timedelta(seconds=1))
    await _follow_up(cid, other, now() + dt.timedelta(hours=1), now() - dt.timedelta(seconds=1))
    await reminders.queue_due_reminders(compose_reminder)
    first = await send_due()
    assert first["sent"] == 1 and len(rx.requests_to("/calm")) == 1
    assert calm.decrypt_json(rx.requests_to("/calm")[0].body)["title"]
    await asyncio.sleep(0.05)
    second = await send_due()
    assert second["sent"] == 1 and [r.status for r in rx.requests_to("/flaky")] == [500, 201]


async def test_the_daily_digest_lists_todays_follow_ups_once_a_day(make_user, rx):
    staff = await make_user("li.lei")
    phone = await _device(staff, rx, "/phone")
    cid = await _customer()
    await _follow_up(cid, staff, now() - dt.timedelta(minutes=1), None, "昨天没打的电话")
    await raw('INSERT INTO digest_setting ("user", digest_at, last_sent_on) VALUES ({}, {}, {})',
              staff, "00:00", "")
    assert await reminders.queue_digests(compose_digest, "Asia/Shanghai") == 1
    assert await reminders.queue_digests(compose_digest, "Asia/Shanghai") == 0
    await send_due()
    message = phone.decrypt_json(rx.requests_to("/phone")[0].body)
    assert message["url"] == "/today" and "昨天没打的电话" in message["body"] and "1" in message["title"]


async def test_no_digest_on_a_day_without_follow_ups(make_user, rx):
    staff = await make_user("li.lei")
    await _device(staff, rx, "/phone")
    await raw('INSERT INTO digest_setting ("user", digest_at, last_sent_on) VALUES ({}, {}, {})',
              staff, "00:00", "")
    assert await reminders.queue_digests(compose_digest, "Asia/Shanghai") == 0
    assert await raw("SELECT id FROM push_message") == []


async def test_two_server_processes_send_each_missed_reminder_once_marked_late(make_user, rx):
    """Reminders that came due while no server ran go out at start, once, though two worker
    processes (each with its own reminder loop and sender) race for them."""
    from tests.server import running_server

    cid = await _customer()
    phones = {}
    for i in range(12):
        staff = await make_user(f"staff.{i}")
        phones[f"/p{i}"] = await _device(staff, rx, f"/p{i}")
        fid = await _follow_up(cid, staff, now() + dt.timedelta(hours=1), now() + dt.timedelta(minutes=5))
        await raw("UPDATE follow_up SET remind_at = {}, updated_at = {} WHERE id = {}",
                  now() - dt.timedelta(hours=1), now() - dt.timedelta(hours=3), fid)
    env = {"CRM_REMINDERS": "on", "CRM_PUSH_SENDER": "on", "CRM_REMINDER_POLL_SECONDS": "0.3",
           "CRM_PUSH_POLL_SECONDS": "0.3"}
    with running_server(workers=2, **env):
        await rx.wait_for(12, timeout=30)
        await asyncio.sleep(1.5)  # time for a second, wrong delivery to show up
    assert {path: len(rx.requests_to(path)) for path in phones} == {path: 1 for path in phones}
    for path, phone in phones.items():
        assert phone.decrypt_json(rx.requests_to(path)[0].body)["title"].startswith("补发提醒")
    rows = await raw("SELECT reminder_state, reminder_late FROM follow_up")
    assert all(r["reminder_state"] == "sent" and r["reminder_late"] for r in rows)
