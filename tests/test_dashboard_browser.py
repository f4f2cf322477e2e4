"""The dashboard on a real phone-sized browser (Debian's Chromium via Playwright): the 看板 tab
fits the bar at 390 px, nothing is wider than the screen, a preset swaps the figures in place
(HTMX), a tile opens the list behind it with the same count, and the desktop layout."""

import os
import re
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.server import running_server
from tests.test_figures import build_shop

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = Path(os.environ["CRM_SCREENSHOTS"]) if os.environ.get("CRM_SCREENSHOTS") else None

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


async def _sign_in(page, base, username, path):
    await page.goto(f"{base}/login?next={path}")
    await page.fill("#f-username", username)
    await page.fill("#f-password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}{path}")


async def test_the_dashboard_on_a_phone_and_a_desktop(make_user):
    from playwright.async_api import async_playwright, expect

    await build_shop(make_user)
    with running_server() as base:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = await browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                                is_mobile=True, has_touch=True, locale="zh-CN")
            page = await context.new_page()
            errors = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            await _sign_in(page, base, "ma", "/dashboard")
            assert await page.evaluate("document.documentElement.scrollWidth") <= 390
            tabs = page.locator(".tabs-nav .tab")
            assert await tabs.count() == 6
            for i in range(6):  # every tab inside the bar, none cut off
                box = await tabs.nth(i).bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["height"] >= 44
            await expect(page.locator('.tab[href="/dashboard"]')).to_have_attribute("aria-current", "page")
            await expect(page.locator('.tab[href="/dashboard"] .tab-label')).to_have_text("看板")
            tile = page.locator("#tile-new_customers")
            box = await tile.bounding_box()
            assert box["width"] < 200 and box["height"] >= 60  # two tiles a row
            if SHOTS:
                await page.screenshot(path=str(SHOTS / "dashboard-390.png"), full_page=True)
            await page.evaluate("window.__sameDocument = true")
            await page.locator('.dash-presets a[href^="/dashboard?preset=week"]').tap()
            await page.wait_for_url(re.compile(r".*preset=week"))
            await expect(page.locator('.dash-presets a[aria-current="page"]')).to_have_text("本周")
            assert await page.evaluate("window.__sameDocument === true")  # swapped by HTMX
            assert await page.evaluate("document.documentElement.scrollWidth") <= 390
            await page.fill("#f-from", "2026-11-01")  # a change swaps the figures and the form
            await page.wait_for_url(re.compile(r".*from=2026-11-01"))
            await expect(page.locator("#f-from")).to_have_value("2026-11-01")
            await page.fill("#f-to", "2026-11-30")
            await page.wait_for_url(re.compile(r".*to=2026-11-30"))
            await expect(page.locator("#f-to")).to_have_value("2026-11-30")
            value = (await page.locator("#tile-active_customers .stat-value").inner_text()).strip()
            await page.locator("#tile-active_customers").tap()
            await page.wait_for_url(re.compile(r".*/customers\?.*figure=active"))
            await expect(page.locator("#drill-count")).to_have_text(value)
            assert await page.evaluate("document.documentElement.scrollWidth") <= 390
            assert not errors, errors
            await context.close()

            desktop = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
            page = await desktop.new_page()
            await _sign_in(page, base, "boss", "/dashboard")
            assert await page.evaluate("document.documentElement.scrollWidth") <= 1280
            first = await page.locator(".dash-tile").nth(0).bounding_box()
            fourth = await page.locator(".dash-tile").nth(3).bounding_box()
            assert abs(first["y"] - fourth["y"]) < 2  # four tiles a row
            if SHOTS:
                await page.screenshot(path=str(SHOTS / "dashboard-1280.png"), full_page=True)
            await desktop.close()
            await browser.close()
