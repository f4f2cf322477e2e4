"""The report pages: who may open which report, the form and its field errors, the preview
(the same template as the PDF) as a page and as an HTMX fragment, and the downloads."""

from __future__ import annotations

import datetime as dt
import io
from urllib.parse import unquote

from openpyxl import load_workbook
from pypdf import PdfReader

from db.audit.tables import AuditEntry
from db.figures.period import shop_today
from db.staff.accounts import ensure_team
from tests.test_reports import shop_fixture


def _range(days: int = 90) -> str:
    today = shop_today()
    return f"from={(today - dt.timedelta(days=days - 1)).isoformat()}&to={today.isoformat()}"


async def test_managers_see_every_report_and_staff_only_their_follow_ups(signed_in):
    manager = await signed_in("zhang.wei", "manager")
    page = await manager.get("/reports")
    assert page.status_code == 200
    for name in ("summary", "customers", "retention", "loyalty", "followups"):
        assert f'href="/reports/{name}"' in page.text
    staff = await signed_in("li.lei", "staff")
    page = await staff.get("/reports")
    assert 'href="/reports/followups"' in page.text and 'href="/reports/summary"' not in page.text
    assert (await staff.get("/reports/customers")).status_code == 403
    assert (await staff.get(f"/reports/summary.pdf?{_range()}")).status_code == 403
    own = await staff.get(f"/reports/followups?{_range()}")
    assert own.status_code == 200 and "li.lei" in own.text  # "Figures of" the person
    assert (await staff.get("/reports/nope")).status_code == 404
    more = await staff.get("/more")
    assert 'href="/reports/followups"' in more.text


async def test_a_manager_asking_for_another_team_is_refused(signed_in):
    manager = await signed_in("zhang.wei", "manager", "华东门店组")
    other = await ensure_team("华南门店组")
    for path in (f"/reports/customers?{_range()}&team={other}",
                 f"/reports/customers.pdf?{_range()}&team={other}",
                 f"/reports/customers.xlsx?{_range()}&team={other}"):
        assert (await manager.get(path)).status_code == 403, path


async def test_the_preview_is_the_report_and_a_fragment_on_change(signed_in):
    await shop_fixture()
    admin = await signed_in("admin.wang", "admin", None)
    page = await admin.get(f"/reports/retention?{_range(300)}")
    assert page.status_code == 200 and "<html" in page.text
    assert 'class="report report-retention"' in page.text and "同期群：复购占比" in page.text
    assert 'href="/reports/retention.pdf?' in page.text and "css/report.css" in page.text
    preview = page.text.split('class="report-preview"')[1].split("</article>")[0]
    assert "<svg" in preview and "<script" not in preview
    nonce = page.headers["content-security-policy"].split("'nonce-")[1].split("'")[0]
    assert f'<style nonce="{nonce}"' in page.text  # the charts' style passes the CSP
    fragment = await admin.get(f"/reports/retention?{_range(60)}&channel=tmall",
                               headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'id="report-area"' in fragment.text and "天猫" in fragment.text
    assert fragment.headers["vary"].startswith("HX-Request")


async def test_bad_input_is_shown_next_to_the_field_and_downloads_refuse_it(signed_in):
    admin = await signed_in("admin.wang", "admin", None)
    today = shop_today().isoformat()
    page = await admin.get(f"/reports/summary?from={today}&to=2020-01-01")
    assert page.status_code == 200 and 'id="f-to-error"' in page.text
    assert 'class="report ' not in page.text
    page = await admin.get("/reports/summary?from=2026-02-30&to=x&channel=ebay&team=abc")
    assert page.status_code == 200
    for field in ("from", "to", "channel", "team"):
        assert f'id="f-{field}-error"' in page.text, field
    assert (await admin.get(f"/reports/summary.pdf?from={today}&to=2020-01-01")).status_code == 422


async def test_downloads_have_a_chinese_filename_and_the_same_numbers(signed_in):
    await shop_fixture()
    admin = await signed_in("admin.wang", "admin", None)
    pdf = await admin.get(f"/reports/summary.pdf?{_range(180)}")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    disposition = pdf.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="') and "filename*=UTF-8''" in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]).startswith("经营概览_")
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert len(PdfReader(io.BytesIO(pdf.content)).pages) == 1
    xlsx = await admin.get(f"/reports/summary.xlsx?{_range(180)}")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    rows = list(load_workbook(io.BytesIO(xlsx.content), read_only=True).worksheets[0].iter_rows(values_only=True))
    sales = next(r for r in rows if r and r[0] == "销售额")[1]
    assert f"¥{sales:,.2f}" in text.replace(" ", "")
    entries = await AuditEntry.select().where(AuditEntry.action == "report.generated").output(load_json=True)
    assert {e["detail"]["format"] for e in entries} == {"pdf", "xlsx"}
    assert all(e["actor"] == "admin.wang" and e["actor_id"] == admin.user_id for e in entries)


async def test_an_empty_shop_shows_no_data_not_an_error(signed_in):
    admin = await signed_in("admin.wang", "admin", None)
    for name in ("summary", "customers", "retention", "loyalty", "followups"):
        page = await admin.get(f"/reports/{name}?{_range(30)}")
        assert page.status_code == 200 and "暂无数据" in page.text, name


async def test_a_large_report_is_made_in_the_background_with_its_progress_page(signed_in, monkeypatch):
    from reports import build as report_build

    await shop_fixture()
    monkeypatch.setattr(report_build, "SLOW_CUSTOMERS", 1)  # the fixture's shop counts as large
    admin = await signed_in("admin.wang", "admin", None)
    asked = await admin.get(f"/reports/summary.pdf?{_range(90)}", follow_redirects=False)
    assert asked.status_code == 303 and asked.headers["location"].startswith("/reports/files/")
    page = await admin.get(asked.headers["location"])
    assert page.status_code == 200 and "经营概览" in page.text
    listing = await admin.get("/reports")
    assert asked.headers["location"] in listing.text  # the file is listed for 7 days
    assert 'href="/reports/schedules"' in listing.text
