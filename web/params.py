"""Small parsers for values that arrive in query strings and form fields."""

from __future__ import annotations

from db.engine import parse_id

__all__ = ["parse_id"]
