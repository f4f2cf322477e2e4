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

from db.figures import sql
from db.i18n import N_


def permille(part: int, whole: int) -> int | None:
    """part / whole in permille, rounded half up in integers (the figures' own rule); None
    when whole is 0, which a report shows as no data."""
    return sql.permille(part, whole) if whole else None


def figure(key: str, label: str, value: Any, unit: str = "count", previous: Any = None,
           definition: str | None = None) -> dict:
    return {"key": key, "label": label, "value": value, "unit": unit, "previous": previous,
            "definition": definition}


def column(key: str, label: str, unit: str = "count") -> dict:
    return {"key": key, "label": label, "unit": unit}


def table(title: str, columns: list[dict], rows: list[dict], *, note: str | None = None,
          total: dict | None = None) -> dict:
    return {"title": title, "columns": columns, "rows": rows, "note": note, "total": total}


# The dashboard's key figures (db/figures/key.py) as the reports name them.
KEY_LABELS = {
    "new_customers": N_("New customers"),
    "active_customers": N_("Buying customers"),
    "repurchase_rate": N_("Repurchase rate"),
    "churn_rate": N_("Churn rate"),
    "orders": N_("Paid orders"),
    "sales_fen": N_("Sales amount"),
    "average_order_fen": N_("Average order"),
    "points_issued": N_("Points issued"),
    "points_redeemed": N_("Points redeemed"),
    "points_expired": N_("Points expired"),
    "points_liability_fen": N_("Points liability"),
    "followups_done": N_("Follow-ups done"),
    "followups_overdue": N_("Follow-ups overdue"),
}
RATES = ("repurchase_rate", "churn_rate")


def key_figure(figures: dict, key: str) -> dict:
    """One of key_figures()'s Figures as a report figure: its definition goes with the
    rates (printed as a note), a rate or average of nothing is None ("—")."""
    from db.figures.key import DEFINITIONS

    f = figures[key]
    unit = "count" if f.unit == "points" else f.unit
    return figure(key, KEY_LABELS[key], None if f.no_data else f.value, unit, f.previous,
                  DEFINITIONS[key] if key in RATES else None)


def key_definitions(keys) -> list[tuple[str, str]]:
    from db.figures.key import DEFINITIONS

    return [(KEY_LABELS[k], DEFINITIONS[k]) for k in keys]
