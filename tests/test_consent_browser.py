"""The 360 card's consent lines and their bottom sheet in a phone-sized Chromium (390x844)
against a real server: a non-member's card shows each channel's answer with its time and
source; staff record a withdrawal in the sheet, which closes, refreshes the lines in place and
says so with a toast."""

from __future__ import annotations

import datetime as dt

from db.actor import Actor
from db.customers import consent
from db.customers.profile import parse_customer
from db.customers.service import upsert_customer
from db.customers.tables import Customer
from tests.server import running_server
from tests.test_member_staff_browser import _sign_in
from tests.test_push_browser import ARGS, CHROMIUM, SHOTS, pytestmark  # noqa: F401


async def test_record_a_withdrawal_from_the_card_on_a_phone(make_user):
    from playwright.async_api import async_playwright, expect

    staff = await make_user("li.na", "staff", None)
    cid = (await upsert_customer(parse_customer({"name": "王芳", "mobile": "13812345678"}), Actor(None, "t")))[0]
    await Customer.update({Customer.owner: staff}).where(Customer.id == cid)
    await consent.record(cid, "sms", True, "api", "key:1", detail="app signup",
                         at=dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.timezone.utc))

    with running_server() as base:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = await browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                                is_mobile=True, has_touch=True, locale="en-US")
            page = await context.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            await _sign_in(page, base, "li.na")
            await page.goto(f"{base}/customers/{cid}")
            lines = page.locator("#card-consents")
            await expect(lines.locator('[data-channel="sms"]')).to_contain_text("Yes")
            await expect(lines.locator('[data-channel="sms"]')).to_contain_text("API")
            await expect(lines.locator('[data-channel="email"]')).to_contain_text("Never asked")

            await page.locator("#card-member").get_by_role("link", name="Record consent").tap()
            sheet = page.locator("#consent-sheet")
            await expect(sheet).to_be_visible()
            await sheet.get_by_role("button", name="Save").tap()
            await expect(sheet.locator("#f-channel-error")).to_contain_text("Choose a channel")
            await sheet.get_by_label("SMS").check()
            await sheet.get_by_label("Does not agree").check()
            if SHOTS:
                await page.screenshot(path=str(SHOTS / "consent-sheet.png"), caret="initial", animations="allow")
            await sheet.get_by_role("button", name="Save").tap()
            await expect(sheet).to_be_hidden()
            await expect(page.locator(".toast", has_text="Withdrawal recorded")).to_be_visible()
            await expect(lines.locator('[data-channel="sms"]')).to_contain_text("No")
            await expect(lines.locator('[data-channel="sms"]')).to_contain_text("customer card")
            assert (await consent.current([cid]))[cid]["sms"]["granted"] is False
            if SHOTS:
                await page.locator(".toast").first.wait_for(state="hidden")
                await lines.evaluate("el => el.scrollIntoView({block: 'center'})")
                await page.screenshot(path=str(SHOTS / "consent-card.png"), caret="initial", animations="allow")
            assert not problems, problems
            await browser.close()
