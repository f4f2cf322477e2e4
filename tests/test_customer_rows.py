"""web/customers/rows.row_html writes what customers/list.html's loop wrote (issue 12)."""

from __future__ import annotations

import datetime as dt

import pytest
from markupsafe import Markup

from web.core import i18n
from web.core.templating import env
from web.customers.rows import row_html

OLD = """{% from "components/list_row.html" import list_row %}
{{- list_row("/customers/" ~ row.id, row.name,
                subtitle=([_("has %(digits)s", digits=row.matched_digits), row.mobile_masked] if row.matched_digits else [row.mobile_masked, row.city or row.province])|select|join(" · "),
                meta=_("Ordered %(when)s", when=row.last_order_at|ago) if row.last_order_at else _("No orders"),
                avatar=row.name,
                badges=row.badges) -}}"""

NOW = dt.datetime.now(dt.timezone.utc)
ROWS = [
    {"id": 1, "name": "王芳", "mobile_masked": "138****1111", "city": "杭州", "province": "浙江",
     "matched_digits": None, "last_order_at": NOW, "badges": [("VIP", "amber"), ("<b>", "red")]},
    {"id": 2, "name": "Zhang <Wei> & co", "mobile_masked": "176****4449", "city": "", "province": "上海",
     "matched_digits": "9444", "last_order_at": NOW - dt.timedelta(days=1, hours=1), "badges": []},
    {"id": 3, "name": "李", "mobile_masked": None, "city": "", "province": "",
     "matched_digits": None, "last_order_at": None, "badges": []},
    {"id": 4, "name": "A&B", "mobile_masked": "", "city": "x<y", "province": "",
     "matched_digits": None, "last_order_at": NOW - dt.timedelta(days=5), "badges": [("t", "blue")]},
    {"id": 5, "name": "Old", "mobile_masked": "139****0000", "city": "北京", "province": "北京",
     "matched_digits": "0000", "last_order_at": NOW - dt.timedelta(days=400), "badges": []},
]


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("row", ROWS, ids=[str(r["id"]) for r in ROWS])
def test_row_html_is_the_template_row(row, language):
    i18n.activate(language)
    try:
        assert row_html(row) == Markup(env.from_string(OLD).render(row=row))
    finally:
        i18n.activate(i18n.DEFAULT)
