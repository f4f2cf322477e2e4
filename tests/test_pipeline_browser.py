"""The pipeline on a real phone-sized browser (Debian's Chromium via Playwright): switch stage
with the chips, move an opportunity with the bottom sheet by taps, and the desktop board."""

import os
from pathlib import Path

import pytest

from db.customers.scope import Scope
from db.actor import Actor
from db.customers.profile import parse_customer
from db.customers.service import upsert_customer
from db.customers.tables import Customer
from db.pipeline import opportunities
from db.pipeline.tables import Opportunity, PipelineStage
from db.staff.tables import Team
from tests.conftest import PASSWORD
from tests.server import running_server

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = Path(os.environ["CRM_SCREENSHOTS"]) if os.environ.get("CRM_SCREENSHOTS") else None

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


async def _seed(make_user) -> dict:
    me = await make_user("zhang.wei", "manager", "华东门店组")
    team = (await Team.select(Team.id).where(Team.name == "华东门店组").first())["id"]
    stages = {r["code"]: r["id"] for r in await PipelineStage.select()}
    made = {}
    rows = (("王芳", "13812345678", "春季补货 50 份", "12000", "quoted"),
            ("李娜", "13987650000", "企业福利采购", "35000.5", "quoted"),
            ("张伟", "15011112222", "婚礼伴手礼", "800", "lead"),
            ("陈静", "15022223333", "中秋礼盒", "2600", "contacted"),
            ("刘洋", "15033334444", "会员年卡续费", "1999", "won"))
    for name, mobile, title, amount, code in rows:
        cid = (await upsert_customer(parse_customer({"name": name, "mobile": mobile}), Actor(None, "t")))[0]
        await Customer.update({Customer.owner: me, Customer.team: team}).where(Customer.id == cid)
        made[title] = await opportunities.create(Scope.everything(), {
            "customer_id": str(cid), "title": title, "amount": amount, "owner_id": str(me),
            "stage_id": str(stages[code]), "expected_close_on": "2025-01-15" if code == "lead" else "2030-06-30",
        }, Actor(me, "zhang.wei"))
    return {"stages": stages, "opps": made}


async def _sign_in(page, base, path):
    await page.goto(f"{base}/login?next={path}")
    await page.fill("#f-username", "zhang.wei")
    await page.fill("#f-password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}{path}")


async def test_switch_stage_with_chips_and_move_with_the_sheet_by_taps(make_user):
    from playwright.async_api import async_playwright, expect

    seeded = await _seed(make_user)
    quoted, won = seeded["stages"]["quoted"], seeded["stages"]["won"]
    target = seeded["opps"]["春季补货 50 份"]
    with running_server() as base:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = await browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                                is_mobile=True, has_touch=True, locale="zh-CN")
            page = await context.new_page()
            errors = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            await _sign_in(page, base, "/pipeline")
            await page.evaluate("window.__sameDocument = true")
            # no sideways scrolling of the page at 390px (the chip row scrolls on its own)
            assert await page.evaluate("document.documentElement.scrollWidth") <= 390
            chip = page.locator(f'.stage-chip[href="/pipeline?stage={quoted}"]')
            await expect(chip).to_contain_text("¥47,000.50")  # the two quoted deals' sum
            box = await chip.bounding_box()
            assert box["height"] >= 44
            await chip.tap()
            await expect(page.locator(f".stage-chip[href='/pipeline?stage={quoted}']")).to_have_attribute("aria-current", "page")
            assert f"stage={quoted}" in page.url
            column = page.locator(f"#stage-{quoted}")
            await expect(column).to_be_visible()
            await expect(column.locator(".opp-card")).to_have_count(2)
            if SHOTS:
                await page.screenshot(path=str(SHOTS / "pipeline-390.png"), full_page=True)

            card = page.locator(f"#opp-{target}")
            move = card.locator(".opp-move")
            assert (await move.bounding_box())["height"] >= 44
            await move.tap()
            sheet = page.locator("#move-sheet")
            await expect(sheet).to_be_visible()
            option = sheet.locator(f'button[name=stage_id][value="{won}"]')
            await expect(option).to_be_visible()
            assert (await option.bounding_box())["height"] >= 44
            if SHOTS:
                await page.screenshot(path=str(SHOTS / "pipeline-move-sheet-390.png"))
            await option.tap()
            await expect(page.locator(f"#stage-{quoted} #opp-{target}")).to_have_count(0)
            await expect(sheet).to_be_hidden()
            await expect(page.locator(".toast")).to_be_visible()
            await expect(page.locator(f"#stage-{quoted} .opp-card")).to_have_count(1)
            assert f"stage={quoted}" in page.url  # still on the stage the person was looking at
            assert (await Opportunity.select(Opportunity.stage).where(Opportunity.id == target).first())["stage"] == won
            await page.locator(f'.stage-chip[href="/pipeline?stage={won}"]').tap()
            await expect(page.locator(f"#stage-{won} #opp-{target}")).to_be_visible()
            assert await page.evaluate("window.__sameDocument") is True  # never reloaded
            if SHOTS:
                await page.goto(f"{base}/pipeline/new")
                await page.locator("button.btn-primary[type=submit]").tap()
                await page.locator(".field-error").first.wait_for()
                await page.screenshot(path=str(SHOTS / "pipeline-new-errors-390.png"), full_page=True)
                await page.goto(f"{base}/settings/pipeline")
                await page.screenshot(path=str(SHOTS / "pipeline-settings-390.png"), full_page=True)
                await page.goto(f"{base}/pipeline/{target}")
                await page.screenshot(path=str(SHOTS / "pipeline-detail-390.png"), full_page=True)
                await page.locator(".props a").first.tap()
                await page.locator(".timeline-stage").first.wait_for()
                await page.locator(".card-timeline").first.screenshot(path=str(SHOTS / "customer-timeline-390.png"))
            assert not [e for e in errors if "Content Security Policy" in e], errors
            await browser.close()


async def test_the_desktop_shows_every_stage_side_by_side(make_user):
    from playwright.async_api import async_playwright, expect

    seeded = await _seed(make_user)
    with running_server() as base:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
            page = await context.new_page()
            await _sign_in(page, base, "/pipeline")
            columns = page.locator(".board-column")
            await expect(columns).to_have_count(5)
            boxes = [await columns.nth(i).bounding_box() for i in range(5)]
            assert len({round(b["y"]) for b in boxes}) == 1  # one row of columns
            assert await page.locator(".stage-chips").is_hidden()
            await expect(page.locator(f"#stage-{seeded['stages']['lead']} .opp-close.is-overdue")).to_have_count(1)
            if SHOTS:
                await page.screenshot(path=str(SHOTS / "pipeline-1280.png"), full_page=True)
            await browser.close()
