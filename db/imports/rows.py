"""One file row -> a clean customer record or order (db/orders' OrderInput, the type the API
builds too), or the reasons it is rejected.

Pure functions (no database): the preview and the batch runner both use them, so what the
preview says about a row is exactly what the import will do with it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from db.clock import now
from db.customers import identity
from db.imports import values
from db import spreadsheet
from db.orders.ingest import OrderInput
from db.customers.fields import clean_value

CUSTOMER_TEXT_LIMITS = {"name": 100, "province": 20, "city": 40, "address": 200}


@dataclass
class Context:
    """What a job's rows are read with: the mapping turned into column positions."""

    kind: str
    headers: list[str]
    columns: dict[str, int]  # field -> column index
    custom_fields: dict[str, dict] = field(default_factory=dict)  # key -> field definition
    default_channel: str = ""

    @classmethod
    def build(cls, kind: str, headers: list[str], mapping: dict[str, str],
              custom_fields: list[dict] | None = None, default_channel: str = "") -> "Context":
        columns = {f: headers.index(h) for h, f in mapping.items() if f and h in headers}
        return cls(kind, headers, columns, {f["key"]: f for f in custom_fields or []}, default_channel)

    def cell(self, cells: list, name: str):
        index = self.columns.get(name)
        if index is None or index >= len(cells):
            return None
        value = cells[index]
        return value.strip() if isinstance(value, str) else value

    def header_of(self, name: str) -> str:
        index = self.columns.get(name)
        return self.headers[index] if index is not None else name


@dataclass
class CustomerRecord:
    name: str
    mobile: str | None
    email: str | None
    fields: dict  # the profile fields this row sets (non-empty cells only)
    custom: dict[str, str]  # custom field key -> canonical value (non-empty only)


def reason(ctx: Context, errors: dict[str, str]) -> str:
    """'手机: not a valid mobile number; 生日: not a date like 1990-05-17' (file headers)."""
    parts = []
    for name, message in errors.items():
        label = ctx.header_of(name) if name in ctx.columns else name
        parts.append(f"{label}: {message}")
    return "; ".join(parts)


def _identity(ctx: Context, cells: list, errors: dict) -> tuple[str | None, str | None]:
    mobile = email = None
    try:
        mobile = values.parse_mobile(ctx.cell(cells, "mobile"))
    except ValueError as exc:
        errors["mobile"] = str(exc)
    try:
        email = values.parse_email(ctx.cell(cells, "email"))
    except ValueError as exc:
        errors["email"] = str(exc)
    if not mobile and not email and not errors.keys() & {"mobile", "email"}:
        errors["mobile" if "mobile" in ctx.columns else "email"] = (
            "a mobile number or an e-mail address is required"
        )
    return mobile, email


def parse_customer(ctx: Context, cells: list) -> tuple[CustomerRecord | None, dict[str, str]]:
    errors: dict[str, str] = {}
    profile: dict = {}
    for name, limit in CUSTOMER_TEXT_LIMITS.items():
        if name not in ctx.columns:
            continue
        try:
            text = values.parse_text(ctx.cell(cells, name), limit)
        except ValueError as exc:
            errors[name] = str(exc)
            continue
        if text:
            profile[name] = text
    if "name" not in profile and "name" not in errors:
        errors["name"] = "required"
    mobile, email = _identity(ctx, cells, errors)
    try:
        gender = values.parse_gender(ctx.cell(cells, "gender"))
        if gender:
            profile["gender"] = gender
    except ValueError as exc:
        errors["gender"] = str(exc)
    try:
        birthday = values.parse_date(ctx.cell(cells, "birthday"))
        if birthday:
            if birthday > now().date() or birthday.year < 1900:
                errors["birthday"] = "not a plausible birthday"
            else:
                profile["birthday"] = birthday
    except ValueError as exc:
        errors["birthday"] = str(exc)
    custom: dict[str, str] = {}

    for key, definition in ctx.custom_fields.items():
        name = f"custom.{key}"
        if name not in ctx.columns:
            continue
        raw = ctx.cell(cells, name)
        if isinstance(raw, (int, float)) and not isinstance(raw, bool) and definition["kind"] == "date":
            try:
                raw = values.parse_date(raw)
            except ValueError as exc:
                errors[name] = str(exc)
                continue
        elif not isinstance(raw, (dt.date, type(None))):
            raw = values.cell_text(raw)
        try:
            value = clean_value(definition, raw)
        except ValueError as exc:
            errors[name] = str(exc)
            continue
        if value:
            custom[key] = value
    if errors:
        return None, errors
    name = profile.pop("name")
    return CustomerRecord(name=name, mobile=mobile, email=email, fields=profile, custom=custom), {}


def parse_order(ctx: Context, cells: list) -> tuple[OrderInput | None, dict[str, str]]:
    errors: dict[str, str] = {}
    external_id = values.cell_text(ctx.cell(cells, "external_id"))
    if not external_id:
        errors["external_id"] = "required"
    elif len(external_id) > 64:
        errors["external_id"] = "1 to 64 characters"
    channel = ctx.default_channel
    if "channel" in ctx.columns:
        try:
            channel = values.parse_channel(ctx.cell(cells, "channel")) or ctx.default_channel
        except ValueError as exc:
            errors["channel"] = str(exc)
        if not channel and "channel" not in errors:
            errors["channel"] = "required"
    mobile, email = _identity(ctx, cells, errors)
    name = ""
    if "name" in ctx.columns:
        try:
            name = values.parse_text(ctx.cell(cells, "name"), 100)
        except ValueError as exc:
            errors["name"] = str(exc)
    placed_at = None
    try:
        placed_at = values.parse_datetime(ctx.cell(cells, "placed_at"))
        if placed_at > now() + dt.timedelta(days=1):
            errors["placed_at"] = "is in the future"
        elif placed_at.year < 2000:
            errors["placed_at"] = "is before the year 2000"
    except ValueError as exc:
        errors["placed_at"] = str(exc)
    total_fen = 0
    try:
        total_fen = values.parse_amount(ctx.cell(cells, "total"))
    except ValueError as exc:
        errors["total"] = str(exc)
    status = "paid"
    if "status" in ctx.columns:
        try:
            status = values.parse_status(ctx.cell(cells, "status")) or "paid"
        except ValueError as exc:
            errors["status"] = str(exc)
    if errors:
        return None, errors
    return OrderInput(channel=channel, external_id=external_id, mobile=mobile, email=email,
                       name=name, placed_at=placed_at, status=status, total_fen=total_fen), {}


def parse_row(ctx: Context, cells: list):
    return parse_customer(ctx, cells) if ctx.kind == "customers" else parse_order(ctx, cells)


def default_name(mobile: str | None, email: str | None) -> str:
    return identity.mask_mobile(mobile) if mobile else (email or "").split("@")[0]


def neutralise(cell) -> str:
    """A file's cell as text, safe to write back into a CSV people open in Excel."""
    return spreadsheet.neutralise(values.cell_text(cell))
