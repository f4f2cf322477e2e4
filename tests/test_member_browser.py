"""A member on a phone (390x844) against the real server: sign in with the code the console
SMS backend wrote to the server log, see the balance, redeem a reward from its bottom sheet."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from db.clock import now
from db.engine import raw
from tests.server import ROOT, _stop_group, free_port
from tests.test_member_signin import make_member
from tests.test_push_browser import ARGS, CHROMIUM, SHOTS, pytestmark  # noqa: F401


@contextlib.contextmanager
def server_with_log():
    """`crm serve` like tests/server.py, with its log (INFO: the console SMS) in a file."""
    port = free_port()
    crm = Path(sys.executable).with_name("crm")
    log = tempfile.NamedTemporaryFile(prefix="crm-member-log-", suffix=".txt", delete=False)
    env = {**os.environ, "CRM_LOG_LEVEL": "INFO", "CRM_DB_POOL_SIZE": "4", "CRM_COOKIE_SECURE": "0",
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([str(crm), "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start:\n" + Path(log.name).read_text())
            time.sleep(0.2)
        yield base, Path(log.name)
    finally:
        _stop_group(proc)
        Path(log.name).unlink(missing_ok=True)


def code_from_log(log: Path, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.findall(r"SMS to 138\*\*\*\*5678: .*?(\d{6})", log.read_text())
        if found:
            return found[-1]
        time.sleep(0.1)
    raise AssertionError("no SMS in the server log")


async def test_a_member_signs_in_with_the_code_and_redeems_a_reward():
    from playwright.async_api import async_playwright, expect

    from db.members import ledger

    member = await make_member("王芳", "13812345678")
    await ledger.post(member["id"], 400, kind="earn", reason="order", source_type="order", key="o-1")
    await raw("INSERT INTO reward (name, description, points_cost, stock, active, created_at) "
              "VALUES ('帆布袋', '限量帆布购物袋', 300, 5, {}, {})", True, now())
    balance = (await raw("SELECT points_balance FROM member WHERE id = {}", member["id"]))[0]["points_balance"]

    with server_with_log() as (base, log):
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = await browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                                is_mobile=True, has_touch=True, locale="zh-CN")
            page = await context.new_page()
            await page.goto(f"{base}/m/")
            await page.wait_for_url(f"{base}/m/login")
            if SHOTS:
                await page.screenshot(path=str(SHOTS / "member-login.png"))
            await page.fill("#f-mobile", "138 1234 5678")
            await page.locator("button[type=submit]").first.tap()
            await expect(page.locator("#f-code")).to_be_visible()
            await page.fill("#f-code", code_from_log(log))
            await page.locator("form[action='/m/login/verify'] button[type=submit]").tap()
            await page.wait_for_url(f"{base}/m/")
            await expect(page.locator("#balance")).to_have_text(f"{balance:,}")
            if SHOTS:
                await page.screenshot(path=str(SHOTS / "member-home.png"), full_page=True)

            await page.locator(".m-nav a[href='/m/rewards']").tap()
            await page.wait_for_url(f"{base}/m/rewards")
            await page.locator(".m-reward", has_text="帆布袋").tap()
            sheet = page.locator("#redeem-sheet")
            await expect(sheet).to_be_visible()
            if SHOTS:
                await page.screenshot(path=str(SHOTS / "member-redeem-sheet.png"))
            await sheet.locator("button[type=submit]").tap()
            await page.wait_for_url(re.compile(r".*/m/redemptions/\d+\?done=1"))
            await expect(page.locator(".m-note.is-ok")).to_be_visible()
            if SHOTS:
                await page.screenshot(path=str(SHOTS / "member-redeemed.png"))
            await page.goto(f"{base}/m/")
            await expect(page.locator("#balance")).to_have_text(f"{balance - 300:,}")
            if SHOTS:
                for path, name in (("/m/card", "card"), ("/m/settings", "settings"), ("/m/points", "points")):
                    await page.goto(f"{base}{path}")
                    await page.screenshot(path=str(SHOTS / f"member-{name}.png"), full_page=True)
                wide = await browser.new_context(viewport={"width": 1280, "height": 800})
                await wide.add_cookies(await context.cookies())
                desk = await wide.new_page()
                await desk.goto(f"{base}/m/")
                await desk.screenshot(path=str(SHOTS / "member-home-desktop.png"))
                await wide.close()
            await browser.close()
    assert len(await raw("SELECT id FROM redemption WHERE member = {}", member["id"])) == 1
