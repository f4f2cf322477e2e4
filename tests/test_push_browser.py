"""Web Push in a real phone-sized Chromium: press the button on the account page, the
subscription reaches the server, the server's sender delivers an encrypted test message to a
local push service, and the service worker shows it as a notification.

Headless Chromium has no push service of its own (PushManager.subscribe needs Google's
servers), so an init script stands in for `PushManager.prototype.subscribe`: it returns a
subscription whose keys the test generated, for an endpoint on the local receiver. Everything
after that is real: permission, service worker, our JavaScript, CSRF, the sender, encryption,
and the service worker's push handler (driven with CDP ServiceWorker.deliverPushMessage).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from db.engine import raw
from tests.conftest import PASSWORD
from tests.push_receiver import PushReceiver
from tests.server import running_server
from tests.webpush_client import WebPushClient, unb64url, verify_vapid

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = Path(os.environ["CRM_SCREENSHOTS"]) if os.environ.get("CRM_SCREENSHOTS") else None

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]

# Stands in for the browser's push service; records what the page asked for.
STUB = """
(() => {
  const fake = %s;
  window.__pushCalls = [];
  window.__permissionAsked = 0;
  const ask = Notification.requestPermission.bind(Notification);
  Notification.requestPermission = function () { window.__permissionAsked += 1; return ask(); };
  // Like a browser, the subscription outlives the page (kept across reloads here).
  const make = (options) => ({
    endpoint: fake.endpoint, expirationTime: null, options: options,
    toJSON() { return fake; },
    unsubscribe() {
      localStorage.removeItem("fake-push");
      window.__pushUnsubscribed = true;
      return Promise.resolve(true);
    },
  });
  PushManager.prototype.subscribe = function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    window.__pushCalls.push({userVisibleOnly: options.userVisibleOnly, key: Array.from(key)});
    localStorage.setItem("fake-push", "1");
    return Promise.resolve(make(options));
  };
  PushManager.prototype.getSubscription = function () {
    return Promise.resolve(localStorage.getItem("fake-push") ? make({}) : null);
  };
})();
"""


async def _notifications(page) -> list[dict]:
    return await page.evaluate("""async () => {
      const reg = await navigator.serviceWorker.ready;
      const found = await reg.getNotifications();
      return found.map(n => ({title: n.title, body: n.body, url: n.data && n.data.url}));
    }""")


async def _registration_id(cdp, scope: str) -> str:
    found: dict[str, str] = {}

    def updated(event):
        for reg in event["registrations"]:
            if reg["scopeURL"] == scope and not reg.get("isDeleted"):
                found["id"] = reg["registrationId"]

    cdp.on("ServiceWorker.workerRegistrationUpdated", updated)
    await cdp.send("ServiceWorker.enable")
    for _ in range(100):
        if "id" in found:
            return found["id"]
        await asyncio.sleep(0.05)
    raise AssertionError("no service worker registration for " + scope)


async def deliver_to_worker(context, page, base: str, message: dict) -> list[dict]:
    """Hand a decrypted message to our service worker as a push service would, and return the
    notifications it then shows. In one CI run a delivery showed nothing within 5 s (the
    cause is not known; it did not happen again in a dozen runs), so when nothing shows
    within 3 s it is delivered again, as a push service redelivers a message."""
    cdp = await context.new_cdp_session(page)
    registration = await _registration_id(cdp, f"{base}/")
    shown: list[dict] = []
    for _attempt in range(3):
        await cdp.send("ServiceWorker.deliverPushMessage", {
            "origin": base, "registrationId": registration, "data": json.dumps(message)})
        for _ in range(60):
            shown = await _notifications(page)
            if shown:
                return shown
            await asyncio.sleep(0.05)
    return shown


async def test_subscribe_on_a_phone_then_the_worker_shows_the_servers_message(make_user):
    from playwright.async_api import async_playwright, expect

    from db.settings import get_settings
    from db.push.vapid import public_key_b64

    user_id = await make_user("li.na", "staff", None)
    async with PushReceiver() as rx:
        phone = WebPushClient(rx.endpoint("/chromium"))
        env = {"CRM_PUSH_SENDER": "on", "CRM_PUSH_ALLOW_HTTP": "1",
               "CRM_PUSH_ALLOWED_HOSTS": "127.0.0.1", "CRM_PUSH_POLL_SECONDS": "0.5"}
        with running_server(**env) as base:
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                context = await browser.new_context(
                    viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                    has_touch=True, locale="en-US", permissions=["notifications"])
                await context.add_init_script(STUB % json.dumps(phone.subscription()))
                page = await context.new_page()
                errors = []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                await page.goto(f"{base}/account")
                await page.fill("#f-username", "li.na")
                await page.fill("#f-password", PASSWORD)
                await page.click("button[type=submit]")
                await page.wait_for_url(f"{base}/account")

                box = page.locator("[data-push]")
                button = box.locator("[data-push-subscribe]")
                await expect(button).to_be_visible()  # off, and nothing asked on load
                assert await page.evaluate("window.__pushCalls.length") == 0
                assert await page.evaluate("window.__permissionAsked") == 0
                if SHOTS:
                    await page.screenshot(path=str(SHOTS / "push-account-390-off.png"),
                                          full_page=True)
                await button.click()
                await expect(box).to_have_attribute("data-push-status", "on")
                await expect(box.locator("[data-push-unsubscribe]")).to_be_visible()
                count = box.locator("[data-push-count]")
                await expect(count).to_have_attribute("data-push-count", "1")

                [call] = await page.evaluate("window.__pushCalls")
                assert await page.evaluate("window.__permissionAsked") == 1
                key = public_key_b64(get_settings().data_dir)
                assert call["userVisibleOnly"] is True and bytes(call["key"]) == unb64url(key)
                rows = await raw("SELECT \"user\", endpoint, p256dh, auth FROM push_subscription")
                assert rows == [{"user": user_id, "endpoint": phone.endpoint,
                                 "p256dh": phone.subscription()["keys"]["p256dh"],
                                 "auth": phone.subscription()["keys"]["auth"]}]
                if SHOTS:
                    await page.screenshot(path=str(SHOTS / "push-account-390-on.png"),
                                          full_page=True)

                # "Send a test": the server process's own sender delivers it to the receiver.
                await box.locator("[data-push-test] button").click()
                await page.wait_for_url(f"{base}/account?msg=push_test")
                await rx.wait_for(1, timeout=10)
                [req] = rx.requests
                verify_vapid(req.headers["authorization"], phone.endpoint)
                message = phone.decrypt_json(req.body)
                assert message["url"] == "/account" and message["title"]

                # The decrypted message, delivered to our service worker as a push service would.
                shown = await deliver_to_worker(context, page, base, message)
                assert shown == [{"title": message["title"], "body": message["body"],
                                  "url": f"{base}/account"}]

                # Turn off on this phone: unsubscribed in the browser and forgotten by the server.
                await box.locator("[data-push-unsubscribe]").click()
                await expect(box).to_have_attribute("data-push-status", "off")
                assert await page.evaluate("window.__pushUnsubscribed") is True
                assert await raw("SELECT id FROM push_subscription") == []
                assert not [e for e in errors if "Content Security Policy" in e], errors
                await browser.close()


async def test_blocked_notifications_say_so_and_never_subscribe(make_user):
    from playwright.async_api import async_playwright, expect

    await make_user("li.na", "staff", None)
    with running_server() as base:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = await browser.new_context(viewport={"width": 390, "height": 844},
                                                locale="en-US")
            await context.add_init_script(
                "Object.defineProperty(Notification, 'permission', {get: () => 'denied'});")
            page = await context.new_page()
            await page.goto(f"{base}/account")
            await page.fill("#f-username", "li.na")
            await page.fill("#f-password", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/account")
            box = page.locator("[data-push]")
            await expect(box).to_have_attribute("data-push-status", "blocked")
            await expect(box.locator("[data-push-subscribe]")).to_be_hidden()
            assert "Allow notifications" in await box.locator("[data-push-text]").inner_text()
            await browser.close()
