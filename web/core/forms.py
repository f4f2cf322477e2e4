"""The one way a form is read: a list of `Field`s in, the text people typed (capped), typed
values and per-field errors out.

The reader only turns text into Python values (str, int, fen, bool, a choice, an id); the
rules (ranges, required together, uniqueness) stay in db/, whose functions raise
ValidationFailed. Domain functions that parse text themselves get `form.text`, so the web
form and the API share their messages; the typed `form.values` are for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Request

from db.engine import parse_id
from db.money import parse_money
from web.core.i18n import field_errors

# How each kind reads its text; text, textarea, date and hidden stay text; note and fixed
# (a value shown that cannot change) are no input.
KINDS = ("text", "textarea", "number", "money", "date", "choice", "checkbox", "id", "hidden", "note", "fixed")


@dataclass(frozen=True)
class Field:
    """One form field. `label`, `hint` and `placeholder` are msgids (mark them with N_ or
    write them in a `_()` the extractor sees); templates translate them when shown.

    `choices` are (value, label msgid) pairs of a choice field; `options` names a context
    key holding them instead (a list only known per request, e.g. coupon types). `attrs`
    go onto the control (maxlength, inputmode, autocomplete, …); `group`, `show`, `when` and
    `unless` only shape the settings form (see web/templates/settings/form.html)."""

    name: str
    label: str = ""
    kind: str = "text"
    max_length: int = 2000
    required: bool = False
    hint: str = ""
    placeholder: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    options: str = ""
    style: str = ""  # a choice as "segmented" buttons, "chips" or "radios"; else a select
    attrs: dict[str, Any] = field(default_factory=dict)
    group: str = ""  # consecutive fields of one group share a block (settings_area.Group)
    show: str = ""  # a CSS class that shows the field only for some other choice (e.g. only-amount)
    when: str = ""  # the name of a context flag the field needs to be shown (e.g. "is_new")
    unless: str = ""  # the name of a context flag that hides the field

    @property
    def input_mode(self) -> str | None:
        return self.attrs.get("inputmode") or {"number": "numeric", "money": "decimal"}.get(self.kind)

    @property
    def control_attrs(self) -> dict[str, Any]:
        """`attrs` without what the field macros take as arguments of their own."""
        return {k: v for k, v in self.attrs.items() if k not in ("inputmode", "rows", "hint_empty")}


@dataclass
class ReadForm:
    text: dict[str, str]
    values: dict[str, Any]
    errors: dict[str, str]

    @property
    def ok(self) -> bool:
        return not self.errors


def _typed(f: Field, text: str, errors: dict[str, str]) -> Any:
    if f.kind == "checkbox":  # our checkboxes send value="1"; nothing else means ticked
        return text == "1"
    cleaned = text.strip()
    if f.kind in ("text", "textarea", "hidden", "date"):
        if f.required and not cleaned:
            errors[f.name] = "required"
        return text
    if not cleaned:
        if f.required:
            errors[f.name] = "required"
        return None
    if f.kind == "number":
        digits = cleaned.replace(",", "")
        if not digits.lstrip("-").isdigit() or len(digits) > 12:
            errors[f.name] = "a whole number"
            return None
        return int(digits)
    if f.kind == "money":
        try:
            return parse_money(cleaned)
        except ValueError as exc:
            errors[f.name] = str(exc)
            return None
    if f.kind == "id":
        found = parse_id(cleaned)
        if found is None:
            errors[f.name] = "not one of the options"
        return found
    if f.kind == "choice":
        if f.choices and cleaned not in {value for value, _label in f.choices}:
            errors[f.name] = "not one of the options"
            return None
        return cleaned
    raise ValueError(f"unknown field kind {f.kind!r}")


def read(form, fields: tuple[Field, ...] | list[Field]) -> ReadForm:
    """A submitted form (a FormMultiDict or a dict) read by `fields`: a missing field is
    empty text, each is cut to its `max_length`, and the errors come translated, as
    `field_errors` gives them."""
    text: dict[str, str] = {}
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields:
        if f.kind in ("note", "fixed"):  # words or a value that cannot change: no input
            continue
        raw = form.get(f.name, "")
        text[f.name] = ("" if raw is None else str(raw))[:f.max_length]
        values[f.name] = _typed(f, text[f.name], errors)
    return ReadForm(text, values, field_errors(errors))


async def read_form(request: Request, fields: tuple[Field, ...] | list[Field]) -> ReadForm:
    """The request's form read by `fields` (the request refuses control characters first)."""
    return read(await request.form(), fields)


def texts(*names: str, max_length: int = 2000) -> tuple[Field, ...]:
    """Plain text fields by name: for a form whose domain function parses the text itself."""
    return tuple(Field(name, max_length=max_length) for name in names)
