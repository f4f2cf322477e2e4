"""The dashboard (/dashboard) and the lists behind its figures: page and fragment, presets,
a custom range, bad input next to its field, 403 for another team's figures, the customer and
follow-up lists showing the tile's count, and escaped names."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from litestar.testing import AsyncTestClient

from db.customers.tables import Customer
from db.figures.filters import make_filter
from db.figures.key import key_figures
from db.figures.period import Period
from db.followups.tables import FollowUp
from tests.conftest import BASE_URL, sign_in
from tests.test_figures import NOV, build_shop, scope_of

HX = {"HX-Request": "true"}
COUNT = re.compile(r'id="drill-count">([\d,]+)<')


@pytest.fixture
async def shop(make_user):
    return await build_shop(make_user)


@pytest.fixture
async def as_user(app):
    """A client signed in as an existing user (the shop fixture's)."""
    clients = []

    async def factory(username: str) -> AsyncTestClient:
        c = AsyncTestClient(app=app, base_url=BASE_URL)
        await c.__aenter__()
        clients.append(c)
        assert (await sign_in(c, username)).status_code == 303
        return c

    yield factory
    for c in reversed(clients):
        await c.__aexit__(None, None, None)


def drill_count(html: str) -> int:
    found = COUNT.search(html)
    assert found, html[:2000]
    return int(found.group(1).replace(",", ""))


NOV_QUERY = "from=2026-11-01&to=2026-11-30"


async def test_the_page_and_its_fragment(shop, as_user):
    boss = await as_user("boss")
    page = await boss.get(f"/dashboard?{NOV_QUERY}")
    assert page.status_code == 200 and "<html" in page.text
    assert page.headers["vary"].lower().count("hx-request")
    for key in ("new_customers", "sales_fen", "points_liability_fen", "followups_overdue"):
        assert f'id="tile-{key}"' in page.text
    assert 'href="/dashboard" aria-current="page"' in page.text  # the 看板 tab
    fragment = await boss.get(f"/dashboard?{NOV_QUERY}", headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'id="tile-sales_fen"' in fragment.text and "appnav" not in fragment.text


async def test_the_sales_tile_shows_the_figure_in_yuan_with_its_change(shop, as_user):
    boss = await as_user("boss")
    figures = await key_figures(NOV, make_filter(scope_of(shop, "boss")))
    page = (await boss.get(f"/dashboard?{NOV_QUERY}")).text
    tile = page.split('id="tile-sales_fen"')[1].split("</a>")[0]
    sales = figures["sales_fen"].value
    assert f"¥{sales // 100:,}.{sales % 100:02d}" in tile
    assert ("▲" if figures["sales_fen"].change > 0 else "▼") in tile


@pytest.mark.parametrize("preset,days", [("week", None), ("month", None), ("30d", 30), ("90d", 90)])
async def test_presets_pick_their_days(shop, as_user, preset, days):
    boss = await as_user("boss")
    page = await boss.get(f"/dashboard?preset={preset}")
    assert page.status_code == 200
    period = Period.preset(preset)
    assert f'value="{period.start.isoformat()}"' in page.text
    assert f'value="{period.end.isoformat()}"' in page.text
    assert re.search(rf'href="/dashboard\?preset={preset}"[^>]*aria-current="page"', page.text)
    if days:
        assert period.days == days


async def test_a_custom_range_and_a_channel(shop, as_user):
    boss = await as_user("boss")
    page = await boss.get(f"/dashboard?{NOV_QUERY}&channel=jd")
    assert page.status_code == 200
    figures = await key_figures(NOV, make_filter(scope_of(shop, "boss"), "jd"))
    tile = page.text.split('id="tile-orders"')[1].split("</a>")[0]
    assert f">{figures['orders'].value:,}<" in tile
    assert '<option value="jd" selected' in page.text


@pytest.mark.parametrize("query,field,message", [
    ("from=2026-12-01&to=2026-11-01", "to", "早于"),
    ("from=2026-13-01&to=2026-12-01", "from", "YYYY-MM-DD"),
    ("from=1990-01-01&to=2026-12-01", "from", "2000"),
    ("from=2026-11-01&channel=ebay", "channel", "tmall"),
    ("from=2026-11-01&team=%C2%B2", "team", "团队编号"),  # "²" is a digit to Python's isdigit
])
async def test_bad_input_is_a_message_next_to_its_field(shop, as_user, query, field, message):
    boss = await as_user("boss")
    page = await boss.get(f"/dashboard?{query}")
    assert page.status_code == 422
    error = re.sub(r"<[^>]+>", "", page.text.split(f'id="f-{field}-error"')[1].split("</p>")[0])
    assert message in error, error
    assert 'id="tile-' not in page.text
    fragment = await boss.get(f"/dashboard?{query}", headers=HX)
    assert fragment.status_code == 200 and f'id="f-{field}-error"' in fragment.text


async def test_a_ten_year_range_is_answered(shop, as_user):
    boss = await as_user("boss")
    page = await boss.get("/dashboard?from=2017-01-01&to=2026-12-31")
    assert page.status_code == 200 and 'id="tile-orders"' in page.text


async def test_a_manager_asking_for_another_team_is_refused(shop, as_user):
    manager = await as_user("ma")
    other = shop["team"][shop["users"]["sb"]]
    own = shop["team"][shop["users"]["ma"]]
    assert (await manager.get(f"/dashboard?team={other}")).status_code == 403
    assert (await manager.get(f"/customers?figure=active&team={other}")).status_code == 403
    assert (await manager.get(f"/dashboard/followups?figure=done&team={other}")).status_code == 403
    assert (await manager.get(f"/dashboard?team={own}")).status_code == 200
    staff = await as_user("sa1")
    assert (await staff.get(f"/dashboard?team={other}")).status_code == 403


async def test_staff_see_their_own_figures_from_more_not_a_tab(shop, as_user):
    staff = await as_user("sa1")
    page = await staff.get(f"/dashboard?{NOV_QUERY}")
    assert page.status_code == 200
    assert 'class="tab" href="/dashboard"' not in page.text
    assert "Follow-ups per person" not in page.text and "每人跟进情况" not in page.text
    figures = await key_figures(NOV, make_filter(scope_of(shop, "sa1")))
    tile = page.text.split('id="tile-new_customers"')[1].split("</a>")[0]
    assert f">{figures['new_customers'].value:,}<" in tile
    assert 'href="/dashboard"' in (await staff.get("/more")).text
    manager = await as_user("ma")
    assert 'class="tab" href="/dashboard"' in (await manager.get("/today")).text


@pytest.mark.parametrize("who", ["boss", "ma", "sa1"])
@pytest.mark.parametrize("channel", [None, "tmall"])
async def test_each_customer_tile_opens_a_list_with_its_count(shop, as_user, who, channel):
    client = await as_user(who)
    filt = make_filter(scope_of(shop, who), channel)
    figures = await key_figures(NOV, filt)
    page = (await client.get(f"/dashboard?{NOV_QUERY}" + (f"&channel={channel}" if channel else ""))).text
    expected = {"new_customers": figures["new_customers"].value,
                "active_customers": figures["active_customers"].value,
                "repurchase_rate": figures["repurchase_rate"].part,
                "churn_rate": figures["churn_rate"].part}
    for key, count in expected.items():
        href = re.search(rf'href="([^"]+)"[^>]*id="tile-{key}"', page).group(1).replace("&amp;", "&")
        listed = await client.get(href)
        assert listed.status_code == 200, href
        assert drill_count(listed.text) == count, (key, href)
    assert figures["active_customers"].value > 0 or who != "boss"


async def test_the_list_behind_a_tile_pages_through_exactly_its_customers(shop, as_user):
    boss = await as_user("boss")
    figures = await key_figures(NOV, make_filter(scope_of(shop, "boss")))
    href, seen = f"/customers?figure=active&{NOV_QUERY}", set()
    page = await boss.get(href)
    seen |= set(re.findall(r'href="/customers/(\d+)"', page.text))
    more = re.search(r'hx-get="(/customers\?[^"]*before=\d+)"', page.text)
    while more:
        page = await boss.get(more.group(1).replace("&amp;", "&"), headers=HX)
        seen |= set(re.findall(r'href="/customers/(\d+)"', page.text))
        more = re.search(r'hx-get="(/customers\?[^"]*before=\d+)"', page.text)
    assert len(seen) == figures["active_customers"].value


async def test_lifecycle_and_tier_rows_open_lists_with_their_counts(shop, as_user):
    manager = await as_user("ma")
    page = (await manager.get(f"/dashboard?{NOV_QUERY}&channel=tmall")).text
    rows = re.findall(r'<a class="dash-row" href="(/customers\?[^"]+)"><span>[^<]*</span>'
                      r'<span class="num">([\d,]+)</span>', page)
    assert len(rows) >= 9  # five stages, four tiers
    for href, count in rows:
        listed = await manager.get(href.replace("&amp;", "&"))
        assert drill_count(listed.text) == int(count.replace(",", "")), href


async def test_chart_segments_open_the_same_lists_as_their_rows(shop, as_user):
    manager = await as_user("ma")
    page = (await manager.get(f"/dashboard?{NOV_QUERY}&channel=tmall")).text
    rows = set(re.findall(r'<a class="dash-row" href="(/customers\?[^"]+)">', page))
    segments = set(re.findall(r'<a [^>]*xlink:href="(/customers\?[^"]+)"', page))
    # a segment of nothing draws nothing: every drawn one is a row's list
    assert segments and segments <= rows
    people = re.findall(r'<a [^>]*xlink:href="(/dashboard/followups\?[^"]+)"', page)
    assert people and all("person=" in href for href in people)
    listed = await manager.get(people[0].replace("&amp;", "&"))
    assert listed.status_code == 200


@pytest.mark.parametrize("figure", ["done", "overdue"])
async def test_follow_up_tiles_and_rows_open_the_follow_ups_with_their_count(shop, as_user, figure):
    manager = await as_user("ma")
    figures = await key_figures(NOV, make_filter(scope_of(shop, "ma")))
    page = (await manager.get(f"/dashboard?{NOV_QUERY}")).text
    key = f"followups_{figure}"
    href = re.search(rf'href="([^"]+)"[^>]*id="tile-{key}"', page).group(1).replace("&amp;", "&")
    listed = await manager.get(href)
    assert listed.status_code == 200 and drill_count(listed.text) == figures[key].value
    for person_href in re.findall(rf'href="(/dashboard/followups\?[^"]*figure={figure}[^"]*person=\d+)"', page):
        assert (await manager.get(person_href.replace("&amp;", "&"))).status_code == 200


async def test_an_empty_shop_says_no_data(as_user, make_user):
    await make_user("boss", "admin", None)
    boss = await as_user("boss")
    page = await boss.get("/dashboard")
    assert page.status_code == 200
    assert "这段时间没有订单" in page.text and "暂无数据" in page.text


async def test_names_are_escaped(shop, as_user):
    boss = await as_user("boss")
    cid = shop["customers"][0]["id"]
    await Customer.update({Customer.name: "<script>alert(1)</script>"}).where(Customer.id == cid)
    due = dt.datetime(2026, 11, 10, 2, tzinfo=dt.timezone.utc)
    await FollowUp.insert(FollowUp(customer=cid, assignee=shop["users"]["ma"], title="<b>回访</b>",
                                   status="open", due_at=due, created_at=due, updated_at=due))
    listed = await boss.get(f"/dashboard/followups?figure=overdue&{NOV_QUERY}")
    assert "<script>alert(1)</script>" not in listed.text and "<b>回访" not in listed.text
    assert "&lt;script&gt;" in listed.text
    page = await boss.get("/customers?figure=new&from=2026-08-01&to=2026-12-31")
    assert "<script>alert(1)</script>" not in page.text


async def test_the_customer_list_refuses_a_wrong_figure_link_with_a_message(shop, as_user):
    boss = await as_user("boss")
    page = await boss.get("/customers?figure=active&from=2026-12-01&to=2026-11-01")
    assert page.status_code == 200 and "field-error" in page.text


async def test_an_admin_narrowed_to_a_team_sees_the_manager_s_numbers(shop, as_user):
    boss = await as_user("boss")
    manager = await as_user("ma")
    team = shop["team"][shop["users"]["ma"]]

    def tiles(html):
        return re.findall(r'id="tile-(\w+)">\s*<span class="stat-label">[^<]*</span>\s*'
                          r'<span class="stat-value">([^<]*)<', html)

    a = tiles((await boss.get(f"/dashboard?{NOV_QUERY}&team={team}")).text)
    m = tiles((await manager.get(f"/dashboard?{NOV_QUERY}")).text)
    assert a == m and len(a) == 13


async def test_a_fragment_s_chart_styles_carry_the_nonce_of_the_page_they_join(shop, as_user):
    """The page's CSP is the one the browser applies to a swapped fragment: its charts' <style>
    take the nonce static/js/app.js sends (X-Page-Nonce), and only a nonce-shaped one."""
    boss = await as_user("boss")
    page = await boss.get(f"/dashboard?{NOV_QUERY}", headers={"X-Page-Nonce": "A" * 22})
    own = re.search(r"style-src 'self' 'nonce-([^']+)'", page.headers["content-security-policy"]).group(1)
    assert set(re.findall(r'<style nonce="([^"]+)"', page.text)) == {own}
    fragment = await boss.get(f"/dashboard?{NOV_QUERY}", headers={**HX, "X-Page-Nonce": "A" * 22})
    assert set(re.findall(r'<style nonce="([^"]+)"', fragment.text)) == {"A" * 22}
    odd = await boss.get(f"/dashboard?{NOV_QUERY}", headers={**HX, "X-Page-Nonce": "a' onload='x"})
    assert "onload" not in odd.text
