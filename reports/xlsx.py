"""A report as an XLSX workbook: the same data the PDF prints, as numbers a spreadsheet can
sum (money in yuan with two decimals, rates as percentages), one sheet per table after a
sheet of key figures. Written in openpyxl's write-only mode (rows stream to the file)."""

from __future__ import annotations

import io
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from reports.render import gettext, translate

MONEY = "#,##0.00"
PERCENT = "0.0%"
_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14)


def value(v, unit: str):
    """A cell's value: yuan as an exact Decimal from fen, a share from permille."""
    if v is None:
        return None
    if unit == "fen":
        return Decimal(int(v)) / 100
    if unit == "permille":
        return Decimal(int(v)) / 1000
    if unit == "label":
        v = translate(v)
    if unit in ("text", "label") or isinstance(v, str):
        text = str(v)
        return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
    return v


def _cell(ws, v, unit: str = "text", bold: bool = False):
    c = WriteOnlyCell(ws, value=value(v, unit))
    if unit == "fen":
        c.number_format = MONEY
    elif unit == "permille":
        c.number_format = PERCENT
    if bold:
        c.font = _BOLD
    return c


def _sheet_name(title: str, used: set[str]) -> str:
    name = "".join(ch for ch in title if ch not in '[]:*?/\\')[:28] or "Sheet"
    base, n = name, 2
    while name in used:
        name = f"{base[:25]} {n}"
        n += 1
    used.add(name)
    return name


def _head(ws, r: dict, title: str) -> None:
    c = WriteOnlyCell(ws, value=value(f"{r['shop']} · {title}", "text"))
    c.font = _TITLE
    ws.append([c])
    line = f"{r['start'].isoformat()} – {r['end'].isoformat()}"
    for label, v in r["filters"]:
        line += f" · {label}: {v}"
    ws.append([value(line, "text")])
    ws.append([])


def workbook(ctx: dict) -> bytes:
    r, d = ctx["r"], ctx["d"]
    wb = Workbook(write_only=True)
    used: set[str] = set()
    ws = wb.create_sheet(_sheet_name(gettext("Key figures"), used))
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 18
    ws.column_dimensions["C"].width = 18
    _head(ws, r, r["title"])
    if not d.get("has_data"):
        ws.append([value(gettext("No data for this range."), "text")])
    ws.append([_cell(ws, gettext("Figure"), bold=True), _cell(ws, gettext("This range"), bold=True),
               _cell(ws, gettext("Previous range"), bold=True)])
    for f in d.get("figures", []):
        ws.append([_cell(ws, translate(f["label"])), _cell(ws, f["value"], f["unit"]),
                   _cell(ws, f.get("previous"), f["unit"])])
    if d.get("definitions"):
        ws.append([])
        ws.append([_cell(ws, gettext("Definitions"), bold=True)])
        for label, text in d["definitions"]:
            ws.append([value(translate(label), "text"), value(translate(text), "text")])
    for t in d.get("tables", {}).values():
        title = translate(t["title"])
        ws = wb.create_sheet(_sheet_name(title, used))
        for i, col in enumerate(t["columns"]):
            ws.column_dimensions[chr(65 + i) if i < 26 else "A"].width = 16 if i else 22
        _head(ws, r, title)
        ws.append([_cell(ws, translate(col["label"]), bold=True) for col in t["columns"]])
        for row in t["rows"]:
            ws.append([_cell(ws, row.get(col["key"]), col["unit"]) for col in t["columns"]])
        if t.get("total"):
            ws.append([_cell(ws, t["total"].get(col["key"]), "label" if i == 0 else col["unit"],
                             bold=True) for i, col in enumerate(t["columns"])])
        if t.get("note"):
            ws.append([])
            ws.append([value(translate(t["note"]), "text")])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


