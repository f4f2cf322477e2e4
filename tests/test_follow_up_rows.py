"""web/core/follow_up_rows.py writes exactly what components/follow_up_row.html's macro wrote
(issue 12): every option, both languages, two time zones, text that needs escaping."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest
from markupsafe import Markup

from web.core import i18n
from web.core.follow_up_rows import follow_up_row_html
from web.core.templating import env, shop_labels, shop_module

OLD = (Path(__file__).parent / "old_follow_up_row.html").read_text()
DUE = dt.datetime(2026, 12, 1, 8, 30, tzinfo=dt.timezone.utc)
NASTY = 'Tom & "Jerry" <b>'


def _rows():
    for priority, kind, remind, state, plan, assignee, note in itertools.product(
            ["high", "normal", None], ["call", "visit", "message", "after_sales", "odd"], [None, DUE],
            ["pending", "sent"], [False, True], [None, "", "李"], [None, "", NASTY]):
        yield dict(id=7, priority=priority, kind=kind, title=NASTY, customer_name="王<芳>", due_at=DUE,
                   remind_at=remind, reminder_state=state, plan_active=plan, assignee_name=assignee, note=note)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/Los_Angeles"])
def test_follow_up_row_writes_what_the_macro_wrote(lang, zone):
    i18n.activate(lang)
    i18n.activate_zone(zone, "Asia/Shanghai")
    try:
        old = env.from_string(OLD).module
        labels = shop_labels()
        rows = list(_rows())
        for f in rows:
            for when, show, select, origin in itertools.product(
                    ["date", "time", "overdue"], [True, False], [False, True], ["today", "card"]):
                new = follow_up_row_html(f, labels, when, show, select, origin)
                assert isinstance(new, Markup)
                assert new == old.follow_up_row(f, when=when, show_customer=show, select=select, origin=origin), f
        # what the templates call is this function, with the macro's defaults
        row = shop_module("components/follow_up_row.html").follow_up_row
        assert row(rows[0]) == old.follow_up_row(rows[0])
        assert row(rows[1], when="overdue", select=True) == old.follow_up_row(rows[1], when="overdue", select=True)
    finally:
        i18n.activate(i18n.DEFAULT)
        i18n.activate_zone(None, "Asia/Shanghai")
