"""The staff side of membership in a phone-sized Chromium (390x844) against a real server:
enrol a customer from the card, adjust points in the bottom sheet (the manager threshold's
message by the field, then a good adjustment that refreshes the section in place with a
toast), and open a member's card from /members/scan with a typed member number (the camera
cannot be tested headless; the decoding endpoint is tested in tests/test_member_card.py)."""

from __future__ import annotations

from db.actor import Actor
from db.customers.profile import parse_customer
from db.customers.service import upsert_customer
from db.customers.tables import Customer
from db.members import membership
from tests.conftest import PASSWORD
from tests.server import running_server
from tests.test_push_browser import ARGS, CHROMIUM, SHOTS, pytestmark  # noqa: F401


async def _sign_in(page, base: str, username: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill("#f-username", username)
    await page.fill("#f-password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/today")


async def test_enrol_and_adjust_points_in_the_sheet_on_a_phone(make_user):
    from playwright.async_api import async_playwright, expect

    staff = await make_user("li.na", "staff", None)
    cid = (await upsert_customer(parse_customer({"name": "王芳", "mobile": "13812345678"}), Actor(None, "t")))[0]
    await Customer.update({Customer.owner: staff}).where(Customer.id == cid)

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

            # Enrol: the sheet with the consent boxes, then the section becomes a member's.
            section = page.locator("#card-member")
            await section.get_by_text("Enrol as member").tap()
            sheet = page.locator("#join-sheet")
            await expect(sheet).to_be_visible()
            await sheet.get_by_label("SMS").check()
            await sheet.get_by_role("button", name="Enrol").tap()
            await expect(sheet).to_be_hidden()
            await expect(section.locator(".member-balance")).to_contain_text("100")
            member = await membership.member_for_customer(cid)
            assert member and (await membership.consents(member["id"]))["sms"]["granted"]
            await expect(page.locator("#card-figures")).to_contain_text("Points")

            # Adjust: over the threshold a staff member is told why, by the field.
            await section.get_by_role("link", name="Adjust points").tap()
            sheet = page.locator("#adjust-sheet")
            await expect(sheet).to_be_visible()
            await sheet.locator("#f-delta").fill("5000")
            await sheet.locator("#f-reason").fill("大额补偿")
            if SHOTS:
                await page.screenshot(path=str(SHOTS / "member-adjust-sheet.png"), caret="initial", animations="allow")
            await sheet.get_by_role("button", name="Save").tap()
            error = sheet.locator("#f-delta-error")
            await expect(error).to_contain_text("need a manager")
            await expect(sheet).to_be_visible()
            assert (await membership.get(member["id"]))["points_balance"] == 100

            # A good adjustment closes the sheet, refreshes the section and says so.
            await sheet.locator("#f-delta").fill("250")
            await sheet.get_by_role("button", name="Save").tap()
            await expect(sheet).to_be_hidden()
            await expect(section.locator(".member-balance")).to_contain_text("350")
            await expect(section.locator(".member-entry").first).to_contain_text("大额补偿")
            await expect(page.locator(".toast", has_text="Points adjusted")).to_be_visible()
            await expect(page.locator("#card-figures")).to_contain_text("350")
            assert (await membership.get(member["id"]))["points_balance"] == 350
            if SHOTS:
                await page.screenshot(path=str(SHOTS / "member-card-section.png"), full_page=True, caret="initial", animations="allow")

            # The sheet opens again with an empty form and a new idempotency key.
            await section.get_by_role("link", name="Adjust points").tap()
            await expect(sheet.locator("#f-delta")).to_have_value("")
            assert not problems, problems
            await browser.close()


async def test_open_a_members_card_from_scan_with_a_typed_number(make_user):
    from playwright.async_api import async_playwright, expect

    await make_user("li.na", "staff", None)
    owner = await make_user("zhao", "staff", None)
    cid = (await upsert_customer(parse_customer({"name": "王芳", "mobile": "13812345678"}), Actor(None, "t")))[0]
    await Customer.update({Customer.owner: owner}).where(Customer.id == cid)
    member = await membership.join(cid, "staff", Actor(None, "t"))
    mine = (await upsert_customer(parse_customer({"name": "李雷", "mobile": "13900001111"}), Actor(None, "t")))[0]
    staff = (await Customer.select(Customer.id).where(Customer.id == mine).first())["id"]
    from db.staff.tables import StaffUser

    li = (await StaffUser.select(StaffUser.id).where(StaffUser.username == "li.na").first())["id"]
    await Customer.update({Customer.owner: li}).where(Customer.id == staff)
    mine_member = await membership.join(mine, "staff", Actor(None, "t"))

    with running_server() as base:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = await browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                                is_mobile=True, has_touch=True, locale="en-US")
            page = await context.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            await _sign_in(page, base, "li.na")
            await page.goto(f"{base}/customers")
            await page.locator("a[href='/members/scan']").first.tap()
            await page.wait_for_url(f"{base}/members/scan")
            await expect(page.locator("[data-scan-start]")).to_be_visible()
            if SHOTS:
                await page.screenshot(path=str(SHOTS / "member-scan.png"), caret="initial", animations="allow")

            # Another staff member's customer: not among the ones li.na can see.
            await page.locator("#f-no").fill(member["member_no"])
            await page.locator("#f-no").press("Enter")
            await expect(page.locator(".scan-error")).to_contain_text("No member has this number")

            await page.locator("#f-no").fill(mine_member["member_no"])
            await page.get_by_role("button", name="Open card").tap()
            await page.wait_for_url(f"{base}/customers/{mine}#card-member")
            await expect(page.locator("#card-member")).to_contain_text(mine_member["member_no"])
            assert not [m for m in problems if "404" not in m], problems
            await browser.close()
