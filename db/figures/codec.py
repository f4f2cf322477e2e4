"""Figures as JSON and back, exactly: what the figure store keeps (db/figures/store.py).

Plain JSON would turn a report's tuples into lists and its dates into text, so a page drawn
from stored figures could differ from one drawn live (a template that compares, a chart that
hashes its numbers). Tuples, dates and datetimes are tagged here and come back as they went
in; anything else that is not plain JSON (a dataclass, a Decimal, a dict with non-text keys)
is refused when stored, so a new figure of such a type fails its tests instead of coming back
as something else.

    {"$t": [...]}          a tuple
    {"$d": "2026-12-01"}   a date
    {"$dt": "2026-12-01T03:00:00+00:00"}  a datetime
    a dict's own key that starts with "$" is written with one more "$" (never read as a tag)
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

_PLAIN = (str, int, float, bool, type(None))


def _tagged(value: Any) -> Any:
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, list):
        return [_tagged(v) for v in value]
    if isinstance(value, tuple):
        return {"$t": [_tagged(v) for v in value]}
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"a stored figure's keys are text, not {type(k).__name__} ({k!r})")
            out["$" + k if k.startswith("$") else k] = _tagged(v)
        return out
    if isinstance(value, dt.datetime):  # before date: a datetime is a date too
        return {"$dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$d": value.isoformat()}
    raise TypeError(f"a stored figure is plain values, not {type(value).__name__}")


def _untag(obj: dict) -> Any:
    if len(obj) == 1:
        (tag, inner), = obj.items()
        if tag == "$t":
            return tuple(inner)
        if tag == "$d":
            return dt.date.fromisoformat(inner)
        if tag == "$dt":
            return dt.datetime.fromisoformat(inner)
    if any(k.startswith("$$") for k in obj):
        return {k[1:] if k.startswith("$$") else k: v for k, v in obj.items()}
    return obj


def dumps(value: Any) -> str:
    """JSON text for `value`; TypeError for anything that would not come back the same."""
    return json.dumps(_tagged(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def loads(text: str) -> Any:
    """What dumps() was given. ValueError for text that is not such JSON."""
    return json.loads(text, object_hook=_untag)
