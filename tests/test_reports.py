"""The reports: each report's figures against a direct computation from the store, per scope
and channel; the PDF (page counter and shop name on every page, escaping, a fetcher that
loads nothing outside our static files), the XLSX's numbers, the CLI and the web pages."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections import defaultdict
from decimal import Decimal

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from pypdf import PdfReader

from db.actor import Actor
from db.audit.tables import AuditEntry
from db.clock import now
from db.customers.scope import Scope
from db.engine import as_date, as_datetime, raw
from db.figures import cohorts, loyalty, structure
from db.figures.filters import make_filter
from db.figures.key import key_figures
from db.figures.period import Period, shop_today, shop_zone
from db.figures.report_sql import month_labels
from db.members import membership
from db.orders.ingest import ingest_order, parse_order
from db.followups.tables import FollowUp
from db.staff.accounts import create_user, ensure_team
from tests.conftest import PASSWORD
from reports import render
from reports.build import build, likely_slow
from reports.registry import REPORTS
from reports.shop import Shop

ACTOR = Actor(None, "test")


async def _order(mobile, ext, days_ago, total="100.00", channel="tmall", status="paid", name="客户"):
    placed = now() - dt.timedelta(days=days_ago)
    parsed = parse_order({"channel": channel, "external_id": ext, "status": status, "total": total,
                          "customer": {"mobile": mobile, "name": name}, "placed_at": placed.isoformat()})
    return (await ingest_order(parsed, ACTOR))[1]


async def shop_fixture():
    """Two teams' customers with orders over 14 months in three channels and two provinces,
    a refund, and members with points."""
    a = await ensure_team("华东门店组")
    b = await ensure_team("华南门店组")
    plan = [
        # mobile, team, province, city, orders: (days ago, total, channel[, status])
        ("13800000001", a, "浙江省", "杭州市", [(400, "80.00", "tmall"), (160, "120.00", "tmall"), (20, "35.50", "jd")]),
        ("13800000002", a, "浙江省", "宁波市", [(150, "99.90", "jd"), (120, "10.00", "jd"), (5, "60.00", "tmall")]),
        ("13800000003", a, "上海市", "上海市", [(90, "300.00", "douyin")]),
        ("13800000004", b, "广东省", "广州市", [(170, "45.00", "tmall"), (100, "45.00", "tmall"), (40, "45.00", "tmall")]),
        ("13800000005", b, "广东省", "深圳市", [(60, "500.00", "jd", "refunded"), (30, "20.00", "jd")]),
        ("13800000006", b, "", "", [(10, "12.34", "tmall")]),
        ("13800000007", None, "浙江省", "杭州市", [(200, "70.00", "douyin"), (75, "70.00", "douyin")]),
    ]
    ids = {}
    for i, (mobile, team, province, city, orders) in enumerate(plan):
        for j, spec in enumerate(orders):
            days, total, channel = spec[:3]
            status = spec[3] if len(spec) > 3 else "paid"
            cid = await _order(mobile, f"X{i}-{j}", days, total, channel, status)
        ids[mobile] = cid
        await raw("UPDATE customer SET team = {}, province = {}, city = {} WHERE id = {}",
                  team, province, city, cid)
    for mobile in ("13800000001", "13800000004"):
        await membership.join(ids[mobile], "staff", ACTOR)
    await _order("13800000001", "M1", 3, "900.00", "tmall")  # a member's order earns points
    people = {}
    for username, role, team in (("li.lei", "staff", "华东门店组"), ("zhang.wei", "manager", "华东门店组"),
                                 ("chen.jing", "staff", "华南门店组")):
        people[username] = await create_user(username, PASSWORD, role, team, display_name=username)
    t = now()
    for who, cid, due_days, status, done_days in (
        ("li.lei", ids["13800000001"], 10, "done", 11),   # on time
        ("li.lei", ids["13800000002"], 8, "done", 2),     # late
        ("li.lei", ids["13800000002"], 3, "open", None),  # overdue
        ("li.lei", ids["13800000003"], -5, "open", None),  # due later: not yet due
        ("chen.jing", ids["13800000004"], 20, "done", 20),
        ("chen.jing", ids["13800000005"], 1, "open", None),
    ):
        await FollowUp.insert(FollowUp(
            customer=cid, assignee=people[who], title="回访", status=status,
            due_at=t - dt.timedelta(days=due_days), created_at=t, updated_at=t,
            done_at=None if done_days is None else t - dt.timedelta(days=done_days)))
    return {"a": a, "b": b, "ids": ids, "people": people}


def _period(days: int = 180) -> Period:
    today = shop_today()
    return Period(today - dt.timedelta(days=days - 1), today)


async def _orders():
    rows = await raw('SELECT o.customer, o.channel, o.placed_at, o.status, o.total_fen, c.team, '
                     'c.owner, c.province, c.city FROM "order" o JOIN customer c ON c.id = o.customer')
    for r in rows:
        r["placed_at"] = as_datetime(r["placed_at"])
    return rows


def _in_scope(row, filt) -> bool:
    scope = filt.customer_scope
    return scope.kind == "all" or (scope.kind == "team" and row["team"] == scope.team_id)


def _filters(fx):
    return [make_filter(Scope.everything()), make_filter(Scope.everything(), "tmall"),
            make_filter(Scope("team", 1, fx["a"])), make_filter(Scope.everything(), None, fx["b"])]


def _month(t: dt.datetime) -> str:
    return t.astimezone(shop_zone()).strftime("%Y-%m")


async def test_cohorts_match_a_direct_computation():
    fx = await shop_fixture()
    period = _period(300)
    start, end = period.bounds()
    for filt in _filters(fx):
        paid = [o for o in await _orders() if o["status"] == "paid" and _in_scope(o, filt)
                and (not filt.channel or o["channel"] == filt.channel) and o["placed_at"] < end]
        by_customer = defaultdict(list)
        for o in paid:
            by_customer[o["customer"]].append(o["placed_at"])
        expected = defaultdict(lambda: defaultdict(set))
        for cid, times in by_customer.items():
            first = min(times)
            if first >= start:
                for t in times:
                    expected[_month(first)][_month(t)].add(cid)
        got = await cohorts.monthly_cohorts(period, filt)
        assert [c.month for c in got][0] == period.start.strftime("%Y-%m")
        for c in got:
            months = expected.get(c.month, {})
            assert c.size == len(months.get(c.month, ())), (filt, c)
            for k, n in enumerate(c.returned, start=1):
                y, m = divmod(int(c.month[:4]) * 12 + int(c.month[5:]) - 1 + k, 12)
                later = f"{y:04d}-{m + 1:02d}"
                if later > period.end.strftime("%Y-%m"):
                    assert n is None
                else:
                    assert n == len(months.get(later, ())), (filt, c, k)
        assert sum(c.size for c in got) == sum(1 for ts in by_customer.values() if min(ts) >= start)


async def test_structure_matches_a_direct_computation():
    fx = await shop_fixture()
    period = _period(180)
    start, end = period.bounds()
    for filt in _filters(fx):
        rows = [o for o in await _orders() if _in_scope(o, filt) and o["status"] == "paid"
                and (not filt.channel or o["channel"] == filt.channel)]
        inside = [o for o in rows if start <= o["placed_at"] < end]
        chans = defaultdict(lambda: [set(), 0, 0])
        provs = defaultdict(lambda: [set(), 0, 0])
        for o in inside:
            for key, acc in ((o["channel"], chans), (o["province"], provs)):
                acc[key][0].add(o["customer"])
                acc[key][1] += 1
                acc[key][2] += o["total_fen"]
        got = {r["channel"]: (r["customers"], r["orders"], r["sales_fen"])
               for r in await structure.channels(period, filt)}
        assert got == {k: (len(v[0]), v[1], v[2]) for k, v in chans.items()}
        got = {r["province"]: (r["customers"], r["orders"], r["sales_fen"])
               for r in await structure.provinces(period, filt)}
        assert got == {k: (len(v[0]), v[1], v[2]) for k, v in provs.items()}
        first = {}
        for o in rows:
            first[o["customer"]] = min(first.get(o["customer"], o["placed_at"]), o["placed_at"])
        split = await structure.new_and_returning(period, filt)
        buyers = {o["customer"] for o in inside}
        new = {c for c in buyers if first[c] >= start}
        assert split["new"].customers == len(new)
        assert split["returning"].customers == len(buyers - new)
        assert split["new"].sales_fen + split["returning"].sales_fen == sum(o["total_fen"] for o in inside)
        assert split["new"].sales_fen == sum(o["total_fen"] for o in inside if o["customer"] in new)
        series, by_channel = await structure.sales_over_time(period, filt)
        assert [r["label"] for r in series] == month_labels(period)  # 180 days: per month
        assert sum(r["sales_fen"] for r in series) == sum(o["total_fen"] for o in inside)
        for r in series:
            assert r["orders"] == sum(1 for o in inside if _month(o["placed_at"]) == r["label"])
        assert {r["channel"]: (r["orders"], r["sales_fen"]) for r in by_channel} == \
            {k: (v[1], v[2]) for k, v in chans.items()}


async def test_rfm_grid_counts_current_scores():
    fx = await shop_fixture()
    filt = make_filter(Scope("team", 1, fx["a"]))
    rows = await raw("SELECT rfm_r, rfm_f, team FROM customer WHERE rfm_r > 0")
    expected = defaultdict(int)
    for r in rows:
        if r["team"] == fx["a"]:
            expected[(r["rfm_r"], r["rfm_f"])] += 1
    got = await structure.rfm_grid(filt)
    assert {k: v["customers"] for k, v in got.items()} == dict(expected)


async def test_loyalty_tier_moves_and_expiry_forecast_match_the_ledger():
    fx = await shop_fixture()
    period = _period(30)
    filt = make_filter(Scope.everything())
    start, end = period.bounds()
    changes = await raw("SELECT x.at, x.from_tier, x.to_tier FROM tier_change x")
    inside = [c for c in changes if start <= as_datetime(c["at"]) < end]
    moves = await loyalty.tier_moves(period, filt)
    assert sum(m["count"] for m in moves) == len(inside) > 0
    assert sum(m["count"] for m in moves if m["direction"] == "join") == \
        sum(1 for c in inside if c["from_tier"] is None)
    today = shop_today()
    lots = await raw("SELECT remaining, expires_on, member FROM points_lot WHERE remaining > 0")
    forecast = await loyalty.expiry_forecast(filt, today)
    assert len(forecast) == 12 and forecast[0]["month"] == today.strftime("%Y-%m")
    months = {r["month"] for r in forecast}
    expected = defaultdict(int)
    for lot in lots:
        day = as_date(lot["expires_on"])
        if day and day >= today and day.strftime("%Y-%m") in months:
            expected[day.strftime("%Y-%m")] += int(lot["remaining"])
    assert {r["month"]: r["points"] for r in forecast if r["points"]} == dict(expected)
    # team B's member only
    only_b = await loyalty.expiry_forecast(make_filter(Scope.everything(), None, fx["b"]), today)
    assert sum(r["points"] for r in only_b) <= sum(r["points"] for r in forecast)


@pytest.mark.parametrize("name", list(REPORTS))
async def test_each_report_builds_with_key_figures_from_the_store(name):
    fx = await shop_fixture()
    period = _period(180)
    for filt in _filters(fx)[:3]:
        report = REPORTS[name]
        data = await report.data(period, filt)
        assert data["has_data"] is True
        figures = {f["key"]: f for f in data["figures"]}
        keys = await key_figures(period, filt)
        for key, f in figures.items():
            if key in keys:  # the dashboard's figures, defined once
                expected = keys[key]
                assert f["value"] == (None if expected.no_data else expected.value), key
        rows = [o for o in await _orders() if _in_scope(o, filt) and o["status"] == "paid"
                and (not filt.channel or o["channel"] == filt.channel)]
        s, e = period.bounds()
        inside = [o for o in rows if s <= o["placed_at"] < e]
        if "sales_fen" in figures:
            assert figures["sales_fen"]["value"] == sum(o["total_fen"] for o in inside)
        if "orders" in figures:
            assert figures["orders"]["value"] == len(inside)
        if "buyers" in figures:
            assert figures["buyers"]["value"] == len({o["customer"] for o in inside})


async def test_followups_per_person_match_a_direct_computation():
    fx = await shop_fixture()
    period = _period(30)
    data = await REPORTS["followups"].data(period, make_filter(Scope("team", fx["people"]["zhang.wei"], fx["a"])))
    rows = {r["name"]: r for r in data["tables"]["people"]["rows"]}
    assert "chen.jing" not in rows  # another team's person
    li = rows["li.lei"]
    assert (li["due"], li["done_on_time"], li["done_late"], li["overdue"]) == (3, 1, 1, 1)
    assert li["on_time_rate"] == 333
    own = await REPORTS["followups"].data(period, make_filter(Scope("own", fx["people"]["chen.jing"], fx["b"])))
    assert [r["name"] for r in own["tables"]["people"]["rows"]] == ["chen.jing"]
    assert data["tables"]["people"]["total"]["due"] == sum(r["due"] for r in rows.values())


def _pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


async def test_pdf_has_the_counter_and_the_shop_on_every_page(monkeypatch):
    await shop_fixture()
    built = await build("customers", _period(180), make_filter(Scope.everything()), "pdf")
    pages = _pages_text(built.content)
    assert built.pages == len(pages) >= 2
    assert built.media_type == "application/pdf"
    assert built.filename == f"客户结构_{_period(180).start}_{_period(180).end}.pdf"
    for n, text in enumerate(pages, start=1):
        compact = re.sub(r"\s+", "", text)
        assert f"第{n}页/共{len(pages)}页" in compact, text
        assert "ShopCRM" in compact and "客户结构" in compact
        assert str(_period(180).start) in text


async def test_hostile_names_are_escaped_and_nothing_is_fetched(monkeypatch):
    fx = await shop_fixture()
    hostile = "<script>alert(1)</script><img src=x>"
    await raw("UPDATE customer SET province = {}, city = {} WHERE id = {}",
              "<img src=x>", "url(file:///etc/passwd)", fx["ids"]["13800000002"])

    async def hostile_shop():
        return Shop(hostile + "店", None)

    monkeypatch.setattr("reports.build.shop", hostile_shop)
    fetched = []
    real = render.fetch

    def spy(url):
        fetched.append(url)
        return real(url)

    monkeypatch.setattr(render, "fetch", spy)
    period, filt = _period(180), make_filter(Scope.everything())
    report = REPORTS["customers"]
    from reports.build import context

    ctx = await context(report, period, filt, await report.data(period, filt))
    html = render.document(report.template, ctx)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x&gt;" in html
    built = await build("customers", period, filt, "pdf")
    text = _pages_text(built.content)
    assert all("<script>alert(1)</script>" in t for t in text)
    assert fetched and all(u.startswith(render.STATIC_PREFIX) for u in fetched), fetched
    assert "url(file:///etc/passwd)" in "".join(text)  # printed as text, never loaded


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "http://127.0.0.1:8000/admin", "https://example.com/x.png",
    render.STATIC_PREFIX + "../../../../etc/passwd", render.STATIC_PREFIX + "%2e%2e/db/settings.py",
    "https://report.invalid/db/settings.py",
])
def test_the_fetcher_refuses_everything_but_our_static_files(url):
    with pytest.raises(render.FetchRefused):
        render.fetch(url)


def test_the_fetcher_reads_our_stylesheet_and_data_uris():
    body, mime = render.fetch(render.STATIC_PREFIX + "css/report.css?v=1")
    assert b"@page" in body and mime == "text/css"
    assert render.fetch("data:image/png;base64,iVBORw0KGgo=")[1] == "image/png"


def test_a_document_naming_outside_urls_renders_without_them(monkeypatch):
    tried = []
    real = render.fetch

    def spy(url):
        tried.append(url)
        return real(url)

    monkeypatch.setattr(render, "fetch", spy)
    pdf, pages = render.pdf('<html><head><style>body{background:url(http://127.0.0.1:1/x.png)}</style>'
                            '</head><body><img src="file:///etc/passwd"><p>正文</p></body></html>')
    assert pages == 1 and b"root:" not in pdf
    assert "file:///etc/passwd" in tried and "http://127.0.0.1:1/x.png" in tried


def _fen(yuan) -> int:
    """A money cell read back (a float with two decimals) in fen, exactly."""
    return int(Decimal(str(yuan)) * 100)


async def test_xlsx_numbers_equal_the_pdf_data():
    await shop_fixture()
    period, filt = _period(180), make_filter(Scope.everything())
    data = await REPORTS["customers"].data(period, filt)
    built = await build("customers", period, filt, "xlsx")
    assert built.pages is None and built.filename.endswith(".xlsx")
    book = load_workbook(io.BytesIO(built.content), read_only=True)
    sheets = {ws.title: [row for row in ws.iter_rows(values_only=True)] for ws in book.worksheets}
    figures = sheets["关键指标"]
    by_label = {}
    for row in figures:  # the figures first, the definitions (same labels) after them
        if row and row[0]:
            by_label.setdefault(row[0], row)
    assert by_label["购买客户"][1] == next(f["value"] for f in data["figures"] if f["key"] == "buyers")
    sales = next(f["value"] for f in data["figures"] if f["key"] == "sales_fen")
    assert _fen(by_label["销售额"][1]) == sales
    channels = sheets["渠道"]
    header = channels.index(("渠道", "购买客户", "订单", "销售额"))
    body = channels[header + 1: header + 1 + len(data["tables"]["channels"]["rows"])]
    for row, want in zip(body, data["tables"]["channels"]["rows"]):
        assert row[1:3] == (want["customers"], want["orders"]) and _fen(row[3]) == want["sales_fen"]
    assert "天猫" in [r[0] for r in body]


async def test_an_empty_shop_gets_an_honest_report():
    period, filt = _period(30), make_filter(Scope.everything())
    for name in REPORTS:
        built = await build(name, period, filt, "pdf")
        text = "".join(_pages_text(built.content))
        assert "暂无数据" in re.sub(r"\s+", "", text), name
        assert (await build(name, period, filt, "xlsx")).content[:2] == b"PK"


async def test_ten_years_builds_and_is_recorded_in_the_audit_log():
    await shop_fixture()
    today = shop_today()
    period = Period(today.replace(year=today.year - 10), today)
    built = await build("retention", period, make_filter(Scope.everything()), "pdf", actor="admin")
    assert built.pages >= 2
    entry = await AuditEntry.select().where(AuditEntry.action == "report.generated").output(load_json=True).first()
    assert entry["actor"] == "admin" and entry["detail"]["report"] == "retention"
    assert entry["detail"]["from"] == period.start.isoformat() and entry["detail"]["pages"] == built.pages
    assert await likely_slow("retention", period, make_filter(Scope.everything())) is False


def run(*args):
    return CliRunner().invoke(__import__("web.cli", fromlist=["main"]).main, list(args))


def test_cli_writes_pdf_and_xlsx_and_refuses_bad_input(tmp_path):
    today = shop_today()
    start = (today - dt.timedelta(days=29)).isoformat()
    out = tmp_path / "概览.pdf"
    ok = run("report", "summary", "--from", start, "--to", today.isoformat(), "--out", str(out))
    assert ok.exit_code == 0, ok.output
    assert str(out) in ok.output and "(1 pages)" in ok.output and out.read_bytes()[:4] == b"%PDF"
    xlsx = tmp_path / "r.xlsx"
    ok = run("report", "retention", "--from", start, "--to", today.isoformat(), "--out", str(xlsx))
    assert ok.exit_code == 0 and xlsx.read_bytes()[:2] == b"PK"
    for args, message in [
        (("report", "nope", "--from", start, "--to", today.isoformat(), "--out", str(out)), "no report named"),
        (("report", "summary", "--from", "2026-02-30", "--to", today.isoformat(), "--out", str(out)), "--from"),
        (("report", "summary", "--from", today.isoformat(), "--to", start, "--out", str(out)), "before its start"),
        (("report", "summary", "--from", start, "--to", today.isoformat(), "--out", str(tmp_path / "x.doc")), ".pdf or .xlsx"),
        (("report", "summary", "--from", start, "--to", today.isoformat(), "--team", "abc", "--out", str(out)), "--team"),
    ]:
        result = run(*args)
        assert result.exit_code != 0 and message in result.output, (args, result.output)


async def test_the_shop_profile_names_every_report_and_its_logo_is_a_data_uri(monkeypatch):
    from reports import shop as shop_module

    class Profile:
        name = "  <b>王记</b>旗舰店 "
        logo = b"\x89PNG..."  # the bytes; the report takes the data: URI
        logo_data_uri = "data:image/png;base64,iVBORw0KGgo="

    async def shop_profile():
        return Profile()

    monkeypatch.setattr(shop_module, "shop_profile", shop_profile)
    got = await shop_module.shop()
    assert got == Shop("<b>王记</b>旗舰店", "data:image/png;base64,iVBORw0KGgo=")
    Profile.logo_data_uri = "javascript:alert(1)"
    assert (await shop_module.shop()).logo is None
    Profile.name = "  "
    assert (await shop_module.shop()).name == "Shop CRM"


async def test_likely_slow_by_customers_cities_and_years(monkeypatch):
    from reports import build as build_module

    await shop_fixture()
    everyone, month = make_filter(Scope.everything()), _period(30)
    assert not any([await likely_slow(name, month, everyone) for name in REPORTS])
    monkeypatch.setattr(build_module, "SLOW_CITIES", 3)  # the fixture has 6 (province, city) pairs
    assert await likely_slow("customers", month, everyone) is True
    monkeypatch.setattr(build_module, "SLOW_CUSTOMERS", 5)  # 7 customers
    assert await likely_slow("summary", month, everyone) is True
    assert await likely_slow("summary", month, make_filter(Scope.everything(), None, await ensure_team("华东门店组"))) is False


async def test_a_long_table_repeats_its_header_on_every_page_and_never_splits_a_row(monkeypatch):
    await shop_fixture()

    async def many_cities(period, filt, limit=structure.MAX_CITIES):
        return [{"province": "浙江省", "city": f"城{i:03d}", "customers": i, "orders": i,
                 "sales_fen": i * 100} for i in range(1, 181)]

    monkeypatch.setattr(structure, "cities", many_cities)
    built = await build("customers", _period(180), make_filter(Scope.everything()), "pdf")
    pages = [re.sub(r"\s+", "", t) for t in _pages_text(built.content)]
    with_cities = [i for i, t in enumerate(pages) if "城001" in t or re.search(r"城\d{3}", t)]
    assert len(with_cities) >= 3
    for i in with_cities:
        assert "省份城市购买客户订单销售额" in pages[i], i  # the header row, again
    seen = [int(n) for t in pages for n in re.findall(r"城(\d{3})", t)]
    assert seen == list(range(1, 181))  # every row once, in order: none split across pages
