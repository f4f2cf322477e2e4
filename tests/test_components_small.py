"""stat_html, tag_badge_html and flash_messages_html (web/core/components.py) write exactly what
components/stat.html, tag_badge.html and flash.html's macros wrote (issue 12), in both
languages, in the app's own environment."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest
from markupsafe import Markup

from web.core import i18n
from web.core.components import flash_messages_html, stat_html, tag_badge_html
from web.core.templating import env

# The macros as they were.
OLD = """{%- from "components/icons.html" import icon -%}
{%- macro stat(label, value, hint=None, href=None, tone=None) -%}
<{{ 'a' if href else 'div' }} class="stat"{% if href %} href="{{ href }}"{% endif %}>
  <span class="stat-label">{{ label }}</span>
  <span class="stat-value">{{ value }}</span>
  {%- if hint %}<span class="stat-hint{{ ' text-' ~ tone if tone in ('green', 'red', 'amber') }}">{{ hint }}</span>{% endif %}
</{{ 'a' if href else 'div' }}>
{%- endmacro -%}
{%- macro tag_badge(tag) -%}
{%- set tone = tag.color if tag.color in ('neutral', 'blue', 'green', 'amber', 'red', 'purple') else 'neutral' -%}
{%- if tag.rule -%}
<span class="badge badge-{{ tone }} badge-rule" title="{{ _('Rule tag: kept up to date by its rule') }}">{{ icon('sparkle') }}{{ tag.name }}<span class="sr-only"> ({{ _("rule tag") }})</span></span>
{%- else -%}
<span class="badge badge-{{ tone }}">{{ tag.name }}</span>
{%- endif -%}
{%- endmacro -%}
{%- macro flash_messages(items, oob=False) -%}
<div id="flashes" class="flashes" role="status"{% if oob %} hx-swap-oob="true"{% endif %}>
  {%- for level, message in items or [] %}
  {%- set lv = level if level in ('success', 'error', 'info') else 'info' %}
  <div class="flash flash-{{ lv }}">{{ icon({'success': 'check', 'error': 'alert', 'info': 'info'}[lv]) }}<div class="flash-text">{{ message }}</div><button type="button" class="flash-close" data-dismiss aria-label="{{ _('Dismiss') }}">{{ icon('close') }}</button></div>
  {%- endfor -%}
</div>
{%- endmacro -%}
"""
NASTY = 'Tom & "Jerry" <b>'


@pytest.fixture(params=["zh-CN", "en"])
def old(request):
    i18n.activate(request.param)
    yield env.from_string(OLD).module
    i18n.activate(i18n.DEFAULT)


def test_stat(old):
    for label, value, hint, href, tone in itertools.product(
            ["订单", NASTY], [3, "¥1.00", Markup("<b>1</b>"), None, ""], [None, "", "424 天前", NASTY],
            [None, "", "/customers?a=1&b=2"], [None, "green", "red", "amber", "blue"]):
        assert stat_html(label, value, hint, href, tone) == old.stat(label, value, hint, href, tone)
        assert stat_html(label, value, hint=hint) == old.stat(label, value, hint=hint)
    assert stat_html("a", 1) == old.stat("a", 1)


def test_tag_badge(old):
    for name, color, rule in itertools.product(["VIP", NASTY], [None, "blue", "purple", "pink<x>"],
                                               [None, False, True, "{}", ""]):
        tag = {"id": 1, "name": name, "color": color, "rule": rule}
        assert tag_badge_html(tag) == old.tag_badge(tag)
        obj = SimpleNamespace(**tag)
        assert tag_badge_html(obj) == old.tag_badge(obj)


def test_flash_messages(old):
    for items in [None, [], [("success", "已保存")], [("error", NASTY), ("info", Markup("<b>x</b>")),
                                                       ("warning", "w"), ("success", "")]]:
        for oob in (False, True):
            assert flash_messages_html(items, oob) == old.flash_messages(items, oob)
        assert flash_messages_html(items) == old.flash_messages(items)
