"""web/core/components.py writes exactly what the Jinja macros it replaced wrote (issue 12)."""

from __future__ import annotations

import jinja2
import pytest
from markupsafe import Markup

from web.core.components import ALIAS, PATHS, avatar_html, badge_html, icon_svg, list_row_html, logo_svg

# The macros as they were in components/icons.html, avatar.html and badge.html.
OLD = """
{%- macro icon(name, label=None, cls='') -%}
<svg class="icon{{ ' ' ~ cls if cls }}" viewBox="0 0 24 24" width="24" height="24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" {% if label %}role="img" aria-label="{{ label }}"{% else %}aria-hidden="true" focusable="false"{% endif %}>{{ _paths.get(_alias.get(name, name), _paths['info'])|safe }}</svg>
{%- endmacro -%}
{%- macro logo(size=32) -%}
<svg class="logo" viewBox="0 0 64 64" width="{{ size }}" height="{{ size }}" aria-hidden="true" focusable="false"><rect width="64" height="64" rx="15" fill="#4F46E5"/><path d="M41.6 20.5A15 15 0 1 0 41.6 43.5" fill="none" stroke="#fff" stroke-width="7" stroke-linecap="round"/><circle cx="45" cy="32" r="4.5" fill="#fff"/></svg>
{%- endmacro -%}
{%- macro avatar(name, size='md') -%}
{%- set n = ((name or '')|string|trim) or '?' -%}
{%- set ns = namespace(h=7) -%}
{%- for b in n.encode('utf-8') %}{% set ns.h = (ns.h * 31 + b) % 1000003 %}{% endfor -%}
<span class="avatar avatar-{{ ns.h % 8 }}{{ ' avatar-' ~ size if size in ('sm', 'lg') }}" aria-hidden="true">{{ n[0]|upper }}</span>
{%- endmacro -%}
{%- macro list_row(href, title, subtitle='', meta='', avatar=None, badges=[]) -%}
<a class="row" href="{{ href }}">
  {%- if avatar %}{{ avatar_circle(avatar) }}{% endif %}
  <span class="row-main">
    <span class="row-title"><span class="row-title-text">{{ title }}</span>{% for text, tone in badges %}{{ badge(text, tone) }}{% endfor %}</span>
    {%- if subtitle %}<span class="row-subtitle">{{ subtitle }}</span>{% endif %}
  </span>
  {%- if meta %}<span class="row-meta">{{ meta }}</span>{% endif %}
  <span class="row-chevron">{{ icon('chevron-right') }}</span>
</a>
{%- endmacro -%}
{%- set avatar_circle = avatar -%}
{%- macro badge(text, tone='neutral') -%}
<span class="badge badge-{{ tone if tone in ('neutral', 'blue', 'green', 'amber', 'red', 'purple') else 'neutral' }}">{{ text }}</span>
{%- endmacro -%}
"""


@pytest.fixture(scope="module")
def old():
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(_paths=PATHS, _alias=ALIAS)
    return env.from_string(OLD).module


@pytest.mark.parametrize("name", [*PATHS, *ALIAS, "no-such-icon"])
def test_icon(old, name):
    for args in [(), (None, ""), ("Call <Zhang> & co",), (Markup("<b>x</b>"),),
                 (None, "big"), ("A", 'x" onload="y'), (None, Markup("a&amp;b"))]:
        assert icon_svg(name, *args) == old.icon(name, *args)
        assert icon_svg(name, *args) == icon_svg(name, *args)  # the cached answer is the same
    assert icon_svg(name, cls="x") == old.icon(name, cls="x")
    assert icon_svg(name, label="L") == old.icon(name, label="L")


def test_logo(old):
    for size in (32, 56, "1<2"):
        assert logo_svg(size) == old.logo(size)
    assert logo_svg() == old.logo()


def test_avatar(old):
    for name in ["王芳", "alice", "  bob ", "", None, "<x>", "ß", "Ǆemal", Markup("&amp;x"), 12]:
        for size in ("md", "sm", "lg", "xl"):
            assert avatar_html(name, size) == old.avatar(name, size)
        assert avatar_html(name) == old.avatar(name)


def test_badge(old):
    for text in ["VIP", "<i>", Markup("<b>ok</b>"), 3]:
        for tone in ("neutral", "blue", "green", "amber", "red", "purple", "pink", None):
            assert badge_html(text, tone) == old.badge(text, tone)
        assert badge_html(text) == old.badge(text)


def test_list_row(old):
    for args, kw in [
        (("/customers/1", "王芳"), {}),
        (("/customers/2?a=1&b=<2>", "<Li>"), {"subtitle": "138****0000 · 杭州", "meta": "昨天下单",
                                             "avatar": "Li", "badges": [("VIP", "purple"), ("<x>", "pink")]}),
        (("/c", Markup("<b>A</b>")), {"subtitle": "", "meta": Markup("&amp;"), "avatar": "",
                                      "badges": []}),
        (("/c", "B"), {"avatar": "  ", "badges": [(Markup("<i>t</i>"), "green")]}),
    ]:
        assert list_row_html(*args, **kw) == old.list_row(*args, **kw)
