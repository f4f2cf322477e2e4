"""The import pages as a manager or admin uses them: upload -> columns -> preview -> start ->
progress -> result -> rejected rows; and who may not."""

from __future__ import annotations

import asyncio
import csv
import io
import re

import pytest

from db.audit.tables import AuditEntry
from db.customers.tables import Customer
from db.imports.tables import ImportJob
from db.orders.tables import Order
from tests.import_helpers import CUSTOMER_HEADERS, order_rows, write_xlsx


@pytest.fixture
def signed_in(signed_in_english):
    """Messages are checked in English (the default language is Chinese)."""
    return signed_in_english


def _csv_bytes(rows, encoding="utf-8"):
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding)


CUSTOMERS = [
    CUSTOMER_HEADERS,
    ["张伟", "138 1234 5678", "zhang.wei@example.com", "男", "1990/5/17", "浙江", "杭州"],
    ["李娜", "13912345678", "", "女", "19880203", "上海", "上海"],
    ["坏号码", "12345", "", "", "", "", ""],
    ["张伟", "13812345678", "", "", "", "", "宁波"],  # the same person again: updates the city
]


async def upload(client, content: bytes, filename: str, kind: str = "customers"):
    return await client.post(
        "/import",
        data={"kind": kind, "_csrf_token": client.csrf},
        files={"file": (filename, content, "text/csv")},
        follow_redirects=False,
    )


async def wait_done(client, job_id: int, timeout: float = 30) -> str:
    for _ in range(int(timeout * 10)):
        page = await client.get(f"/import/{job_id}", headers={"HX-Request": "true"})
        if 'hx-trigger="every 1s"' not in page.text:
            return page.text
        await asyncio.sleep(0.1)
    raise AssertionError("import did not finish")


async def test_manager_imports_customers_through_every_step(signed_in, tmp_path):
    manager = await signed_in("li.manager", role="manager", team="华东门店组")
    page = await manager.get("/import")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text

    sent = await upload(manager, _csv_bytes(CUSTOMERS, "gb18030"), "客户.csv")
    assert sent.status_code == 303, sent.text
    job_url = sent.headers["location"]
    job_id = int(job_url.rsplit("/", 1)[1])

    mapping = await manager.get(job_url)  # the guessed mapping, from the Chinese headers
    assert mapping.status_code == 200 and "<html" in mapping.text
    for i, field in enumerate(["name", "mobile", "email", "gender", "birthday", "province", "city"]):
        select = re.search(rf'<select[^>]*name="col{i}"[^>]*>(.*?)</select>', mapping.text, re.S).group(1)
        assert re.search(rf'<option value="{re.escape(field)}" selected>', select), (i, field)
    assert "138 1234 5678" in mapping.text  # the first row's value beside its column

    form = {f"col{i}": f for i, f in enumerate(["name", "mobile", "email", "gender", "birthday", "province", "city"])}
    saved = await manager.post(f"{job_url}/mapping", data={**form, "_csrf_token": manager.csrf},
                               follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == f"{job_url}/preview"

    preview = await manager.get(f"{job_url}/preview")
    assert preview.status_code == 200
    assert preview.text.count('class="is-rejected"') == 1 and 'class="import-cell-error"' in preview.text
    assert "张伟" in preview.text and await Customer.count() == 0  # a preview writes nothing

    started = await manager.post(f"{job_url}/start", data={"_csrf_token": manager.csrf},
                                 follow_redirects=False)
    assert started.status_code == 303
    fragment = await wait_done(manager, job_id)
    assert "<html" not in fragment and 'id="import-progress"' in fragment
    full = await manager.get(job_url)
    assert "<html" in full.text and "rejected.csv" in full.text

    job = await ImportJob.select().where(ImportJob.id == job_id).first()
    assert (job["status"], job["created"], job["updated"], job["rejected"]) == ("done", 2, 1, 1)
    rows = await Customer.select(Customer.name, Customer.city, Customer.team).order_by(Customer.id)
    assert [r["city"] for r in rows] == ["宁波", "上海"]
    manager_team = (await manager.get("/more")).status_code  # still signed in
    assert manager_team == 200 and all(r["team"] is not None for r in rows)

    rejects = await manager.get(f"{job_url}/rejected.csv")
    assert rejects.status_code == 200 and "attachment" in rejects.headers["content-disposition"]
    text = rejects.content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == CUSTOMER_HEADERS + ["原因/reason"]
    assert lines[1][0] == "坏号码" and "手机号" in lines[1][-1]
    audit = await AuditEntry.select(AuditEntry.action, AuditEntry.detail).where(
        AuditEntry.action == "import.run")
    assert len(audit) == 1 and "张伟" not in str(audit[0]["detail"])


async def test_orders_xlsx_with_a_default_channel(signed_in, tmp_path):
    admin = await signed_in("root", role="admin", team=None)
    rows = [[c for j, c in enumerate(r) if j != 5] for r in order_rows(30)]  # no channel column
    path = write_xlsx(tmp_path / "orders.xlsx", rows)
    sent = await upload(admin, path.read_bytes(), "订单.xlsx", kind="orders")
    assert sent.status_code == 303
    job_url = sent.headers["location"]
    headers = rows[0]
    form = {f"col{i}": f for i, f in enumerate(["external_id", "mobile", "name", "placed_at", "total", "status"])}
    missing = await admin.post(f"{job_url}/mapping", data={**form, "_csrf_token": admin.csrf})
    assert missing.status_code == 200 and "choose the channel" in missing.text.lower()
    saved = await admin.post(f"{job_url}/mapping", data={**form, "channel": "jd", "_csrf_token": admin.csrf},
                             follow_redirects=False)
    assert saved.status_code == 303
    assert (await admin.get(f"{job_url}/preview")).status_code == 200
    await admin.post(f"{job_url}/start", data={"_csrf_token": admin.csrf})
    await wait_done(admin, int(job_url.rsplit("/", 1)[1]))
    orders = await Order.select(Order.channel).distinct()
    assert orders == [{"channel": "jd"}] and await Order.count() == 30
    assert headers[0] == "订单号"


async def test_bad_uploads_get_a_message_next_to_the_file(signed_in):
    manager = await signed_in("li.manager", role="manager")
    empty = await upload(manager, b"", "empty.csv")
    assert empty.status_code == 200 and "the file is empty" in empty.text.lower()
    utf16 = await upload(manager, "姓名,手机\n张三,13812345678\n".encode("utf-16"), "u16.csv")
    assert utf16.status_code == 200 and "UTF-16" in utf16.text
    header_only = await upload(manager, "姓名,手机\n".encode(), "h.csv")
    assert "no data rows" in header_only.text
    assert await ImportJob.count() == 0


async def test_staff_may_not_import(signed_in):
    staff = await signed_in("wang.fang", role="staff")
    assert (await staff.get("/import")).status_code == 403
    sent = await upload(staff, _csv_bytes(CUSTOMERS), "c.csv")
    assert sent.status_code == 403 and await ImportJob.count() == 0
    assert "/import" not in (await staff.get("/more")).text


async def test_someone_elses_job_is_not_found(signed_in):
    one = await signed_in("li.manager", role="manager")
    sent = await upload(one, _csv_bytes(CUSTOMERS), "c.csv")
    other = await signed_in("zhao.manager", role="manager", team="华南组")
    assert (await other.get(sent.headers["location"])).status_code == 404
    admin = await signed_in("root", role="admin", team=None)
    assert (await admin.get(sent.headers["location"])).status_code == 200


async def test_a_file_over_the_upload_limit_gets_a_clear_message(settings_env, make_user):
    from litestar.testing import AsyncTestClient

    from tests.conftest import BASE_URL, csrf_token, sign_in
    from web.app import create_app

    settings_env(CRM_IMPORT_MAX_BYTES="4096")
    await make_user("li.manager", "manager")
    async with AsyncTestClient(app=create_app(), base_url=BASE_URL) as client:
        client.headers["Accept-Language"] = "en"
        assert (await sign_in(client, "li.manager")).status_code == 303
        client.csrf = await csrf_token(client, "/import")
        small = await upload(client, _csv_bytes(CUSTOMERS), "small.csv")
        assert small.status_code == 303
        big = await upload(client, _csv_bytes(CUSTOMERS) * 200, "big.csv")
        assert big.status_code == 413 and "larger than" in big.text and 'name="file"' in big.text
    assert await ImportJob.count() == 1
