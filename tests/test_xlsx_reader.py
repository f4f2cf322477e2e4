"""db/imports/xlsx.py reads the same values openpyxl does (it replaced openpyxl's read-only
mode for speed): dates, times, numbers, text, booleans, gaps, columns past the limit, the
1904 calendar, and a sheet that is not the first part of the workbook."""

from __future__ import annotations

import datetime as dt

from openpyxl import Workbook, load_workbook

from db.imports import xlsx


def _openpyxl_rows(path, max_columns):
    book = load_workbook(path, read_only=True, data_only=True)
    sheet = book.worksheets[0]
    sheet.reset_dimensions()
    rows = [[_tidy(v) for v in row] for row in sheet.iter_rows(values_only=True, max_col=max_columns)]
    book.close()
    return [_trim(row) for row in rows if any(v is not None for v in row)]


def _tidy(value):
    return None if value == "" else value


def _trim(row):
    while row and row[-1] is None:
        row.pop()
    return row


def _ours(path, max_columns):
    return [_trim(list(values)) for _, values in xlsx.rows(path, max_columns) if any(
        v is not None for v in values)]


def test_the_same_values_as_openpyxl(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.title = "订单"
    sheet.append(["订单号", "手机号", "金额", "下单时间", "日期", "时间", "是否", "备注"])
    sheet.append(["A-1", 13812345678, 1299.5, dt.datetime(2026, 3, 1, 10, 30),
                        dt.date(2026, 3, 2), dt.time(8, 15), True, "  前后空格  "])
    sheet.append(["A-2", 13900000000, 0, None, None, None, False, "多\n行"])
    sheet["J5"] = "far"  # a gap and a column past a limit of 8
    sheet["C6"] = 1.0
    sheet["D6"] = dt.datetime(1999, 12, 31, 23, 59, 59)
    sheet["D6"].number_format = "yyyy/m/d h:mm"
    sheet["E6"] = 45000
    sheet["E6"].number_format = "0.00"
    book.create_sheet("其他").append(["not read"])
    path = tmp_path / "orders.xlsx"
    book.save(path)
    for limit in (8, 200):
        assert _ours(path, limit) == _openpyxl_rows(path, limit)


def test_the_1904_calendar(tmp_path):
    book = Workbook()
    book.epoch = __import__("openpyxl").utils.datetime.CALENDAR_MAC_1904
    book.active.append(["日期"])
    book.active.append([dt.datetime(2026, 1, 2, 3, 4)])
    path = tmp_path / "mac.xlsx"
    book.save(path)
    assert _ours(path, 10) == _openpyxl_rows(path, 10) == [["日期"], [dt.datetime(2026, 1, 2, 3, 4)]]


def test_the_declared_size_is_told_before_the_rows(tmp_path):
    book = Workbook()
    for n in range(5):
        book.active.append([n])
    path = tmp_path / "five.xlsx"
    book.save(path)
    dimension: list = []
    rows = xlsx.rows(path, 10, dimension)
    first = next(rows)
    assert dimension == [5] and first == (1, [0])
    rows.close()
