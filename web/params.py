"""Small parsers for values that arrive in query strings and form fields."""

from __future__ import annotations


def parse_id(value) -> int | None:
    """A database id, or None for anything else ("", "abc", "²", 40 digits)."""
    text = str(value or "")
    return int(text) if text.isdecimal() and len(text) < 12 else None
