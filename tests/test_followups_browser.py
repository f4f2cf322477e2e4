"""The follow-up path a new user takes, in a phone-sized Chromium against a real server with
its reminder loop and push sender running: turn reminders on from Today, plan a follow-up
from the customer's card with a reminder, receive the push at a local push service and
decrypt it with an independent Web Push client, let the service worker show it, follow its
link, and complete the follow-up with an outcome and a next follow-up.

Headless Chromium has no push service (see tests/test_push_browser.py), so the browser's
PushManager.subscribe is stood in for; everything on the server side is the real thing.
A notification cannot be clicked in headless Chromium: the test opens the URL the service
worker would open (the one it attached to the notification).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

from db.actor import Actor
from db.customers.profile import parse_customer
from db.customers.service import upsert_customer
from db.customers.tables import Customer
from db.engine import raw
from tests.conftest import PASSWORD
from tests.push_receiver import PushReceiver
from tests.server import running_server
from tests.test_push_browser import ARGS, CHROMIUM, SHOTS, STUB, deliver_to_worker, pytestmark  # noqa: F401
from tests.webpush_client import WebPushClient, verify_vapid

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_plan_a_follow_up_get_the_reminder_and_complete_it_on_a_phone(make_user):
    from playwright.async_api import async_playwright, expect

    staff = await make_user("li.na", "staff", None)
    cid = (await upsert_customer(parse_customer({"name": "王芳", "mobile": "13812345678"}), Actor(None, "t")))[0]
    await Customer.update({Customer.owner: staff}).where(Customer.id == cid)

    async with PushReceiver() as rx:
        phone = WebPushClient(rx.endpoint("/li-na-phone"))
        env = {"CRM_PUSH_SENDER": "on", "CRM_REMINDERS": "on", "CRM_PUSH_ALLOW_HTTP": "1",
               "CRM_PUSH_ALLOWED_HOSTS": "127.0.0.1", "CRM_PUSH_POLL_SECONDS": "0.5",
               "CRM_REMINDER_POLL_SECONDS": "0.5"}
        with running_server(**env) as base:
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                context = await browser.new_context(
                    viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                    has_touch=True, locale="en-US", permissions=["notifications"])
                await context.add_init_script(STUB % json.dumps(phone.subscription()))
                page = await context.new_page()
                await page.goto(f"{base}/login")
                await page.fill("#f-username", "li.na")
                await page.fill("#f-password", PASSWORD)
                await page.click("button[type=submit]")
                await page.wait_for_url(f"{base}/today")

                # Today asks for reminders with a button, never by itself.
                prompt = page.locator("[data-push-prompt]")
                await expect(prompt).to_be_visible()
                await prompt.locator("[data-push-subscribe]").tap()
                await expect(prompt).to_be_hidden()
                for _ in range(100):
                    if await raw("SELECT id FROM push_subscription"):
                        break
                    await asyncio.sleep(0.05)
                assert len(await raw("SELECT id FROM push_subscription")) == 1

                # From the card: plan a follow-up due in 29 minutes with a reminder 30 minutes
                # before (so the reminder is due now: the test need not wait a minute).
                await page.goto(f"{base}/customers/{cid}")
                await page.locator("#card-follow-ups a[href^='/followups/new']").tap()
                await page.wait_for_url(f"{base}/followups/new?customer_id={cid}")
                due = dt.datetime.now(SHANGHAI) + dt.timedelta(minutes=29)
                await page.fill("#f-title", "回访：面霜用得怎么样")
                await page.fill("#f-due-date", due.date().isoformat())
                await page.fill("#f-due-time", due.strftime("%H:%M"))
                await page.select_option("#f-remind", "30")
                if SHOTS:
                    await page.screenshot(path=str(SHOTS / "followup-new-390.png"), full_page=True)
                await page.get_by_role("button", name="Save").tap()
                await page.wait_for_url(re.compile(r"/followups/\d+\?msg=saved$"))
                follow_up_id = int(page.url.split("/followups/")[1].split("?")[0])

                # The server's own loops claim the reminder and push it to the phone.
                await rx.wait_for(1, timeout=20)
                [request] = rx.requests_to("/li-na-phone")
                verify_vapid(request.headers["authorization"], phone.endpoint)
                assert int(request.headers["ttl"]) > 0 and request.headers["urgency"] == "high"
                message = phone.decrypt_json(request.body)
                assert message["url"] == f"/followups/{follow_up_id}"
                assert "王芳" in message["title"] and "回访：面霜用得怎么样" in message["body"]
                state = await raw("SELECT reminder_state, reminder_late FROM follow_up WHERE id = {}", follow_up_id)
                assert state[0]["reminder_state"] == "sent" and not state[0]["reminder_late"]

                # The service worker shows it and keeps the link for the click.
                shown = await deliver_to_worker(context, page, base, message)
                assert shown and shown[0]["url"] == f"{base}/followups/{follow_up_id}"

                # Through to the follow-up; complete it with an outcome and a next follow-up.
                await page.goto(shown[0]["url"])
                await page.get_by_role("link", name="Complete").tap()
                sheet = page.locator("#complete-sheet")
                await expect(sheet).to_be_visible()
                await sheet.get_by_label("Interested", exact=True).tap()
                await sheet.locator("textarea").fill("周五来店里买")
                await sheet.get_by_label("Next week", exact=True).tap()
                if SHOTS:
                    await page.screenshot(path=str(SHOTS / "followup-complete-390.png"))
                await sheet.get_by_role("button", name="Complete").tap()
                await page.wait_for_url(f"{base}/followups/{follow_up_id}?msg=done")
                await expect(page.get_by_role("link", name="Open the next follow-up")).to_be_visible()
                rows = await raw("SELECT id, status, outcome, outcome_code FROM follow_up ORDER BY id")
                assert [(r["status"]) for r in rows] == ["done", "open"]
                # stored as the code and the words, shown as "Interested · 周五来店里买"
                assert (rows[0]["outcome_code"], rows[0]["outcome"]) == ("interested", "周五来店里买")
                await expect(page.get_by_text("Interested · 周五来店里买")).to_be_visible()
                await browser.close()
