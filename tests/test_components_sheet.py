"""bottom_sheet_html (web/core/components.py) writes exactly what components/bottom_sheet.html's
macro wrote (issue 12), with and without a `{% call %}` body, in both languages, in the app's own
environment (trim_blocks, lstrip_blocks, autoescape)."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from web.core import i18n
from web.core.templating import env

# The macro as it was in components/bottom_sheet.html.
OLD = """{%- from "components/icons.html" import icon -%}
{%- macro bottom_sheet(id, title, open=False) -%}
<dialog class="sheet" id="{{ id }}" aria-labelledby="{{ id }}-title"{% if open %} open{% endif %}>
  <div class="sheet-handle" aria-hidden="true"></div>
  <div class="sheet-header">
    <h2 class="sheet-title" id="{{ id }}-title">{{ title }}</h2>
    <button type="button" class="btn btn-ghost btn-icon" data-close-sheet aria-label="{{ _('Close') }}">{{ icon('close') }}</button>
  </div>
  <div class="sheet-body">
    {%- if caller is defined %}{{ caller() }}{% endif -%}
  </div>
</dialog>
{%- endmacro -%}
"""

# How pages use it: a call block with a body (blocks and text inside), or a plain call.
PAGE = """{% from SHEET import bottom_sheet %}
{% call bottom_sheet(sid, title, open=is_open) %}
{% block inner %}
<form id="f">{{ body }}</form>
{% endblock %}
{% endcall %}
{% call bottom_sheet("empty", title) %}{% endcall %}
[{{ bottom_sheet(sid, title, is_open) }}]
"""


@pytest.fixture(scope="module")
def templates():
    old = env.from_string(OLD)
    new = env.get_template("components/bottom_sheet.html")
    return (env.from_string(PAGE, globals={"SHEET": old}), env.from_string(PAGE, globals={"SHEET": new}))


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("is_open", [False, True, None, "yes"])
def test_bottom_sheet(templates, lang, is_open):
    i18n.activate(lang)
    try:
        old, new = templates
        for sid, title, body in [("log-sheet", "记一笔", "x"), ('a"<b>', "Tom & <Jerry>", Markup("<b>ok</b>")),
                                 ("s", Markup("<i>T</i>"), "<script>")]:
            values = {"sid": sid, "title": title, "is_open": is_open, "body": body}
            assert new.render(values) == old.render(values)
        assert ("关闭" if lang == "zh-CN" else "Close") in new.render(values)
    finally:
        i18n.activate(i18n.DEFAULT)
