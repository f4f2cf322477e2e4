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
