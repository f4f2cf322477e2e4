"""The plain shape every report's `data()` returns, so one template macro and one XLSX writer
serve them all and the PDF and the XLSX show the same numbers.

    {"has_data": bool,
     "figures": [figure(...)],                 # the first page's key figures
     "tables": {"key": table(...)},            # every table, in order
     "definitions": [(label, text)],           # every rate's definition (the footnotes)
     ...}                                      # anything else a chart needs (plain values)

Units: "count" (int), "fen" (int; shown in yuan with two decimals), "permille" (int; shown
as a percentage with one decimal), "text". Labels are English msgids marked with N_ and
translated when the report is rendered.
"""

from __future__ import annotations

from typing import Any


def N_(message: str) -> str:
    """Marks a label for extraction (scripts/i18n.sh); translated at render time."""
    return message


def permille(part: int, whole: int) -> int | None:
    """part / whole in permille, rounded half up in integers; None when whole is 0."""
    if not whole:
        return None
    return (part * 2000 + whole) // (2 * whole)


def figure(key: str, label: str, value: Any, unit: str = "count", previous: Any = None,
           definition: str | None = None) -> dict:
    return {"key": key, "label": label, "value": value, "unit": unit, "previous": previous,
            "definition": definition}


def column(key: str, label: str, unit: str = "count") -> dict:
    return {"key": key, "label": label, "unit": unit}


def table(title: str, columns: list[dict], rows: list[dict], *, note: str | None = None,
          total: dict | None = None) -> dict:
    return {"title": title, "columns": columns, "rows": rows, "note": note, "total": total}
