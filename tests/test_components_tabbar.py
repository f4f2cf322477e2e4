"""tabbar_html (web/core/components.py) writes exactly what base.html's tabbar block wrote
(issue 12): every tab current or not, badge counts (none, 0, some, 99+), roles, names that need
escaping, both languages, in the app's own environment."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from web.core import i18n
from web.core.components import tabbar_html
from web.core.templating import env

# base.html's block as it was, as a macro.
OLD = """{%- from "components/icons.html" import icon, logo -%}
{%- from "components/avatar.html" import avatar -%}
{%- macro tabbar(user, nav, badge_counts, csrf_token, brand) -%}
{%- if user %}
<nav class="appnav" aria-label="{{ _('Main') }}">
  <a class="appnav-brand" href="/today">{{ logo(32) }}<span>{{ brand }}</span></a>
  <ul class="tabs-nav">
    {%- for key, href, label, ico in [
      ('today', '/today', _('Today'), 'today'),
      ('customers', '/customers', _('Customers'), 'customers'),
      ('members', '/members', _('Members'), 'members'),
      ('campaigns', '/campaigns', _('Campaigns'), 'campaigns'),
      ('dashboard', '/dashboard', _('Dashboard'), 'chart'),
      ('more', '/more', _('More'), 'more'),
    ] if user.role in ('manager', 'admin') or key != 'dashboard' %}
    {%- set count = (badge_counts or {}).get(key) %}
    <li><a class="tab" href="{{ href }}"{% if nav == key %} aria-current="page"{% endif %}>
      <span class="tab-icon">{{ icon(ico) }}</span><span class="tab-label">{{ label }}</span>
      {%- if count %}<span class="tab-count"><span class="sr-only"> (</span>{{ count if count < 100 else '99+' }}<span class="sr-only">)</span></span>{% endif -%}
    </a></li>
    {%- endfor %}
  </ul>
  <div class="appnav-user">
    {{ avatar(user.display_name or user.username, 'sm') }}
    <div class="appnav-user-text">
      <div class="appnav-user-name">{{ user.display_name or user.username }}</div>
      <div class="appnav-user-role">{{ {'admin': _('Admin'), 'manager': _('Manager'), 'staff': _('Staff')}.get(user.role, user.role) }}</div>
    </div>
    <form method="post" action="/logout">
      <input type="hidden" name="_csrf_token" value="{{ csrf_token or '' }}">
      <button type="submit" class="btn btn-ghost btn-icon" aria-label="{{ _('Sign out') }}" title="{{ _('Sign out') }}">{{ icon('logout') }}</button>
    </form>
  </div>
</nav>
{%- endif %}
{%- endmacro -%}
"""

USERS = [SimpleNamespace(display_name="王芳", username="wang.fang", role="staff"),
         SimpleNamespace(display_name="", username="admin", role="admin"),
         SimpleNamespace(display_name='Tom & "Jerry" <b>', username="t", role="manager"),
         SimpleNamespace(display_name=None, username="x<y>", role="auditor")]


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_tabbar_writes_what_the_block_wrote(lang):
    i18n.activate(lang)
    try:
        old = env.from_string(OLD).module
        for user in USERS:
            for nav in (None, "today", "customers", "members", "campaigns", "dashboard", "more", "other"):
                for counts in (None, {}, {"today": 0}, {"today": 3}, {"today": 99, "customers": 100},
                               {"members": 1234, "more": 1}):
                    for csrf, brand in (("", "Shop CRM"), (None, "小王的店"), ("abc-123", "<script>x</script>"),
                                        ('"<x>', "Shop CRM")):
                        assert (tabbar_html(user, nav, counts, csrf, brand)
                                == old.tabbar(user, nav, counts, csrf, brand))
    finally:
        i18n.activate(i18n.DEFAULT)


def test_the_pages_draw_it():
    html = env.get_template("base.html").render(user=USERS[0], nav="today", badge_counts={"today": 2},
                                                csrf_token="tok", lang="zh-CN")
    assert html.count('<nav class="appnav"') == 1
    assert 'aria-current="page"' in html and "王芳" in html and 'value="tok"' in html
    assert '<nav class="appnav"' not in env.get_template("base.html").render(user=None)
