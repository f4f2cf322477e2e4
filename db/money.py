"""Money is integer fen everywhere: parsed exactly from text, formatted exactly back."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

MAX_FEN = 10**12  # ten billion yuan: anything above is a typo or an attack
CURRENCY = "CNY"  # the one currency amounts are kept in (orders, total_spent)
# An amount as text: ASCII digits, at most two decimals. No exponent, sign, underscore,
# full-width or other Unicode digits (Decimal and int() accept all of those).
AMOUNT = re.compile(r"(\d{1,12})(?:\.(\d{1,2}))?", re.ASCII)
_SHAPE = re.compile(r"-?\d+(?:\.\d+)?", re.ASCII)


def parse_money(value: Any, *, strict: bool = False) -> int:
    """'199.00' or '199' -> fen; a whole number (not a float: floats are not exact) too.

    strict (the API): the text must match AMOUNT exactly. Otherwise (forms, imports) what
    people type is tidied first: '1,299.50', '¥199', ' 199 ' and full-width '１９９．００'
    are read; '1e3' and the like are still refused."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError('send money as a string like "199.00"')
    if isinstance(value, int):
        if value < 0:
            raise ValueError("must be zero or more")
        if value > MAX_FEN // 100:
            raise ValueError("too large")
        return value * 100
    if not isinstance(value, str):
        raise ValueError('send money as a string like "199.00"')
    text = value
    if not strict:
        text = unicodedata.normalize("NFKC", value[:100]).strip()
        text = text.replace(",", "").replace("¥", "").replace(" ", "")
    found = AMOUNT.fullmatch(text)
    if not found:
        if _SHAPE.fullmatch(text[:100]):
            if text.startswith("-"):
                raise ValueError("must be zero or more")
            if "." in text and len(text.split(".")[1]) > 2:
                raise ValueError("at most two decimal places")
            raise ValueError("too large")
        raise ValueError("not an amount")
    whole, cents = found.group(1), found.group(2) or ""
    fen = int(whole) * 100 + int(cents.ljust(2, "0"))
    if fen > MAX_FEN:
        raise ValueError("too large")
    return fen


def yuan_text(fen: int | float) -> str:
    """1234567 -> '¥12,345.67': how reports and charts write money (integer arithmetic)."""
    fen = int(fen)
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


def format_fen(fen: int) -> str:
    """1990 -> '19.90' (exact: integer arithmetic only)."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"
