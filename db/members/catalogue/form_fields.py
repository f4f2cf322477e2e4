"""The catalogue forms' field parsers and what the three kinds share (the audit entry, the
changed fields, the shop's calendar days). A parser reads the form's text, puts one message
per bad field in `errors` and returns the value (None or a default when it is bad).

Dates in the forms are the shop's calendar days: a window runs from the start of its first
day to the end of its last one.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from db.actor import Actor
from db.audit.log import record
from db.clock import SHOP_TZ, YEARS_MESSAGE, plausible_year
from db.money import parse_money

MULTIPLIER_MIN_PCT, MULTIPLIER_MAX_PCT = 100, 1000


def shop_zone() -> ZoneInfo:
    return SHOP_TZ


def value_text(values: dict, key: str) -> str:
    value = values.get(key)
    return "" if value is None else str(value).strip()


def text(values: dict, key: str, errors: dict, max_len: int, required: bool = False) -> str:
    text = " ".join(value_text(values, key).split()) if key != "description" and key != "benefits" else value_text(values, key)
    if required and not text:
        errors[key] = "required"
    elif len(text) > max_len:
        errors[key] = f"at most {max_len} characters"
    return text


def whole(values: dict, key: str, errors: dict, *, low: int, high: int, required: bool = False,
           message: str | None = None) -> int | None:
    text = value_text(values, key).replace(",", "")
    if not text:
        if required:
            errors[key] = "required"
        return None
    if not re.fullmatch(r"-?\d{1,12}", text):
        errors[key] = "a whole number"
        return None
    number = int(text)
    if not low <= number <= high:
        errors[key] = message or f"between {low} and {high}"
        return None
    return number


def money(values: dict, key: str, errors: dict, *, required: bool = False, positive: bool = False) -> int | None:
    text = value_text(values, key)
    if not text:
        if required:
            errors[key] = "required"
        return None
    try:
        fen = parse_money(text)
    except ValueError as exc:
        errors[key] = str(exc)
        return None
    if positive and fen <= 0:
        errors[key] = "more than zero"
        return None
    return fen


def multiplier_pct(values: dict, errors: dict) -> int:
    """'1.5', '1.5x' or '1.5×' -> 150 (percent)."""
    text = value_text(values, "multiplier").lower().rstrip("x×").strip()
    if not text:
        errors["multiplier"] = "required"
        return 100
    try:
        amount = Decimal(text)
    except InvalidOperation:
        errors["multiplier"] = "a number like 1.5"
        return 100
    if not amount.is_finite() or amount.as_tuple().exponent < -2 or amount.adjusted() > 3:
        errors["multiplier"] = "a number like 1.5"
        return 100
    pct = int(amount * 100)
    if not MULTIPLIER_MIN_PCT <= pct <= MULTIPLIER_MAX_PCT:
        errors["multiplier"] = "between 1 and 10"
        return 100
    return pct


def day(values: dict, key: str, errors: dict) -> dt.date | None:
    text = value_text(values, key)
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        errors[key] = "a date like 2026-12-31"
        return None
    if not plausible_year(day):
        errors[key] = YEARS_MESSAGE
        return None
    return day


def window(values: dict, errors: dict, *, until_required: bool = False) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The form's first and last day -> (start of the first day, end of the last day), shop time."""
    first, last = day(values, "valid_from", errors), day(values, "valid_until", errors)
    if until_required and last is None and "valid_until" not in errors:
        errors["valid_until"] = "required"
    if first and last and last < first:
        errors["valid_until"] = "on or after the first day"
    zone = shop_zone()
    start = dt.datetime.combine(first, dt.time.min, zone) if first else None
    end = dt.datetime.combine(last, dt.time(23, 59, 59), zone) if last else None
    return start, end


def flag(values: dict, key: str) -> bool:
    return value_text(values, key).lower() in ("1", "on", "true", "yes")


def window_days(start: dt.datetime | None, end: dt.datetime | None) -> tuple[str, str]:
    """A stored window as the form's two date texts (shop calendar days)."""
    zone = shop_zone()
    return (start.astimezone(zone).date().isoformat() if start else "",
            end.astimezone(zone).date().isoformat() if end else "")


def audit(action: str, actor: Actor, target_type: str, target_id: int, fields: list[str] | None = None) -> object:
    return record(action, actor_id=actor.id, actor=actor.label, ip=actor.ip, target_type=target_type,
                  target_id=target_id, detail={"fields": fields} if fields else None)


def changed_fields(before: dict, after: dict) -> list[str]:
    return sorted(k for k, v in after.items() if before.get(k) != v)
