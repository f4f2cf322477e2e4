"""web/core/points_entries.py writes exactly what the card's member section wrote for its
latest points entries (issue 12): every kind, reasons of orders, rules and staff, actors of
every sort, both languages, two time zones, text that needs escaping."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from markupsafe import Markup

from web.core import i18n
from web.core.points_entries import points_entry_html, points_reason_html
from web.core.templating import env, shop_labels

# The loop of web/templates/members/_card_section.html as it was (and labels.points_reason).
OLD = """{%- set labels = shop_labels() -%}
{%- macro entries(items) -%}
  <div class="card"><ul class="member-entries">
    {% for e in items %}
    <li class="member-entry">
      <span class="member-entry-main">
        <span class="member-entry-title">{{ labels.points_kinds.get(e.kind, e.kind) }}{% if e.reason %} · {{ labels.points_reason(e) }}{% endif %}</span>
        <span class="muted small">{{ e.created_at|local_datetime }}{% if e.actor %} · {{ e.actor|actor_label }}{% endif %}</span>
      </span>
      <span class="member-entry-delta num {{ 'is-plus' if e.delta > 0 else 'is-minus' }}">{{ "%+d"|format(e.delta) }}</span>
    </li>
    {% endfor %}
  </ul></div>
{%- endmacro -%}
{%- macro reason(e) %}{{ labels.points_reason(e) }}{% endmacro -%}
"""
NEW = """{%- macro entries(items) -%}
  <div class="card"><ul class="member-entries">
    {% for e in items %}
    {{ points_entry_html(e) }}
    {% endfor %}
  </ul></div>
{%- endmacro -%}
"""
AT = dt.datetime(2026, 11, 30, 23, 59, tzinfo=dt.timezone.utc)


def _entries():
    reasons = [(None, None), ("", None), ("order", "tmall T-1001"), ("order", "odd<x> 12 & 3"),
               ("order", "nospace"), ("rule", "birthday bonus"), ("rule", "not in the catalogue <b>"),
               (None, 'Goodwill for "late" <delivery> & more'), ("refund", "jd 99")]
    actors = [None, "", "member:M001", "member_page", "nightly", "expiry", "system", "cli",
              "api:shop<1>", "wang.fang"]
    for kind, (source, reason), actor, delta in itertools.product(
            ["earn", "redeem", "expire", "adjust", "reverse", "odd"], reasons, actors, [200, -35, 0]):
        yield dict(id=1, kind=kind, delta=delta, balance_after=500, reason=reason, source_type=source,
                   source_id=None, shortfall=0, actor=actor, created_at=AT)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/London"])
def test_points_entries_write_what_the_loop_wrote(lang, zone):
    i18n.activate(lang)
    i18n.activate_zone(zone, "Asia/Shanghai")
    try:
        old, new = env.from_string(OLD).module, env.from_string(NEW).module
        items = list(_entries())
        assert len(items) > 1000
        for i in range(0, len(items), 7):
            assert new.entries(items[i:i + 7]) == old.entries(items[i:i + 7])
        labels = shop_labels()
        for e in items:
            if e["reason"]:
                assert points_reason_html(e, labels) == old.reason(e)
            assert isinstance(points_entry_html(e, labels), Markup)
        assert new.entries([]) == old.entries([])
    finally:
        i18n.activate(i18n.DEFAULT)
        i18n.activate_zone(None, "Asia/Shanghai")
