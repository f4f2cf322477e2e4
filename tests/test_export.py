"""Export of the filtered customer list: CSV with BOM and XLSX, Chinese headers that the
import reads back, neutralised formulas, filters, scopes, the audit entry, managers only."""

import csv
import datetime as dt
import io

import openpyxl

from db.spreadsheet import neutralise
from db.audit.tables import AuditEntry
from db.customers import export, fields
from db.actor import Actor
from db.customers.profile import parse_customer
from db.customers.service import upsert_customer
from db.customers.tables import Customer, Tag
from db.orders.ingest import ingest_order, parse_order
from db.staff.tables import Team

ACTOR = Actor(None, "test")


async def add(name, mobile=None, email=None, tags=(), **extra):
    data = {"name": name, "mobile": mobile, "email": email, "tags": list(tags)}
    data.update({k: v for k, v in extra.items() if k in ("city", "province", "birthday", "gender")})
    customer_id, _ = await upsert_customer(parse_customer(data), ACTOR)
    more = {k: v for k, v in extra.items() if k in ("address", "team", "owner")}
    if more:
        await Customer.update({getattr(Customer, k): v for k, v in more.items()}).where(
            Customer.id == customer_id)
    return customer_id


def read_csv(response) -> list[list[str]]:
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def read_xlsx(response) -> list[list]:
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    return [list(r) for r in book.active.iter_rows(values_only=True)]


async def test_csv_has_chinese_headers_profile_figures_tags_and_custom_fields(signed_in):
    await fields.create_field("skin", "肤质", "choice", ["干性", "油性"])
    wang = await add("王芳", "+86 138 1234 5678", "WangFang@QQ.com", tags=["VIP", "老客"], gender="female",
                     birthday="1990-05-17", province="浙江省", city="杭州市", address="文三路 100 号")
    await fields.set_values(wang, {"skin": "油性"})
    await ingest_order(parse_order({
        "channel": "jd", "external_id": "JD1", "placed_at": "2024-03-05T14:30:00+08:00",
        "total": "1299.50", "customer": {"mobile": "13812345678"},
    }), ACTOR)
    await add("Li Na", email="lina@example.com")
    admin = await signed_in("boss", "admin", None)
    response = await admin.get("/customers/export", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'attachment; filename="customers-' in response.headers["content-disposition"]
    rows = read_csv(response)
    assert rows[0] == ["姓名", "手机号", "邮箱", "性别", "生日", "省份", "城市", "地址", "标签", "生命周期",
                       "订单数", "累计消费", "首单时间", "末单时间", "肤质"]
    assert len(rows) == 3
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["王芳"] == ["王芳", "13812345678", "wangfang@qq.com", "女", "1990-05-17", "浙江省", "杭州市",
                              "文三路 100 号", "VIP,老客", by_name["王芳"][9], "1", "1299.50",
                              "2024-03-05 14:30", "2024-03-05 14:30", "油性"]
    assert by_name["王芳"][9] in ("流失", "沉睡", "活跃", "新客户")
    assert by_name["Li Na"][1:4] == ["", "lina@example.com", "未知"]
    assert by_name["Li Na"][9:12] == ["潜在", "0", "0.00"]


async def test_xlsx_is_a_real_workbook_with_typed_cells(signed_in):
    await add("王芳", "13812345678", birthday="1990-05-17", tags=["VIP"])
    manager = await signed_in("chen.mgr", "manager", "华东门店组")
    east = (await Team.select(Team.id).where(Team.name == "华东门店组").first())["id"]
    await Customer.update({Customer.team: east}).where(Customer.id > 0)
    response = await manager.get("/customers/export?format=xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = read_xlsx(response)
    assert rows[0][:3] == ["姓名", "手机号", "邮箱"]
    assert rows[1][0] == "王芳" and rows[1][1] == "13812345678" and rows[1][8] == "VIP"
    assert rows[1][4] == dt.datetime(1990, 5, 17)  # a date cell
    assert rows[1][10] == 0 and float(rows[1][11]) == 0


async def test_formulas_are_neutralised_in_both_formats(signed_in):
    await fields.create_field("note", "=备注", "text")
    for n, name in enumerate(["=HYPERLINK(\"http://x\",\"y\")", "+SUM(A1)", "-2+3", "@cmd", "\tTab", "正常"]):
        customer_id = await add(name, f"1381234567{n}")
        await fields.set_values(customer_id, {"note": "=1+1" if n == 0 else "ok"})
    await Customer.update({Customer.name: "\tTab"}).where(Customer.name == "Tab")  # the form strips it
    await Customer.update({Customer.address: "=cmd|' /C calc'!A0"}).where(Customer.name == "正常")
    admin = await signed_in("boss", "admin", None)
    for fmt, read in (("csv", read_csv), ("xlsx", read_xlsx)):
        rows = read(await admin.get("/customers/export", params={"format": fmt}))
        assert rows[0][-1] == "'=备注"
        names = sorted(r[0] for r in rows[1:])
        assert names == sorted(["'=HYPERLINK(\"http://x\",\"y\")", "'+SUM(A1)", "'-2+3", "'@cmd", "'\tTab", "正常"])
        normal = next(r for r in rows[1:] if r[0] == "正常")
        assert normal[7] == "'=cmd|' /C calc'!A0"
        first = next(r for r in rows[1:] if r[0].startswith("'=HYP"))
        assert first[-1] == "'=1+1"
    book = openpyxl.load_workbook(io.BytesIO((await admin.get("/customers/export?format=xlsx")).content))
    assert all(cell.data_type != "f" for row in book.active.iter_rows() for cell in row)


async def test_filters_pass_through_and_scope_holds(signed_in):
    vip = (await Tag.insert(Tag(name="VIP", created_at=dt.datetime.now(dt.timezone.utc))).returning(Tag.id))[0]["id"]
    await Team.insert(Team(name="华南门店组"))
    manager = await signed_in("chen.mgr", "manager", "华东门店组")
    east = (await Team.select(Team.id).where(Team.name == "华东门店组").first())["id"]
    south = (await Team.select(Team.id).where(Team.name == "华南门店组").first())["id"]
    await add("王芳", "13812345678", tags=["VIP"], team=east)
    await add("王小明", "13812345679", team=east)
    await add("李娜", "13912345678", tags=["VIP"], team=south)

    async def names(**params):
        rows = read_csv(await manager.get("/customers/export", params={"format": "csv", **params}))
        return sorted(r[0] for r in rows[1:])

    assert await names() == ["王小明", "王芳"]  # not the other team's 李娜
    assert await names(tag=str(vip)) == ["王芳"]
    assert await names(q="王小") == ["王小明"]
    assert await names(q="5679") == ["王小明"]
    if export.lifecycle_filter_available():
        assert await names(lifecycle="prospect") == ["王小明", "王芳"]
        assert await names(lifecycle="active") == []


async def test_export_pages_through_the_whole_list(signed_in, monkeypatch):
    monkeypatch.setattr(export, "PAGE", 3)
    for n in range(8):
        await add(f"客户{n}", f"138000000{n:02d}")
    admin = await signed_in("boss", "admin", None)
    rows = read_csv(await admin.get("/customers/export?format=csv"))
    assert [r[0] for r in rows[1:]] == [f"客户{n}" for n in reversed(range(8))]  # newest first
    assert len(read_xlsx(await admin.get("/customers/export?format=xlsx"))) == 9


async def test_export_is_audited_with_filters_and_count_but_no_personal_values(signed_in):
    await add("王芳", "13812345678", tags=["VIP"])
    await add("李娜", "13912345678")
    admin = await signed_in("boss", "admin", None)
    tag_id = (await Tag.select(Tag.id).where(Tag.name == "VIP").first())["id"]
    await admin.get("/customers/export", params={"format": "csv", "q": "13812345678"})
    await admin.get("/customers/export", params={"format": "xlsx", "tag": str(tag_id)})
    entries = await AuditEntry.select().where(AuditEntry.action == "customer.export").order_by(
        AuditEntry.id).output(load_json=True)
    assert [e["detail"] for e in entries] == [
        {"format": "csv", "filters": {"q": "digits"}, "rows": 1},
        {"format": "xlsx", "filters": {"tag_id": tag_id}, "rows": 1},
    ]
    assert all(e["actor"] == "boss" and e["actor_id"] == admin.user_id for e in entries)
    assert "13812345678" not in str(entries)


async def test_staff_get_403_and_bad_input_is_refused(signed_in):
    staff = await signed_in("li.na", "staff", "华东门店组")
    for url in ("/customers/export", "/customers/export?format=csv", "/customers/export?format=xlsx"):
        assert (await staff.get(url)).status_code == 403
    assert "/customers/export" not in (await staff.get("/customers")).text
    assert await AuditEntry.count().where(AuditEntry.action == "customer.export") == 0
    admin = await signed_in("boss", "admin", None)
    assert (await admin.get("/customers/export?format=pdf")).status_code == 422
    assert (await admin.get("/customers/export?format=csv&tag=abc")).status_code == 422
    assert (await admin.get("/customers/export?format=csv&lifecycle=vip")).status_code == 422
    if not export.lifecycle_filter_available():  # refused, never ignored (that would export everyone)
        assert (await admin.get("/customers/export?format=csv&lifecycle=active")).status_code == 422


async def test_export_page_offers_the_filters_and_both_formats(signed_in):
    await add("王芳", "13812345678", tags=["VIP"])
    tag_id = (await Tag.select(Tag.id).where(Tag.name == "VIP").first())["id"]
    admin = await signed_in("boss", "admin", None)
    listing = await admin.get("/customers", params={"q": "王", "tag": str(tag_id)})
    assert 'href="/customers/export" hx-boost="true" hx-include="#q, #tag, #lifecycle"' in listing.text
    page = await admin.get(f"/customers/export?q=王&tag={tag_id}", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and "<html" in page.text
    assert 'name="format" value="csv"' in page.text and 'name="format" value="xlsx"' in page.text
    assert f'<option value="{tag_id}" selected>VIP</option>' in page.text
    assert 'value="王"' in page.text


def test_neutralise_and_mobile_cells():
    cells = ("=1", "+1", "-1", "-2+3", "+SUM(A1)", "+86 138 1234 5678", "@a", "\t", "\rx", "a=1", 5, None)
    assert [neutralise(v) for v in cells] == [
        "'=1", "+1", "-1", "'-2+3", "'+SUM(A1)", "+86 138 1234 5678", "'@a", "'\t", "'\rx", "a=1", 5, None]
    assert export.export_mobile("+8613812345678") == "13812345678"
    assert export.export_mobile("+447911123456") == "00447911123456"
    assert export.export_mobile(None) == ""
