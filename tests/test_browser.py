"""A real phone-sized browser: sign in, find a customer by four digits of the mobile, open them.

Debian's Chromium driven by Playwright; it is never downloaded. The server runs with its
default settings (Secure cookies), as a new user would start it.
"""

import os
from pathlib import Path

import pytest

from db.actor import Actor
from db.customers.profile import parse_customer
from db.customers.service import upsert_customer
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
            assert await page.locator('a[href="tel:+8613812345678"]:visible').count() == 1
            # Log a call without leaving the page: the timeline updates in place.
            await page.locator(".card-bar-primary").click()
            await page.locator("#log-sheet textarea[name=body]").fill("电话回访，很满意")
            await page.locator("#log-form button[type=submit]").click()
            await page.locator(".timeline-body", has_text="电话回访，很满意").wait_for()
            if SHOTS:
                await page.screenshot(path=str(SHOTS / "customer-390.png"), full_page=True)
            assert not [e for e in errors if "Content Security Policy" in e], errors
            await browser.close()


async def test_log_a_visit_with_a_next_follow_up_in_three_taps_on_a_phone(make_user):
    """The issue's "done when": on a 390x844 screen, log a visit with a next follow-up date in
    three taps plus typing (Log, the "next week" chip, Save; the form starts on a visit, then on
    the kind this person logged last); the timeline shows it at once,
    the header shows the follow-up date, and the page never reloads."""
    from playwright.async_api import async_playwright, expect

    await make_user("li.na", "admin", None)
    customer_id, _ = await upsert_customer(parse_customer({"name": "王芳", "mobile": "13812345678"}),
                                           Actor(None, "t"))
    with running_server() as base:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = await browser.new_context(viewport={"width": 390, "height": 844},
                                                device_scale_factor=2, is_mobile=True,
                                                has_touch=True, locale="zh-CN")
            page = await context.new_page()
            errors = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            await page.goto(f"{base}/login?next=/customers/{customer_id}")
            await page.fill("#f-username", "li.na")
            await page.fill("#f-password", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/customers/{customer_id}")
            await page.evaluate("window.__sameDocument = true")
            header_follow_up = page.locator("#card-follow-up")
            await expect(header_follow_up).to_be_hidden()
            bar = page.locator(".card-bar")
            assert (await bar.bounding_box())["y"] > 844 / 2  # in thumb reach, at the bottom

            await page.locator(".card-bar-primary").tap()                     # tap 1: Log
            sheet = page.locator("#log-sheet")
            await expect(sheet).to_be_visible()
            await expect(page.locator('#log-sheet input[name=kind][value=visit]')).to_be_checked()
            await page.locator("#log-sheet textarea[name=body]").fill("到店试用新品，下周再来")
            await page.locator("#log-sheet .chip-date").nth(2).tap()          # tap 2: next week
            box = await page.locator("#log-form button[type=submit]").bounding_box()
            assert box["y"] + box["height"] <= 844  # Save is on screen with the form
            await page.locator("#log-form button[type=submit]").tap()         # tap 3: Save

            item = page.locator("#timeline .timeline-item").first
            await expect(item).to_contain_text("到店试用新品，下周再来")
            await expect(item).to_contain_text("拜访")
            await expect(sheet).to_be_hidden()
            await expect(header_follow_up).to_be_visible()
            assert await page.evaluate("window.__sameDocument") is True  # no reload
            if SHOTS:
                await page.screenshot(path=str(SHOTS / "card-logged-390.png"))
            # The form remembers the kind this person logged last.
            await page.locator(".card-bar-primary").tap()
            await page.locator("#log-sheet .segmented-option", has_text="电话").tap()
            await page.locator("#log-sheet textarea[name=body]").fill("电话确认到店时间")
            await page.locator("#log-form button[type=submit]").tap()
            await expect(item).to_contain_text("电话确认到店时间")
            await page.locator(".card-bar-primary").tap()
            await expect(page.locator('#log-sheet input[name=kind][value=call]')).to_be_checked()
            assert not [e for e in errors if "Content Security Policy" in e], errors
            await browser.close()
