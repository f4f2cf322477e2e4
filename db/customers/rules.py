"""Rule tags: a JSON filter over customers, compiled to one SQL condition.

A rule is {"all": [condition, ...]}: every condition must hold. Each condition is an object
with exactly one key:

    {"lifecycle": ["active", "dormant"]}
    {"rfm": {"r": [min, max], "f": [min, max], "m": [min, max]}}     any subset, scores 1-5
    {"total_spent": {"min": "500.00", "max": "2000"}}                yuan, either bound optional
    {"orders_count": {"min": 2, "max": null}}
    {"channel": ["tmall", "jd"]}              has a paid order in one of these channels
    {"province": ["浙江"]} / {"city": ["杭州", "宁波"]}
    {"birthday_month": [1, 12]}
    {"custom": {"key": "skin_type", "op": "eq", "value": "oily"}}
          op: eq | contains | gte | lte | set | unset; numbers compare as numbers, dates as ISO text
    {"last_order": {"within_days": 30}} or {"last_order": {"over_days": 180}}

`parse_rule` validates and normalises (one message per bad part, keyed "rule", "all.N" or
"all.N.part"); `compile_rule` turns a normalised rule into a condition with `{}` placeholders
for `db.engine.raw`. User values only ever travel as placeholders' arguments; column names
come from the fixed whitelist below. `refresh_rule_tags` keeps the members of rule tags
current, set-based: one INSERT … SELECT and one DELETE per rule tag.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from decimal import Decimal
from typing import Any

from db.clock import now
from db.customers.fields import clean_value
from db.customers.tables import FIELD_KINDS, LIFECYCLE_STAGES
from db.engine import is_sqlite, like_escape, raw, writing
from db.errors import ValidationFailed
from db.money import format_fen, parse_money
# Rule tags can select on the channel an order came from: the one import of orders here
# (the tables only; pyproject's contracts list it).
from db.orders.tables import CHANNELS

log = logging.getLogger("crm.rules")

CONDITION_TYPES = (
    "lifecycle", "rfm", "total_spent", "orders_count", "channel", "province", "city",
    "birthday_month", "custom", "last_order",
)
CUSTOM_OPS = ("eq", "contains", "gte", "lte", "set", "unset")
# Which operators make sense for which kind of custom field.
OPS_BY_KIND = {
    "text": ("eq", "contains", "set", "unset"),
    "number": ("eq", "gte", "lte", "set", "unset"),
    "date": ("eq", "gte", "lte", "set", "unset"),
    "choice": ("eq", "set", "unset"),
}
RFM_COLUMNS = {"r": "rfm_r", "f": "rfm_f", "m": "rfm_m"}
PLACE_COLUMNS = {"province": "province", "city": "city"}
MAX_CONDITIONS = 20
MAX_LIST = 50
MAX_DAYS = 36500
MAX_COUNT = 1_000_000
IDS_PER_STATEMENT = 500


# ---------------------------------------------------------------- parse and normalise


def _choice_list(value: Any, allowed: tuple, key: str, errors: dict, message: str) -> list:
    if not isinstance(value, list) or not value:
        errors[key] = message
        return []
    if any(v not in allowed or isinstance(v, bool) for v in value):
        errors[key] = message
        return []
    return [v for v in allowed if v in value]  # canonical order, no repeats


def _text_list(value: Any, key: str, errors: dict) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors[key] = "choose at least one"
        return []
    items = list(dict.fromkeys(v.strip() for v in value if v.strip()))
    if not items:
        errors[key] = "choose at least one"
    elif len(items) > MAX_LIST or any(len(v) > 40 for v in items):
        errors[key] = f"at most {MAX_LIST} names of up to 40 characters"
    return items


def _int_or_none(value: Any, key: str, errors: dict, lo: int, hi: int) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdecimal():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        errors[key] = f"a whole number from {lo} to {hi}"
        return None
    return value


def _money_or_none(value: Any, key: str, errors: dict) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    try:
        return format_fen(parse_money(value))
    except ValueError:
        errors[key] = "an amount like 500.00"
        return None


def _range(data: Any, prefix: str, errors: dict, parse) -> dict | None:
    """{"min": x, "max": y} with at least one bound and min <= max."""
    if not isinstance(data, dict) or set(data) - {"min", "max"}:
        errors[prefix] = "give a minimum, a maximum or both"
        return None
    lo = parse(data.get("min"), f"{prefix}.min", errors)
    hi = parse(data.get("max"), f"{prefix}.max", errors)
    if f"{prefix}.min" in errors or f"{prefix}.max" in errors:
        return None
    if lo is None and hi is None:
        errors[prefix] = "give a minimum, a maximum or both"
        return None
    if lo is not None and hi is not None and _sortable(lo) > _sortable(hi):
        errors[f"{prefix}.max"] = "must not be less than the minimum"
        return None
    return {"min": lo, "max": hi}


def _sortable(value):
    return Decimal(value) if isinstance(value, str) else value


def _rfm(data: Any, prefix: str, errors: dict) -> dict | None:
    if not isinstance(data, dict) or not data or set(data) - set(RFM_COLUMNS):
        errors[prefix] = "give a range for R, F or M"
        return None
    out = {}
    for letter in RFM_COLUMNS:
        if letter not in data:
            continue
        pair = data[letter]
        key = f"{prefix}.{letter}"
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            errors[key] = "a range of scores from 1 to 5"
            continue
        lo = _int_or_none(pair[0], key, errors, 1, 5)
        hi = _int_or_none(pair[1], key, errors, 1, 5)
        if key in errors:
            continue
        lo, hi = lo or 1, hi or 5
        if lo > hi:
            errors[key] = "the lower score must not be above the higher"
            continue
        out[letter] = [lo, hi]
    if not out and prefix not in errors and not any(k.startswith(prefix + ".") for k in errors):
        errors[prefix] = "give a range for R, F or M"
    return out or None


def _custom_value(kind: str, value: str, choices: list[str] | None) -> str:
    """A comparison value in the canonical form db/customers/fields.py stores values in."""
    if kind == "choice" and choices is None:  # the field's options are not known here
        value = value.strip()
        if len(value) > 60:
            raise ValueError("at most 60 characters")
        return value
    cleaned = clean_value({"kind": kind, "choices": choices or []}, value)
    if not cleaned:
        raise ValueError("required")
    return cleaned


def _custom(data: Any, prefix: str, errors: dict, fields: list[dict] | None) -> dict | None:
    if not isinstance(data, dict) or set(data) - {"key", "op", "value", "kind"}:
        errors[prefix] = "choose a field and a comparison"
        return None
    key, op, value = data.get("key"), data.get("op"), data.get("value", "")
    if not isinstance(key, str) or not key.strip():
        errors[f"{prefix}.key"] = "choose a field"
        return None
    key = key.strip()
    kind, choices = data.get("kind") or "text", None
    if fields is not None:
        field = next((f for f in fields if f["key"] == key), None)
        if field is None:
            errors[f"{prefix}.key"] = "no such field"
            return None
        kind, choices = field["kind"], list(field.get("choices") or [])
    if kind not in FIELD_KINDS:
        errors[f"{prefix}.key"] = "no such field"
        return None
    if op not in CUSTOM_OPS:
        errors[f"{prefix}.op"] = f"one of {', '.join(CUSTOM_OPS)}"
        return None
    if op not in OPS_BY_KIND[kind]:
        errors[f"{prefix}.op"] = "this comparison does not fit the field"
        return None
    if op in ("set", "unset"):
        return {"key": key, "op": op, "value": "", "kind": kind}
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        errors[f"{prefix}.value"] = "required"
        return None
    try:
        value = _custom_value(kind, value, choices)
    except ValueError as exc:
        errors[f"{prefix}.value"] = str(exc)
        return None
    return {"key": key, "op": op, "value": value, "kind": kind}


def _last_order(data: Any, prefix: str, errors: dict) -> dict | None:
    if not isinstance(data, dict) or len(data) != 1 or not set(data) <= {"within_days", "over_days"}:
        errors[prefix] = "within N days or over N days ago"
        return None
    (which, days), = data.items()
    days = _int_or_none(days, f"{prefix}.{which}", errors, 1, MAX_DAYS)
    if days is None:
        errors.setdefault(f"{prefix}.{which}", f"a whole number from 1 to {MAX_DAYS}")
        return None
    return {which: days}


def _condition(cond: Any, prefix: str, errors: dict, fields: list[dict] | None) -> dict | None:
    if not isinstance(cond, dict) or len(cond) != 1:
        errors[prefix] = "each condition has exactly one type"
        return None
    (kind, data), = cond.items()
    if kind not in CONDITION_TYPES:
        errors[prefix] = "unknown condition"
        return None
    value: Any = None
    if kind == "lifecycle":
        value = _choice_list(data, LIFECYCLE_STAGES, prefix, errors, "choose at least one stage")
    elif kind == "rfm":
        value = _rfm(data, prefix, errors)
    elif kind == "total_spent":
        value = _range(data, prefix, errors, _money_or_none)
    elif kind == "orders_count":
        value = _range(data, prefix, errors,
                       lambda v, k, e: _int_or_none(v, k, e, 0, MAX_COUNT))
    elif kind == "channel":
        value = _choice_list(data, CHANNELS, prefix, errors, "choose at least one channel")
    elif kind in PLACE_COLUMNS:
        value = _text_list(data, prefix, errors)
    elif kind == "birthday_month":
        value = _choice_list(data, tuple(range(1, 13)), prefix, errors, "choose at least one month")
    elif kind == "custom":
        value = _custom(data, prefix, errors, fields)
    elif kind == "last_order":
        value = _last_order(data, prefix, errors)
    if not value:
        return None
    return {kind: value}


def parse_rule(data: Any, fields: list[dict] | None = None) -> dict:
    """Validate and normalise a rule (a dict or its JSON text).

    `fields` (from db.customers.fields.list_fields) lets custom-field conditions be checked
    against the fields that exist and compared by their kind; without it a custom condition
    keeps the kind it names (text by default). Raises ValidationFailed.
    """
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise ValidationFailed({"rule": "not a valid rule"}) from exc
    if not isinstance(data, dict) or set(data) != {"all"} or not isinstance(data["all"], list):
        raise ValidationFailed({"rule": 'a rule is {"all": [condition, ...]}'})
    conditions = data["all"]
    if not conditions:
        raise ValidationFailed({"rule": "add at least one condition"})
    if len(conditions) > MAX_CONDITIONS:
        raise ValidationFailed({"rule": f"at most {MAX_CONDITIONS} conditions"})
    errors: dict[str, str] = {}
    out = []
    for i, cond in enumerate(conditions):
        parsed = _condition(cond, f"all.{i}", errors, fields)
        if parsed:
            out.append(parsed)
    if errors:
        raise ValidationFailed(errors)
    return {"all": out}


def dumps(rule: dict) -> str:
    """The stored form of a normalised rule (stable, so equal rules compare equal)."""
    return json.dumps(rule, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# ---------------------------------------------------------------- compile


def _marks(values: list) -> str:
    return ", ".join("{}" for _ in values)


def _numeric(expr: str) -> str:
    """A text value as a number; on PostgreSQL NULL instead of an error for non-numbers."""
    if is_sqlite():
        return f"CAST({expr} AS REAL)"
    return f"(CASE WHEN {expr} ~ '^-?[0-9]+(\\.[0-9]+)?$' THEN CAST({expr} AS NUMERIC) END)"


def _compile_custom(spec: dict, a: str) -> tuple[str, list]:
    field = "v.field = (SELECT f.id FROM custom_field f WHERE f.key = {})"
    head = f"SELECT 1 FROM customer_field_value v WHERE v.customer = {a}.id AND {field} AND "
    args: list = [spec["key"]]
    op, value, kind = spec["op"], spec["value"], spec.get("kind", "text")
    if op in ("set", "unset"):
        sql = f"EXISTS ({head}v.value <> '')"
        return (sql if op == "set" else f"NOT {sql}"), args
    if op == "contains":
        return (f"EXISTS ({head}lower(v.value) LIKE {{}} ESCAPE '\\')",
                args + ["%" + like_escape(value.lower()) + "%"])
    cmp = {"eq": "=", "gte": ">=", "lte": "<="}[op]
    if kind == "number":
        number = float(value) if is_sqlite() else Decimal(value)
        return f"EXISTS ({head}{_numeric('v.value')} {cmp} {{}})", args + [number]
    return f"EXISTS ({head}v.value {cmp} {{}})", args + [value]


def _birthday_month(a: str) -> str:
    if is_sqlite():
        return f"CAST(substr({a}.birthday, 6, 2) AS INTEGER)"
    return f"CAST(EXTRACT(MONTH FROM {a}.birthday) AS INTEGER)"


def _bounds(column: str, spec: dict, convert=lambda v: v) -> tuple[list[str], list]:
    parts, args = [], []
    if spec.get("min") is not None:
        parts.append(f"{column} >= {{}}")
        args.append(convert(spec["min"]))
    if spec.get("max") is not None:
        parts.append(f"{column} <= {{}}")
        args.append(convert(spec["max"]))
    return parts, args


def compile_rule(rule: dict, alias: str = "c", *, at: dt.datetime | None = None) -> tuple[str, list]:
    """A SQL condition over `customer {alias}` with `{}` placeholders, and its arguments.

    `rule` must be normalised (from parse_rule, or a stored rule). `at` is the moment
    "within N days" counts back from (now by default)."""
    if not alias.isidentifier():
        raise ValueError("alias must be an identifier")
    a = alias
    at = (at or now()).replace(microsecond=0)
    parts: list[str] = []
    args: list = []
    for cond in rule["all"]:
        (kind, spec), = cond.items()
        if kind == "lifecycle":
            parts.append(f"{a}.lifecycle_stage IN ({_marks(spec)})")
            args += spec
        elif kind == "rfm":
            for letter, (lo, hi) in spec.items():
                column = RFM_COLUMNS[letter]
                parts.append(f"{a}.{column} BETWEEN {{}} AND {{}}")
                args += [lo, hi]
        elif kind == "total_spent":
            p, x = _bounds(f"{a}.total_spent_fen", spec, parse_money)
            parts += p
            args += x
        elif kind == "orders_count":
            p, x = _bounds(f"{a}.orders_count", spec)
            parts += p
            args += x
        elif kind == "channel":
            # Not a correlated EXISTS: one range scan of the (channel, status, customer)
            # index finds every buyer, instead of a look-up per customer.
            parts.append(
                f'{a}.id IN (SELECT o.customer FROM "order" o WHERE o.channel IN ({_marks(spec)}) '
                "AND o.status = {})"
            )
            args += [*spec, "paid"]
        elif kind in PLACE_COLUMNS:
            parts.append(f"{a}.{PLACE_COLUMNS[kind]} IN ({_marks(spec)})")
            args += spec
        elif kind == "birthday_month":
            parts.append(f"{_birthday_month(a)} IN ({_marks(spec)})")
            args += spec
        elif kind == "custom":
            sql, x = _compile_custom(spec, a)
            parts.append(sql)
            args += x
        elif kind == "last_order":
            (which, days), = spec.items()
            cutoff = at - dt.timedelta(days=days)
            op = ">=" if which == "within_days" else "<"
            parts.append(f"{a}.last_order_at {op} {{}}")
            args.append(cutoff)
        else:  # a stored rule is normalised; anything else is a bug, not user input
            raise ValueError(f"unknown condition {kind!r}")
    if not parts:
        return "1 = 0", []
    return "(" + " AND ".join(parts) + ")", args


def stored_rule(text: str) -> dict | None:
    """A tag's stored rule, normalised, or None for a manual tag (or an unreadable rule)."""
    if not text:
        return None
    try:
        return parse_rule(text)
    except ValidationFailed:
        log.warning("unreadable rule left alone: %s", text[:200])
        return None


# ---------------------------------------------------------------- keep members current


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i : i + IDS_PER_STATEMENT] for i in range(0, len(ids), IDS_PER_STATEMENT)]


async def _refresh_one(tag_id: int, rule: dict, ids: list[int] | None, at: dt.datetime) -> None:
    cond, cond_args = compile_rule(rule, "c", at=at)
    stamp = now()
    restricts = [None] if ids is None else _chunks(ids)
    for chunk in restricts:
        only_c, only_ct, only_args = "", "", []
        if chunk is not None:
            only_c = f" AND c.id IN ({_marks(chunk)})"
            only_ct = f" AND customer_tag.customer IN ({_marks(chunk)})"
            only_args = list(chunk)
        # Members who no longer match (their customer row is checked against the rule).
        await raw(
            f"DELETE FROM customer_tag WHERE customer_tag.tag = {{}}{only_ct} AND NOT EXISTS ("
            f"SELECT 1 FROM customer c WHERE c.id = customer_tag.customer AND {cond})",
            tag_id, *only_args, *cond_args,
        )
        # Matches who are not members yet.
        await raw(
            "INSERT INTO customer_tag (customer, tag, created_at) "
            f"SELECT c.id, {{}}, {{}} FROM customer c WHERE {cond}{only_c} AND NOT EXISTS ("
            "SELECT 1 FROM customer_tag ct WHERE ct.tag = {} AND ct.customer = c.id)",
            tag_id, stamp, *cond_args, *only_args, tag_id,
        )


async def refresh_rule_tags(
    tag_ids: list[int] | None = None, customer_ids: list[int] | None = None
) -> None:
    """Make the members of rule tags match their rules: all rule tags, or those in `tag_ids`;
    for every customer, or only those in `customer_ids`. Set-based and idempotent; manual
    tags are never touched. Joins the caller's write transaction if there is one."""
    if tag_ids is not None and not tag_ids:
        return
    if customer_ids is not None:
        customer_ids = sorted({int(i) for i in customer_ids})
        if not customer_ids:
            return
    where, args = "rule <> ''", []
    if tag_ids is not None:
        ids = sorted({int(i) for i in tag_ids})
        where += f" AND id IN ({_marks(ids)})"
        args += ids
    at = now()
    async with writing():
        tags = await raw(f"SELECT id, rule FROM tag WHERE {where} ORDER BY id", *args)
        for tag in tags:
            rule = stored_rule(tag["rule"])
            if rule is not None:
                await _refresh_one(tag["id"], rule, customer_ids, at)
