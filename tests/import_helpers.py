"""Files for import tests, written at test time: CSV in any encoding and real XLSX."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

CUSTOMER_HEADERS = ["姓名", "手机号", "邮箱", "性别", "生日", "省份", "城市"]
ORDER_HEADERS = ["订单号", "手机", "姓名", "下单时间", "实付金额", "渠道", "订单状态"]


def write_csv(path: Path, rows: list[list], encoding: str = "utf-8") -> Path:
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list]) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def mobile(i: int) -> str:
    return f"139{i:08d}"


def order_rows(n: int, customers: int | None = None, start: int = 0) -> list[list]:
    customers = customers or max(1, n // 3)
    base = dt.datetime(2025, 6, 1, 10, 0)
    rows = [ORDER_HEADERS]
    for i in range(start, start + n):
        c = i % customers
        rows.append([f"T{i:08d}", mobile(c), f"客户{c}", (base + dt.timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M"),
                     f"¥{(i % 500) + 1:,}.50", "天猫", "已付款"])
    return rows


def _column(i: int) -> str:
    name = ""
    i += 1
    while i:
        i, rest = divmod(i - 1, 26)
        name = chr(65 + rest) + name
    return name


_PARTS = {
    "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
    "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
}


def write_big_xlsx(path: Path, rows: int, notes: int = 0, declared: bool = True, far_cell: str = "") -> Path:
    """An orders sheet of `rows` data rows written as a stream (inline text, as many shop
    exporters write it), `notes` extra text columns to make it wider; a few MB of memory
    whatever its size. `far_cell` ("CV1000000") adds one cell far away (a sparse sheet)."""
    import zipfile
    from xml.sax.saxutils import escape

    width = len(ORDER_HEADERS) + notes
    letters = [_column(j) for j in range(width)]
    headers = ORDER_HEADERS + [f"备注{j + 1}" for j in range(notes)]

    def text(ref: str, value: str) -> str:
        return f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, content in _PARTS.items():
            archive.writestr(name, content)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            size = f'<dimension ref="A1:{letters[-1]}{rows + 1}"/>' if declared else ""
            fh.write(('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
                      f'spreadsheetml/2006/main">{size}<sheetData>').encode())
            chunk = ['<row r="1">' + "".join(text(f"{letters[j]}1", h) for j, h in enumerate(headers)) + "</row>"]
            for i in range(rows):
                r = i + 2
                c = i % 1000
                cells = [text(f"A{r}", f"T{i:010d}"), f'<c r="B{r}"><v>{mobile(c)}</v></c>',
                         text(f"C{r}", f"客户{c}"), text(f"D{r}", f"2025-06-01 10:{i % 60:02d}"),
                         f'<c r="E{r}"><v>{i % 500 + 1}.5</v></c>', text(f"F{r}", "天猫"),
                         text(f"G{r}", "已付款")]
                cells += [text(f"{letters[7 + j]}{r}", f"第{i % 97}号备注，请勿改动") for j in range(notes)]
                chunk.append(f'<row r="{r}">' + "".join(cells) + "</row>")
                if len(chunk) >= 2000:
                    fh.write("".join(chunk).encode())
                    chunk = []
            if far_cell:
                chunk.append(f'<row r="{far_cell.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}"><c r="{far_cell}"><v>1</v></c></row>')
            fh.write(("".join(chunk) + "</sheetData></worksheet>").encode())
    return path
