"""Scheduled reports by e-mail (db/reports/subscriptions.py, reports/jobs.py, db/mail.py): a
weekly subscription sends the PDF to a real SMTP server (aiosmtpd) on localhost; a refusing
or absent server is retried and shown; two workers send one e-mail per recipient; the audit
log has each."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import json
import socket
from email import policy

import pytest
from aiosmtpd.controller import Controller

from db import mail
from db.actor import Actor
from db.customers.scope import Scope
from db.engine import raw
from db.errors import ValidationFailed
from db.jobs import queue
from db.reports import subscriptions as subs
from db.staff.accounts import set_email
from reports import jobs as report_jobs
from reports.registry import REPORTS

REPORT = "retention"  # a report with its template written (the others are still stubs)
ZONE = "Asia/Shanghai"
ACTOR = Actor(None, "test")
MONDAY_9 = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # Monday 09:00


class Inbox:
    """An aiosmtpd handler that keeps what it accepts, or refuses when told to."""

    def __init__(self):
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []
        self.refuse: str | None = None  # at RCPT TO
        self.refuse_data: str | None = None  # after the message was sent

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_data:
            return self.refuse_data
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              email.message_from_bytes(envelope.original_content, policy=policy.default)))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings_env):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings_env(CRM_SMTP_URL=f"smtp://127.0.0.1:{port}?starttls=0", CRM_MAIL_FROM="Shop CRM <crm@shop.example>",
                 CRM_TIMEZONE=ZONE)
    inbox.port = port
    yield inbox
    controller.stop()


@pytest.fixture
def report_kinds():
    saved = dict(queue._registry)
    report_jobs.install()
    yield
    queue._registry.clear()
    queue._registry.update(saved)
    queue._woken.clear()


async def manager(make_user, name="zhao.manager", role="manager", team="华东门店组", address="zhao@shop.example"):
    user_id = await make_user(name, role, team)
    if address:
        await set_email(user_id, address)
    return user_id


async def run_jobs(kinds=("report.deliver",), workers=1, until=None, timeout=30.0):
    """Run workers until no job of these kinds is queued and due (or `until()` holds)."""
    async def idle():
        if until is not None:
            return await until()
        rows = await raw("SELECT COUNT(*) AS n FROM job WHERE kind IN ('report.deliver', 'report.generate') "
                         "AND (status = 'running' OR (status = 'queued' AND run_after <= {}))",
                         dt.datetime.now(dt.timezone.utc))
        return int(rows[0]["n"]) == 0

    tasks = [asyncio.create_task(queue.run_worker(list(kinds), poll_seconds=0.05)) for _ in range(workers)]
    try:
        for _ in range(int(timeout / 0.05)):
            await asyncio.sleep(0.05)
            if await idle():
                return
        raise AssertionError("jobs did not finish")
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def deliveries() -> list[dict]:
    return await raw("SELECT * FROM report_delivery ORDER BY id")


async def backdate_subscriptions():
    await raw("UPDATE report_subscription SET created_at = {}", dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))


async def test_a_weekly_subscription_emails_the_pdf_to_a_local_smtp_server(smtp, report_kinds, make_user):
    zhao = await manager(make_user)
    [sub_id] = await subs.create(REPORT, REPORTS, "weekly", [zhao], None, None, ACTOR)
    await backdate_subscriptions()
    new = await subs.queue_due(ZONE, at=MONDAY_9)
    assert len(new) == 1
    await run_jobs()
    [(sender, rcpts, msg)] = smtp.messages
    assert sender == "crm@shop.example" and rcpts == ["zhao@shop.example"]
    assert msg["To"] == "zhao@shop.example" and msg["From"] == "Shop CRM <crm@shop.example>"
    assert "2026-11-30" in msg["Subject"] and "2026-12-06" in msg["Subject"]  # the week before
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    pdf = attachment.get_content()
    assert pdf.startswith(b"%PDF-") and attachment.get_filename().endswith("_2026-11-30_2026-12-06.pdf")
    [row] = await deliveries()
    assert (row["status"], row["attempts"], row["period_start"], row["period_end"]) == (
        "sent", 1, "2026-11-30", "2026-12-06")
    assert row["sent_at"] is not None
    # the audit log: the subscription, the generated file with its scope, and the e-mail
    entries = {r["action"]: r for r in await raw("SELECT action, actor, detail FROM audit_entry ORDER BY id")}
    assert {"report.subscribe", "report.generated", "report.emailed"} <= set(entries)
    emailed = json.loads(entries["report.emailed"]["detail"]) if isinstance(
        entries["report.emailed"]["detail"], str) else entries["report.emailed"]["detail"]
    assert emailed["recipient"] == "zhao.manager" and emailed["from"] == "2026-11-30"
    generated = entries["report.generated"]["detail"]
    generated = json.loads(generated) if isinstance(generated, str) else generated
    assert generated["scope"] == "team" and generated["format"] == "pdf"  # the recipient's own scope
    # the same Monday again (another process, a restart): nothing more is sent
    assert await subs.queue_due(ZONE, at=MONDAY_9 + dt.timedelta(minutes=5)) == []
    await run_jobs()
    assert len(smtp.messages) == 1


async def test_monthly_covers_the_month_before_and_waits_for_the_first(smtp, report_kinds, make_user):
    zhao = await manager(make_user)
    await subs.create(REPORT, REPORTS, "monthly", [zhao], None, None, ACTOR)
    await backdate_subscriptions()
    assert await subs.queue_due(ZONE, at=dt.datetime(2026, 12, 1, 7, 59, tzinfo=dt.timezone(
        dt.timedelta(hours=8)))) and (await deliveries())[0]["period_start"] == "2026-10-01"  # November's not yet
    new = await subs.queue_due(ZONE, at=dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    assert len(new) == 1
    assert [(d["period_start"], d["period_end"]) for d in await deliveries()] == [
        ("2026-10-01", "2026-10-31"), ("2026-11-01", "2026-11-30")]


async def test_a_subscription_made_after_the_send_time_waits_for_the_next(smtp, report_kinds, make_user):
    zhao = await manager(make_user)
    await subs.create(REPORT, REPORTS, "weekly", [zhao], None, None, ACTOR)  # created "now", after MONDAY_9
    assert await subs.queue_due(ZONE, at=MONDAY_9) == []


def test_send_times_in_shop_time():
    monday8 = dt.datetime(2026, 12, 7, 0, 0, tzinfo=dt.timezone.utc)  # 08:00 in Shanghai
    assert subs.last_due("weekly", monday8, ZONE) == monday8
    assert subs.last_due("weekly", monday8 - dt.timedelta(seconds=1), ZONE) == monday8 - dt.timedelta(days=7)
    assert subs.next_send("weekly", monday8, ZONE) == monday8 + dt.timedelta(days=7)
    first = dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.timezone.utc)
    assert subs.last_due("monthly", first + dt.timedelta(days=20), ZONE) == first
    assert subs.next_send("monthly", first, ZONE) == dt.datetime(2027, 1, 1, 0, 0, tzinfo=dt.timezone.utc)
    assert subs.next_send("monthly", dt.datetime(2026, 12, 31, 12, tzinfo=dt.timezone.utc), ZONE) == \
        dt.datetime(2027, 1, 1, 0, 0, tzinfo=dt.timezone.utc)


async def test_a_refusing_server_is_retried_with_back_off_and_shown(smtp, report_kinds, make_user):
    zhao = await manager(make_user)
    await subs.create(REPORT, REPORTS, "weekly", [zhao], None, None, ACTOR)
    await backdate_subscriptions()
    await subs.queue_due(ZONE, at=MONDAY_9)
    smtp.refuse = "550 5.1.1 mailbox unavailable"
    await run_jobs()
    [row] = await deliveries()
    assert row["status"] == "queued" and row["attempts"] == 1
    assert "refused the recipient" in row["last_error"] and "550" in row["last_error"]
    [job] = await raw("SELECT status, attempts, run_after, last_error FROM job WHERE kind = 'report.deliver'")
    assert job["status"] == "queued"  # waits for its back-off
    [listed] = await subs.listing(Scope.everything())
    assert listed["last_status"] == "queued" and "550" in listed["last_error"]
    # then it takes the recipient but refuses the message itself
    smtp.refuse, smtp.refuse_data = None, "554 5.6.0 message content rejected"
    await raw("UPDATE job SET run_after = {}", dt.datetime.now(dt.timezone.utc))
    await run_jobs()
    [row] = await deliveries()
    assert row["status"] == "queued" and row["attempts"] == 2
    assert row["last_error"] == "the mail server said 554 5.6.0 message content rejected"
    # the server takes mail again: the retry sends it, once
    smtp.refuse_data = None
    await raw("UPDATE job SET run_after = {}", dt.datetime.now(dt.timezone.utc))
    await run_jobs()
    assert len(smtp.messages) == 1
    [row] = await deliveries()
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 3, "")


async def test_a_server_that_is_down_fails_after_the_last_attempt_and_can_be_sent_again(
        smtp, report_kinds, make_user, settings_env):
    settings_env(CRM_SMTP_URL=f"smtp://127.0.0.1:{free_port()}?starttls=0")  # nobody listens there
    zhao = await manager(make_user)
    await subs.create(REPORT, REPORTS, "weekly", [zhao], None, None, ACTOR)
    await backdate_subscriptions()
    await subs.queue_due(ZONE, at=MONDAY_9)
    for _ in range(subs.DELIVER_ATTEMPTS):
        await raw("UPDATE job SET run_after = {}", dt.datetime.now(dt.timezone.utc))
        await run_jobs()
    [row] = await deliveries()
    assert row["status"] == "failed" and row["attempts"] == subs.DELIVER_ATTEMPTS
    assert "cannot reach the mail server 127.0.0.1" in row["last_error"]
    [listed] = await subs.listing(Scope.everything())
    assert listed["failures"] == 1
    # nothing lost: sent again once the server is back
    settings_env(CRM_SMTP_URL=f"smtp://127.0.0.1:{smtp.port}?starttls=0")
    assert await subs.retry(row["id"], Scope.everything())
    await run_jobs()
    assert len(smtp.messages) == 1 and (await deliveries())[0]["status"] == "sent"


async def test_two_workers_and_two_schedulers_send_one_email_per_recipient(smtp, report_kinds, make_user):
    zhao = await manager(make_user)
    qian = await manager(make_user, "qian.admin", "admin", None, "qian@shop.example")
    await subs.create(REPORT, REPORTS, "weekly", [zhao, qian], None, None, ACTOR)
    await backdate_subscriptions()
    first, second = await asyncio.gather(subs.queue_due(ZONE, at=MONDAY_9), subs.queue_due(ZONE, at=MONDAY_9))
    assert len(first) + len(second) == 2
    await run_jobs(workers=2)
    assert sorted(r for _, rcpts, _ in smtp.messages for r in rcpts) == ["qian@shop.example", "zhao@shop.example"]
    emailed = await raw("SELECT COUNT(*) AS n FROM audit_entry WHERE action = 'report.emailed'")
    assert int(emailed[0]["n"]) == 2


async def test_without_smtp_the_schedule_does_not_run(settings_env):
    settings_env(CRM_SMTP_URL="")
    saved = dict(queue._registry)
    try:
        assert "report.schedule" not in report_jobs.install()
    finally:
        queue._registry.clear()
        queue._registry.update(saved)
    assert mail.smtp_problem() == "CRM_SMTP_URL is not set"


# ---------------------------------------------------------------- bad subscriptions


async def test_only_managers_and_admins_with_an_address_may_receive(make_user):
    staff = await make_user("li.staff", "staff")
    await set_email(staff, "li@shop.example")
    with pytest.raises(ValidationFailed) as caught:
        await subs.create(REPORT, REPORTS, "weekly", [staff], None, None, ACTOR)
    assert "only managers and admins" in caught.value.errors["recipients"]
    no_mail = await manager(make_user, "sun.manager", address=None)
    with pytest.raises(ValidationFailed) as caught:
        await subs.create(REPORT, REPORTS, "weekly", [no_mail], None, None, ACTOR)
    assert "no e-mail address" in caught.value.errors["recipients"]
    with pytest.raises(ValidationFailed) as caught:
        await subs.create("nope", REPORTS, "daily", [], "wechat", "x", ACTOR)
    assert set(caught.value.errors) == {"report", "cadence", "recipients", "channel", "team"}
    assert await raw("SELECT id FROM report_subscription") == []


async def test_a_second_identical_subscription_is_refused(make_user):
    zhao = await manager(make_user)
    await subs.create(REPORT, REPORTS, "weekly", [zhao], None, None, ACTOR)
    with pytest.raises(ValidationFailed) as caught:
        await subs.create(REPORT, REPORTS, "weekly", [zhao], None, None, ACTOR)
    assert "already subscribed" in caught.value.errors["recipients"]
    await subs.create(REPORT, REPORTS, "monthly", [zhao], None, None, ACTOR)  # another cadence is fine
    await subs.create(REPORT, REPORTS, "weekly", [zhao], "tmall", None, ACTOR)  # and another channel
    assert len(await raw("SELECT id FROM report_subscription")) == 3


async def test_a_manager_is_not_sent_another_teams_figures(make_user):
    zhao = await manager(make_user)
    other = await raw("INSERT INTO team (name, created_at) VALUES ('华南门店组', {}) RETURNING id",
                      dt.datetime.now(dt.timezone.utc))
    with pytest.raises(ValidationFailed) as caught:
        await subs.create(REPORT, REPORTS, "weekly", [zhao], None, str(other[0]["id"]), ACTOR)
    assert "outside what these people may see" in caught.value.errors["team"]


def test_smtp_urls_are_read_with_clear_errors():
    cfg = mail.parse_smtp("smtp://user%40x:p%3Ass@mail.example:2525?starttls=1", "CRM <crm@shop.example>")
    assert (cfg.host, cfg.port, cfg.username, cfg.password, cfg.start_tls, cfg.use_tls) == (
        "mail.example", 2525, "user@x", "p:ss", True, False)
    assert "p:ss" not in cfg.describe()
    tls = mail.parse_smtp("smtps://mail.example", "crm@shop.example")
    assert (tls.port, tls.use_tls, tls.start_tls) == (465, True, False)
    for url, sender, message in [
        ("http://mail.example", "a@b.c", "must start with smtp://"),
        ("smtp://", "a@b.c", "names no host"),
        ("smtp://mail.example:99999", "a@b.c", "port"),
        ("smtp://mail.example?starttls=maybe", "a@b.c", "starttls must be 1 or 0"),
        ("smtp://mail.example", "", "CRM_MAIL_FROM is not set"),
        ("smtp://mail.example", "not an address", "CRM_MAIL_FROM must be one e-mail address"),
    ]:
        with pytest.raises(ValueError, match=message):
            mail.parse_smtp(url, sender)


# ---------------------------------------------------------------- the schedule page and crm doctor


async def test_the_page_says_delivery_is_off_without_smtp(signed_in_english, settings_env):
    settings_env(CRM_SMTP_URL="")
    zhao = await signed_in_english("zhao.manager", "manager")
    page = await zhao.get("/reports/schedules")
    assert page.status_code == 200
    assert "Delivery is off" in page.text and "CRM_SMTP_URL" in page.text


async def test_subscribe_on_the_page_with_errors_next_to_the_fields(smtp, signed_in_english, make_user):
    zhao = await signed_in_english("zhao.manager", "manager")
    await set_email(zhao.user_id, "zhao@shop.example")
    staff = await make_user("li.staff", "staff")
    page = await zhao.get("/reports/schedules")
    assert "Delivery is off" not in page.text and f'value="{zhao.user_id}"' in page.text
    assert f'value="{staff}"' not in page.text  # staff are not offered
    bad = await zhao.post("/reports/schedules", data={
        "report": REPORT, "cadence": "weekly", "recipients": [str(staff)], "_csrf_token": zhao.csrf})
    assert bad.status_code == 422 and 'id="f-recipients-error"' in bad.text
    assert "only managers and admins receive reports" in bad.text
    ok = await zhao.post("/reports/schedules", data={
        "report": REPORT, "cadence": "weekly", "recipients": [str(zhao.user_id)], "_csrf_token": zhao.csrf},
        follow_redirects=False)
    assert ok.status_code == 303
    again = await zhao.post("/reports/schedules", data={
        "report": REPORT, "cadence": "weekly", "recipients": [str(zhao.user_id)], "_csrf_token": zhao.csrf})
    assert again.status_code == 422 and "already subscribed to this report" in again.text
    listed = await zhao.get("/reports/schedules?msg=added")
    assert "Subscribed." in listed.text and "Repurchase and churn" in listed.text and "Next:" in listed.text
    [sub] = await raw("SELECT id FROM report_subscription")
    # another manager (not its maker nor its recipient) may not remove it
    other = await signed_in_english("sun.manager", "manager")
    assert (await other.post(f"/reports/schedules/{sub['id']}/delete",
                             data={"_csrf_token": other.csrf})).status_code == 404
    gone = await zhao.post(f"/reports/schedules/{sub['id']}/delete", data={"_csrf_token": zhao.csrf},
                           follow_redirects=False)
    assert gone.status_code == 303 and await raw("SELECT id FROM report_subscription") == []


async def test_a_failed_delivery_is_shown_with_its_error_and_can_be_sent_again(smtp, report_kinds,
                                                                             signed_in_english):
    zhao = await signed_in_english("zhao.manager", "manager")
    await set_email(zhao.user_id, "zhao@shop.example")
    await subs.create(REPORT, REPORTS, "weekly", [zhao.user_id], None, None, ACTOR)
    await backdate_subscriptions()
    await subs.queue_due(ZONE, at=MONDAY_9)  # (the app's own worker may have queued it first: one row)
    [row] = await deliveries()
    delivery_id = row["id"]
    for _ in range(200):  # the app's own worker may be sending it: let that end first
        if (await deliveries())[0]["status"] not in ("queued", "sending") and not await raw(
                "SELECT id FROM job WHERE status = 'running'"):
            break
        await asyncio.sleep(0.05)
    smtp.messages.clear()  # (what that worker sent): only "send again" below may send
    await raw("UPDATE report_delivery SET status = 'failed', attempts = 8, last_error = {}",
              "the mail server said 554 5.7.1 rejected")
    await raw("UPDATE job SET status = 'failed'")
    page = await zhao.get("/reports/schedules")
    assert "554 5.7.1 rejected" in page.text and "Send again" in page.text
    assert "1 delivery failed" in page.text
    sent = await zhao.post(f"/reports/schedules/deliveries/{delivery_id}/retry", data={"_csrf_token": zhao.csrf},
                           follow_redirects=False)
    assert sent.status_code == 303
    await run_jobs()
    assert len(smtp.messages) == 1


async def test_staff_may_not_open_the_schedule_page(signed_in):
    li = await signed_in("li.staff", "staff")
    assert (await li.get("/reports/schedules")).status_code == 403


async def test_doctor_says_whether_smtp_is_configured(smtp, settings_env):
    from web.doctor import _check_mail

    said: list[str] = []
    bad: list[str] = []
    ok = lambda name, detail: said.append(f"ok {name}: {detail}")  # noqa: E731
    fail = lambda name, detail, fix: bad.append(f"{name}: {detail}")  # noqa: E731
    await _check_mail(ok, fail, said.append)
    assert said == [f"ok e-mail: SMTP configured: 127.0.0.1:{smtp.port} (no encryption), from Shop CRM <crm@shop.example>"]
    settings_env(CRM_SMTP_URL="")
    said.clear()
    await _check_mail(ok, fail, said.append)
    assert "e-mail is off: CRM_SMTP_URL is not set" in said[0] and not bad
    settings_env(CRM_SMTP_URL=f"smtp://127.0.0.1:{free_port()}?starttls=0")
    await _check_mail(ok, fail, said.append)
    assert bad and "cannot reach the mail server" in bad[0]
    settings_env(CRM_SMTP_URL="smtp://mail.example", CRM_MAIL_FROM="")
    bad.clear()
    await _check_mail(ok, fail, said.append)
    assert bad == ["e-mail: CRM_MAIL_FROM is not set (the From address, e.g. crm@shop.example)"]


def test_crm_user_create_takes_an_email_address():
    from click.testing import CliRunner

    from web.cli import main

    ok = CliRunner().invoke(main, ["user", "create", "zhou.min", "--password", "a-long-passphrase", "--role",
                                   "manager", "--email", "Zhou@Shop.Example"])
    assert ok.exit_code == 0, ok.output
    rows = asyncio.run(raw("SELECT email FROM staff_user WHERE username = 'zhou.min'"))
    assert rows == [{"email": "Zhou@shop.example"}]
    bad = CliRunner().invoke(main, ["user", "create", "qian.li", "--password", "a-long-passphrase", "--role",
                                    "manager", "--email", "not-an-address"])
    assert bad.exit_code != 0 and "email: not a valid e-mail address" in bad.output
    assert asyncio.run(raw("SELECT id FROM staff_user WHERE username = 'qian.li'")) == []
