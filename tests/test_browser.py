"""A real phone-sized browser: sign in, find a customer by four digits of the mobile, open them.

Debian's Chromium driven by Playwright; it is never downloaded. The server runs with its
default settings (Secure cookies), as a new user would start it.
"""

import os
from pathlib import Path

import pytest

from db.customers.service import Actor, parse_customer, upsert_customer
from tests.conftest import PASSWORD
from tests.server import running_server

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = Path(os.environ.get("CRM_SCREENSHOTS", "")) if os.environ.get("CRM_SCREENSHOTS") else None

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


async def test_sign_in_search_by_four_digits_and_open_the_customer(make_user):
    from playwright.async_api import async_playwright, expect

    await make_user("li.na", "admin", None)
    for name, mobile in (("王芳", "13812345678"), ("李娜", "13987650000"), ("张伟", "15011112222")):
        await upsert_customer(parse_customer({"name": name, "mobile": mobile}), Actor(None, "t"))
    with running_server() as base:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = await browser.new_context(viewport={"width": 390, "height": 844},
                                                device_scale_factor=2, is_mobile=True,
                                                has_touch=True, locale="zh-CN")
            page = await context.new_page()
            errors = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            await page.goto(f"{base}/customers")
            assert "/login" in page.url
            await page.fill("#f-username", "li.na")
            await page.fill("#f-password", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/customers")
            await page.fill("#q", "2345")
            await expect(page.locator("a.row")).to_have_count(1)
            row = page.locator("a.row", has_text="王芳")
            assert "q=2345" in page.url  # the search is in the address bar, so back works
            if SHOTS:
                await page.screenshot(path=str(SHOTS / "customers-390.png"), full_page=True)
            await row.click()
            await page.wait_for_url("**/customers/*")
            assert await page.locator("h1").inner_text() == "王芳"
            assert await page.locator('a[href="tel:+8613812345678"]').count() == 1
            # Log a call without leaving the page: the activity list updates in place.
            await page.locator("textarea[name=body]").fill("电话回访，很满意")
            await page.locator("#note-form button[type=submit]").click()
            await page.locator(".timeline-body", has_text="电话回访，很满意").wait_for()
            if SHOTS:
                await page.screenshot(path=str(SHOTS / "customer-390.png"), full_page=True)
            assert not [e for e in errors if "Content Security Policy" in e], errors
            await browser.close()
