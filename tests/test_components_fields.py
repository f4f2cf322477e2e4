"""The form fields in web/core/components.py write exactly what components/field.html's macros
wrote (issue 12), in the app's own environment (trim_blocks, lstrip_blocks, autoescape)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from markupsafe import Markup

from web.core.components import checkbox_html, field_html, select_html, textarea_html
from web.core.templating import env

OLD = (Path(__file__).parent / "old_field_macros.html").read_text()

@pytest.fixture(scope="module")
def old():
    return env.from_string(OLD).module

ATTRS = [{}, {"id": "x-1"}, {"class": "big"}, {"hx-get": "/a?b=1&c=2", "autofocus": True, "off": False,
         "none": None, "class": "c"}, {"id": 'q"', "data-x": Markup("<b>")}]
TEXT = ["", None, "Zhang <Wei> & co", Markup("<i>ok</i>"), 0, 12.5]

@pytest.mark.parametrize("attrs", ATTRS)
def test_field(old, attrs):
    for value, hint, error, required in itertools.product(TEXT, [None, "Hint & <b>"], [None, "Bad <x>"], [False, True]):
        for type_ in ("text", "password", "number"):
            kw = dict(value=value, type=type_, error=error, required=required, hint=hint, attrs=attrs)
            assert field_html("items[0].name x", "Name & <n>", **kw) == old.field("items[0].name x", "Name & <n>", **kw)
    kw = dict(autocomplete="tel", inputmode="numeric", placeholder="138 <x>", attrs=attrs)
    assert field_html("mobile", "M", **kw) == old.field("mobile", "M", **kw)
    assert field_html("mobile", "M") == old.field("mobile", "M")

@pytest.mark.parametrize("attrs", ATTRS)
def test_textarea(old, attrs):
    for value, hint, error, required in itertools.product(TEXT, [None, "H"], [None, "E"], [False, True]):
        kw = dict(value=value, error=error, required=required, hint=hint, placeholder=hint, rows=5, attrs=attrs)
        assert textarea_html("note", "Note", **kw) == old.textarea("note", "Note", **kw)
    assert textarea_html("note", "Note") == old.textarea("note", "Note")

@pytest.mark.parametrize("attrs", ATTRS)
def test_select(old, attrs):
    options = [("", "none"), (1, "One & <1>"), ("2", Markup("<b>2</b>")), (None, "n")]
    for value, hint, error, required, ph in itertools.product([None, 1, "1", "2", "", 3], [None, "H"], [None, "E"],
                                                             [False, True], [None, "Pick <one>"]):
        kw = dict(value=value, error=error, required=required, hint=hint, placeholder=ph, attrs=attrs)
        assert select_html("s", "S", options, **kw) == old.select("s", "S", options, **kw)
    assert select_html("s", "S", []) == old.select("s", "S", [])

@pytest.mark.parametrize("attrs", ATTRS)
def test_checkbox(old, attrs):
    for checked, hint, error, value in itertools.product([False, True], [None, "H"], [None, "E"], ["1", "a&b"]):
        kw = dict(checked=checked, error=error, hint=hint, value=value, attrs=attrs)
        assert checkbox_html("c", "C <x>", **kw) == old.checkbox("c", "C <x>", **kw)

def test_undefined_values_render_like_the_macros(old):
    undefined = env.undefined(name="missing")
    assert field_html("a", "A", value=undefined) == old.field("a", "A", value=undefined)
    assert textarea_html("a", "A", value=undefined, error=undefined) == old.textarea("a", "A", value=undefined,
                                                                                     error=undefined)
