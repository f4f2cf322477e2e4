"""The card's timeline: orders, interactions and merges in one newest-first list, paged by a
(time, rank, id) cursor, in a fixed number of queries, inside the caller's scope."""

import datetime as dt
import json
import re

import pytest

from db.customers import timeline
from db.customers.scope import Scope
from db.actor import Actor
from db.customers.profile import parse_customer
from db.customers.service import upsert_customer
from db.customers.tables import Customer, Interaction, MergeRecord
from db.errors import NotFound
from db.orders.tables import Order
from db.staff.tables import Team

EVERYONE = Scope.everything()
T0 = dt.datetime(2025, 6, 1, 8, 0, tzinfo=dt.timezone.utc)


async def customer(name="王芳", mobile="13812345678", team=None) -> int:
    cid = (await upsert_customer(parse_customer({"name": name, "mobile": mobile}), Actor(None, "t")))[0]
    if team:
        await Customer.update({Customer.team: team}).where(Customer.id == cid)
    return cid


async def add_order(cid, at, external_id, total_fen=19900, items=None, status="paid") -> int:
    rows = await Order.insert(Order(
        channel="tmall", external_id=external_id, customer=cid, placed_at=at, status=status,
        total_fen=total_fen, currency="CNY", created_at=at, updated_at=at,
        items=json.dumps(items if items is not None else [{"sku": "A", "name": "保湿面霜", "qty": 1, "price": "199.00"}]),
    )).returning(Order.id)
    return rows[0]["id"]


async def add_interaction(cid, at, body, kind="call", outcome="", follow_up=None) -> int:
    rows = await Interaction.insert(Interaction(
        customer=cid, kind=kind, body=body, outcome=outcome, next_follow_up_on=follow_up,
        happened_at=at, created_at=at)).returning(Interaction.id)
    return rows[0]["id"]


async def add_merge(cid, at, name="王芳(旧)") -> int:
    rows = await MergeRecord.insert(MergeRecord(
        survivor=cid, merged_id=999, merged_snapshot=json.dumps({"name": name}, ensure_ascii=False),
        moved=json.dumps({"tables": {"order": [1, 2], "interaction": [3], "customer_tag": []}}),
        actor="boss", merged_at=at)).returning(MergeRecord.id)
    return rows[0]["id"]


def keys(entries):
    return [(e["kind"], e["id"]) for e in entries]


async def walk(cid, limit):
    seen, cursor, pages = [], None, 0
    while True:
        entries, cursor = await timeline.timeline_page(EVERYONE, cid, cursor, limit=limit)
        pages += 1
        seen += entries
        if cursor is None:
            return seen, pages
        assert len(entries) == limit


async def test_sources_merge_newest_first_with_ties_broken_by_kind_then_id():
    cid = await customer()
    same = T0 + dt.timedelta(hours=5)
    o_old = await add_order(cid, T0, "TM-1")
    i_new = await add_interaction(cid, T0 + dt.timedelta(hours=9), "最新的回访")
    o_tie = await add_order(cid, same, "TM-2")
    i_tie1 = await add_interaction(cid, same, "同一时间 1")
    i_tie2 = await add_interaction(cid, same, "同一时间 2")
    m_tie = await add_merge(cid, same)
    entries, more = await timeline.timeline_page(EVERYONE, cid)
    assert more is None
    assert keys(entries) == [
        ("interaction", i_new),
        ("merge", m_tie), ("interaction", i_tie2), ("interaction", i_tie1), ("order", o_tie),
        ("order", o_old),
    ]
    assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)
    assert all(e["at"].tzinfo is not None for e in entries)


async def test_pages_cover_every_entry_once_in_order_across_sources_and_ties():
    cid = await customer()
    other = await customer("李娜", "13912345678")
    expected = []
    for i in range(25):  # pairs and triples share a time, so ties straddle page edges
        at = T0 + dt.timedelta(minutes=i // 3)
        if i % 3 == 0:
            expected.append(("order", await add_order(cid, at, f"TM-{i}"), at))
        elif i % 3 == 1:
            expected.append(("interaction", await add_interaction(cid, at, f"记录 {i}"), at))
        else:
            expected.append(("merge", await add_merge(cid, at), at))
    await add_order(other, T0, "OTHER-1")  # another customer's order never shows
    await add_interaction(other, T0, "别人的")
    rank = {"order": 1, "interaction": 2, "merge": 3}
    expected.sort(key=lambda k: (k[2], rank[k[0]], k[1]), reverse=True)
    for limit in (1, 2, 4, 7, 20):
        seen, pages = await walk(cid, limit)
        assert keys(seen) == [(k, i) for k, i, _ in expected], limit
        assert pages == -(-len(expected) // limit)


async def test_an_entry_logged_while_paging_neither_repeats_nor_hides_another():
    cid = await customer()
    for i in range(6):
        await add_interaction(cid, T0 + dt.timedelta(minutes=i), f"记录 {i}")
    first, cursor = await timeline.timeline_page(EVERYONE, cid, limit=3)
    await add_interaction(cid, T0 + dt.timedelta(hours=1), "新记录")  # newest: belongs on page 1
    second, cursor = await timeline.timeline_page(EVERYONE, cid, cursor, limit=3)
    assert [e["body"] for e in first + second] == [f"记录 {i}" for i in range(5, -1, -1)]
    assert cursor is None


async def test_entries_carry_what_the_card_shows():
    cid = await customer()
    await add_order(cid, T0, "TM-9", total_fen=129950, items=[
        {"sku": "A", "name": "保湿面霜", "qty": 2, "price": "399.00"},
        {"sku": "B", "name": "洁面乳", "qty": 1, "price": "99.00"}])
    await add_interaction(cid, T0 + dt.timedelta(hours=1), "到店试用", kind="visit",
                          outcome="interested", follow_up=dt.date(2025, 6, 8))
    await add_merge(cid, T0 + dt.timedelta(hours=2), name="王芳 (天猫)")
    merge, visit, order = (await timeline.timeline_page(EVERYONE, cid))[0]
    assert (order["first_item"], order["item_count"], order["quantity"]) == ("保湿面霜", 2, 3)
    assert (order["total_fen"], order["status"], order["external_id"]) == (129950, "paid", "TM-9")
    assert (visit["interaction_kind"], visit["outcome"]) == ("visit", "interested")
    assert visit["next_follow_up_on"] == dt.date(2025, 6, 8)
    assert merge["merged_name"] == "王芳 (天猫)" and merge["moved"] == {"order": 2, "interaction": 1}


async def test_a_page_takes_the_same_few_queries_however_long_the_history(monkeypatch):
    cid = await customer()
    calls = []
    real_raw = timeline.raw

    async def counting(sql, *args):
        calls.append(sql)
        return await real_raw(sql, *args)

    monkeypatch.setattr(timeline, "raw", counting)
    counts = []
    for n in (5, 40):
        for i in range(n):
            at = T0 + dt.timedelta(days=len(counts) * 100, minutes=i)
            await add_order(cid, at, f"TM-{len(counts)}-{i}")
            await add_interaction(cid, at, "x")
            await add_merge(cid, at)
        calls.clear()
        await timeline.timeline_page(EVERYONE, cid)
        counts.append(len(calls))
    assert counts == [4, 4]  # one UNION ALL of the sources, then one detail read per source


async def test_out_of_scope_customer_is_not_found_and_a_foreign_cursor_reads_page_one():
    await Team.insert(Team(name="华东门店组"), Team(name="华南门店组"))
    east, south = [r["id"] for r in await Team.select(Team.id).order_by(Team.id)]
    cid = await customer(team=south)
    await add_interaction(cid, T0, "华南的记录")
    with pytest.raises(NotFound):
        await timeline.timeline_page(Scope("team", 1, east), cid)
    with pytest.raises(NotFound):
        await timeline.timeline_page(EVERYONE, cid + 100)
    for junk in ("", "abc", "1.2", "9" * 60, "-5.1.1", "1.-1.1", "99999999999999999999.1.1"):
        entries, _ = await timeline.timeline_page(EVERYONE, cid, junk)
        assert [e["body"] for e in entries] == ["华南的记录"], junk


async def test_cursor_round_trips_exactly():
    at = dt.datetime(2025, 6, 1, 8, 0, 0, 123456, tzinfo=dt.timezone.utc)
    cursor = timeline.Cursor(at, 2, 42)
    assert timeline.Cursor.decode(cursor.encode()) == cursor
    assert re.fullmatch(r"\d+\.\d\.\d+", cursor.encode())


async def test_timeline_route_pages_as_a_fragment_and_as_a_page_without_javascript(signed_in):
    admin = await signed_in("boss", "admin", None)
    cid = await customer()
    for i in range(25):
        await add_interaction(cid, T0 + dt.timedelta(minutes=i), f"记录第{i}条")
    card = (await admin.get(f"/customers/{cid}")).text
    assert card.count('class="timeline-item') == 20 and "记录第24条" in card and "记录第4条" not in card
    more = re.search(r'hx-get="(/customers/\d+/timeline\?after=[^"]+)"', card).group(1)
    fragment = await admin.get(more, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert fragment.text.count('class="timeline-item') == 5 and "记录第4条" in fragment.text
    assert "记录第0条" in fragment.text and "hx-get=" not in fragment.text  # last page: no sentinel
    assert "HX-Request" in fragment.headers["vary"]
    page = await admin.get(more)  # the "Show older" link without JavaScript
    assert page.status_code == 200 and "<html" in page.text and "记录第0条" in page.text
    assert "记录第24条" not in page.text


async def test_timeline_route_is_404_outside_the_scope(signed_in):
    me = await signed_in("li.na", "staff", "华东门店组")
    await Team.insert(Team(name="华南门店组"))
    south = (await Team.select(Team.id).where(Team.name == "华南门店组").first())["id"]
    cid = await customer(team=south)
    await add_interaction(cid, T0, "华南的记录")
    for headers in ({}, {"HX-Request": "true"}):
        response = await me.get(f"/customers/{cid}/timeline", headers=headers)
        assert response.status_code == 404 and "华南的记录" not in response.text
