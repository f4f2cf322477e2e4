"""web/core/timeline_entries.py writes exactly what components/timeline.html's timeline_entry
macro wrote (issue 12): every kind of entry, with and without its optional parts, in both
languages and two time zones, with text that needs escaping."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest
from markupsafe import Markup

from web.core import i18n
from web.core.templating import env, shop_labels, shop_module
from web.core.timeline_entries import timeline_entry_html

OLD = (Path(__file__).parent / "old_timeline_macros.html").read_text()
AT = [dt.datetime(2026, 12, 1, 8, 30, tzinfo=dt.timezone.utc), dt.datetime(2025, 1, 31, 23, 59, 59, 123456, tzinfo=dt.timezone.utc)]
NASTY = 'Tom & "Jerry" <b>'


def _entries():
    for at, status, channel, first, count in itertools.product(
            AT, ["paid", "refunded", "cancelled", "odd<x>"], ["tmall", "store", "other&"], ["面霜", "", NASTY], [0, 1, 3]):
        yield dict(kind="order", at=at, first_item=first, item_count=count, quantity=count, channel=channel,
                   external_id="T<1>", status=status, total_fen=1234567, currency="CNY")
    yield dict(kind="order", at=AT[0], first_item="x", item_count=2, quantity=2, channel="jd",
               external_id=None, status="paid", total_fen=-50, currency="USD")
    for kind, outcome, staff, next_on in itertools.product(
            ["call", "visit", "message", "note", "other"], [None, "", "reached", "no_answer", "legacy <o>"],
            [None, "", "王芳", NASTY], [None, dt.date(2026, 12, 3)]):
        yield dict(kind="interaction", at=AT[1], interaction_kind=kind, body=NASTY, outcome=outcome,
                   next_follow_up_on=next_on, staff_name=staff)
    for kind, code, outcome, staff, nxt in itertools.product(
            ["call", "after_sales", "odd"], [None, "", "interested", "x"], [None, "", "will order <Fri>"],
            [None, "李"], [None, 7]):
        yield dict(kind="follow_up", at=AT[0], follow_up_kind=kind, title=NASTY, outcome=outcome,
                   outcome_code=code, due_at=AT[1], next_follow_up=nxt, staff_name=staff)
    for name, moved, actor in itertools.product(
            ["", "张三", NASTY], [{}, {"order": 1}, {"order": 3, "interaction": 1, "customer_tag": 2,
                                                    "customer_field_value": 1, "follow_up": 2, "follow_up_plan": 1,
                                                    "merge_record": 1, "other<t>": 4}], [None, "", "admin"]):
        yield dict(kind="merge", at=AT[0], merged_name=name, merged_id=42, moved=moved, actor=actor)
    for change, from_code, from_name, to_code, to_name, staff in itertools.product(
            ["created", "moved"], [None, "lead", "custom"], [None, "", "我的<阶段>"], ["won", "quoted", "x"],
            [None, "Deal & co"], [None, NASTY]):
        yield dict(kind="stage_change", at=AT[1], change_kind=change, opportunity_id=5, title=NASTY,
                   from_code=from_code, from_name=from_name, to_code=to_code, to_name=to_name,
                   amount_fen=990000, staff_name=staff)
    yield dict(kind="ticket", at=AT[0])


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York"])
def test_timeline_entry_writes_what_the_macro_wrote(lang, zone):
    i18n.activate(lang)
    i18n.activate_zone(zone, "Asia/Shanghai")
    try:
        old = env.from_string(OLD).module
        entries = list(_entries())
        assert len(entries) > 300
        for e in entries:
            new = timeline_entry_html(e, shop_labels())
            assert isinstance(new, Markup)
            assert new == old.timeline_entry(e), e
        # what the card's template calls is this function
        assert shop_module("components/timeline.html").timeline_entry(entries[0]) == old.timeline_entry(entries[0])
    finally:
        i18n.activate(i18n.DEFAULT)
        i18n.activate_zone(None, "Asia/Shanghai")
