"""Money is integer fen everywhere: parsed exactly from text, formatted exactly back."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

MAX_FEN = 10**12  # ten billion yuan: anything above is a typo or an attack


def parse_money(value: Any) -> int:
    """'199.00', '199', '1,299.50' or '¥199' -> fen. Floats are refused: they are not exact."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError('send money as a string like "199.00"')
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str):
        text = value.strip().replace(",", "").replace("¥", "").replace("￥", "")
        try:
            amount = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError("not an amount") from exc
    else:
        raise ValueError('send money as a string like "199.00"')
    if not amount.is_finite() or amount < 0:
        raise ValueError("must be zero or more")
    if amount.as_tuple().exponent < -2:
        raise ValueError("at most two decimal places")
    fen = int(amount * 100)
    if fen > MAX_FEN:
        raise ValueError("too large")
    return fen


def format_fen(fen: int) -> str:
    """1990 -> '19.90' (exact: integer arithmetic only)."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"
