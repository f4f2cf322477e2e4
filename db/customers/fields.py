"""Custom fields: the fields an admin adds to every customer, and their values.

Values are stored as text in one canonical form per kind (numbers as plain decimals, dates as
ISO dates), so the import, the card, the API, exports and rule tags all read and compare the
same thing. An empty value is no row at all.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from db.clock import now
from db.customers.tables import FIELD_KINDS, CustomerFieldValue, CustomField
from db.engine import is_unique_violation, raw, writing
from db.errors import NotFound, ValidationFailed

MAX_FIELDS = 50
MAX_TEXT = 500
MAX_CHOICES = 50
KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d")


def _row(field: dict) -> dict:
    choices = field.get("choices") or "[]"
    return {**field, "choices": json.loads(choices) if isinstance(choices, str) else choices}


async def list_fields() -> list[dict]:
    # Raw SQL: the card and the edit form read it every time (Piccolo's select cost 0.2 ms).
    rows = await raw(
        'SELECT id, "key", label, kind, choices, position FROM custom_field ORDER BY position, id LIMIT {}',
        MAX_FIELDS,
    )
    return [_row(r) for r in rows]


def parse_date(text: str) -> dt.date:
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError("a date like 2024-03-05")


def clean_value(field: dict, value: Any) -> str:
    """The canonical text for a value of this field; "" clears it. ValueError says why not."""
    if value is None:
        return ""
    if isinstance(value, bool):
        raise ValueError("must be text")
    if isinstance(value, (dt.datetime, dt.date)):
        value = (value.date() if isinstance(value, dt.datetime) else value).isoformat()
    text = str(value).strip()
    if not text:
        return ""
    kind = field["kind"]
    if kind == "number":
        try:
            number = Decimal(text.replace(",", ""))
        except InvalidOperation as exc:
            raise ValueError("a number like 12.5") from exc
        if not number.is_finite() or abs(number) >= Decimal(10) ** 12:
            raise ValueError("a number like 12.5")
        if number.as_tuple().exponent < -4:
            raise ValueError("at most four decimal places")
        return format(number.normalize(), "f") if number != 0 else "0"
    if kind == "date":
        return parse_date(text).isoformat()
    if kind == "choice":
        if text not in field["choices"]:
            raise ValueError("not one of the options")
        return text
    if len(text) > MAX_TEXT:
        raise ValueError(f"at most {MAX_TEXT} characters")
    return text


async def values_for(customer_ids: list[int]) -> dict[int, dict[str, str]]:
    if not customer_ids:
        return {}
    marks = ", ".join("{}" for _ in customer_ids)
    rows = await raw(
        "SELECT v.customer, f.key, v.value FROM customer_field_value v "
        f"JOIN custom_field f ON f.id = v.field WHERE v.customer IN ({marks})",
        *customer_ids,
    )
    out: dict[int, dict[str, str]] = {}
    for row in rows:
        out.setdefault(row["customer"], {})[row["key"]] = row["value"]
    return out


async def set_values(customer_id: int, values: dict[str, Any]) -> list[str]:
    """Set fields by key; all are validated before anything is written. Returns changed keys.

    The caller has checked the customer is in scope and usually holds a write transaction.
    """
    fields = {f["key"]: f for f in await list_fields()}
    errors: dict[str, str] = {}
    cleaned: dict[str, str] = {}
    for key, value in values.items():
        field = fields.get(key)
        if field is None:
            errors[f"custom.{key}"] = "no such custom field"
            continue
        try:
            cleaned[key] = clean_value(field, value)
        except ValueError as exc:
            errors[f"custom.{key}"] = str(exc)
    if errors:
        raise ValidationFailed(errors)
    if not cleaned:
        return []
    async with writing():
        current = (await values_for([customer_id])).get(customer_id, {})
        changed = [k for k, v in cleaned.items() if current.get(k, "") != v]
        for key in changed:
            field_id, value = fields[key]["id"], cleaned[key]
            where = (CustomerFieldValue.customer == customer_id) & (CustomerFieldValue.field == field_id)
            if not value:
                await CustomerFieldValue.delete().where(where)
            elif key in current:
                await CustomerFieldValue.update({CustomerFieldValue.value: value}).where(where)
            else:
                await CustomerFieldValue.insert(
                    CustomerFieldValue(customer=customer_id, field=field_id, value=value)
                )
    return changed


# ---------------------------------------------------------------- defining fields (admins)


def _parse_choices(kind: str, choices: Any, errors: dict) -> list[str]:
    if kind != "choice":
        return []
    if isinstance(choices, str):
        choices = re.split(r"[\n,，、]+", choices)
    if not isinstance(choices, list):
        errors["choices"] = "a list of options"
        return []
    cleaned = list(dict.fromkeys(str(c).strip() for c in choices if str(c).strip()))
    if not cleaned:
        errors["choices"] = "at least one option"
    elif len(cleaned) > MAX_CHOICES or any(len(c) > 60 for c in cleaned):
        errors["choices"] = f"at most {MAX_CHOICES} options of up to 60 characters"
    return cleaned


def _parse_label(label: Any, errors: dict) -> str:
    label = str(label or "").strip()
    if not label:
        errors["label"] = "required"
    elif len(label) > 60:
        errors["label"] = "at most 60 characters"
    return label


async def create_field(key: str, label: str, kind: str, choices: Any = None) -> int:
    errors: dict[str, str] = {}
    key = str(key or "").strip().lower()
    if not KEY.match(key):
        errors["key"] = "lowercase letters, digits and _, starting with a letter"
    label = _parse_label(label, errors)
    if kind not in FIELD_KINDS:
        errors["kind"] = f"one of {', '.join(FIELD_KINDS)}"
    parsed = _parse_choices(kind, choices, errors)
    if errors:
        raise ValidationFailed(errors)
    try:
        async with writing():
            if await CustomField.count() >= MAX_FIELDS:
                raise ValidationFailed({"key": f"at most {MAX_FIELDS} custom fields"})
            if await CustomField.exists().where(CustomField.key == key):
                raise ValidationFailed({"key": "a field with this key already exists"})
            last = await raw("SELECT COALESCE(MAX(position), 0) AS p FROM custom_field")
            rows = await CustomField.insert(
                CustomField(key=key, label=label, kind=kind, choices=json.dumps(parsed, ensure_ascii=False),
                            position=last[0]["p"] + 1, created_at=now())
            ).returning(CustomField.id)
    except Exception as exc:
        if is_unique_violation(exc):
            raise ValidationFailed({"key": "a field with this key already exists"}) from exc
        raise
    return rows[0]["id"]


async def _field(field_id: int) -> dict:
    row = await CustomField.select().where(CustomField.id == field_id).first()
    if row is None:
        raise NotFound()
    return _row(row)


async def update_field(field_id: int, label: str, choices: Any = None) -> None:
    """Label and options only: the key and kind stay, so stored values keep their meaning."""
    field = await _field(field_id)
    errors: dict[str, str] = {}
    label = _parse_label(label, errors)
    parsed = _parse_choices(field["kind"], choices, errors)
    if errors:
        raise ValidationFailed(errors)
    async with writing():
        await CustomField.update(
            {CustomField.label: label, CustomField.choices: json.dumps(parsed, ensure_ascii=False)}
        ).where(CustomField.id == field_id)


async def delete_field(field_id: int) -> None:
    await _field(field_id)
    async with writing():
        await CustomField.delete().where(CustomField.id == field_id)  # values cascade


async def move_field(field_id: int, delta: int) -> None:
    """Swap a field with its neighbour above (delta -1) or below (+1)."""
    fields = await list_fields()
    index = next((i for i, f in enumerate(fields) if f["id"] == field_id), None)
    if index is None:
        raise NotFound()
    other = index + (1 if delta > 0 else -1)
    if not 0 <= other < len(fields):
        return
    order = [f["id"] for f in fields]
    order[index], order[other] = order[other], order[index]
    async with writing():
        for position, fid in enumerate(order, start=1):
            await CustomField.update({CustomField.position: position}).where(CustomField.id == fid)
