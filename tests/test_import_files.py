"""Reading shops' files: encodings, XLSX, header guessing, values in every format they come
in, and files that must be refused with a clear message."""

from __future__ import annotations

import datetime as dt
import zipfile

import pytest

from db.errors import ValidationFailed
from db.imports import mapping, reader, values
from db.imports.rows import Context, neutralise, parse_customer, parse_order
from tests.import_helpers import CUSTOMER_HEADERS, write_csv, write_xlsx

UTC = dt.timezone.utc
ROWS = [CUSTOMER_HEADERS, ["张三", "13812345678", "", "男", "1990/5/17", "浙江", "杭州"],
        ["", "", "", "", "", "", ""], ["李四", "13912345678", "li@example.com", "女", "", "", ""]]


@pytest.mark.parametrize("encoding, expected", [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gb18030", "gb18030"),
])
def test_csv_in_each_encoding_excel_saves(tmp_path, encoding, expected):
    path = write_csv(tmp_path / "c.csv", ROWS, encoding)
    info = reader.inspect(path, "c.csv")
    assert (info.file_format, info.encoding, info.headers, info.total_rows) == ("csv", expected, CUSTOMER_HEADERS, 2)
    rows = list(reader.iter_rows(path, "csv", info.encoding))
    assert [r[0] for r in rows] == ["张三", "李四"]  # the blank row is skipped


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"   \r\n", "empty"),
    ("姓名,手机\n张三,138\n".encode("utf-16"), "UTF-16"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "UTF-16 or is not a text file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, ".xls"),
    ("姓名,城市\n".encode() + "Zoë,Köln\n".encode("latin-1") * 3, "not UTF-8 or GB18030"),
])
def test_files_that_cannot_be_read_say_why(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(reader.UnreadableFile, match=message):
        reader.inspect(path, "bad.csv")


def test_an_encoding_error_further_on_is_found_before_anything_is_imported(tmp_path):
    path = tmp_path / "mixed.csv"
    good = "姓名,手机\n" + "张三,13812345678\n" * 30000  # more than the detection sample
    path.write_bytes(good.encode("utf-8") + "李四,13912345678\n".encode("utf-16-le"))
    with pytest.raises(reader.UnreadableFile, match="further on"):
        reader.inspect(path, "mixed.csv")


def test_xlsx_with_real_date_cells_numbers_and_formulas(tmp_path):
    path = write_xlsx(tmp_path / "c.xlsx", [
        CUSTOMER_HEADERS,
        ["王芳", 13812345678, "a@example.com", "女", dt.datetime(1990, 5, 17), "浙江", "杭州"],
        ['=HYPERLINK("http://evil.example","点我")', 13912345678, "", "", "", "", ""],
    ])
    info = reader.inspect(path, "c.xlsx")
    assert (info.file_format, info.total_rows) == ("xlsx", 2)
    row, formula_row = reader.iter_rows(path, "xlsx", "")
    ctx = Context.build("customers", info.headers, mapping.guess_mapping(info.headers, "customers"))
    record, errors = parse_customer(ctx, row)
    assert not errors and record.name == "王芳" and record.mobile == "+8613812345678"
    assert record.fields["birthday"] == dt.date(1990, 5, 17)
    # A formula is never evaluated: the cell reads as the value saved with it, and this file
    # (written by a program, not by Excel) saved none, so the row has no name.
    assert formula_row[0] is None and formula_row[1] == 13912345678
    _, errors = parse_customer(ctx, formula_row)
    assert "name" in errors
    assert neutralise('=HYPERLINK("x")').startswith("'=")  # inert when written back to a CSV
    assert neutralise("+86 138 1234 5678") == "+86 138 1234 5678" and neutralise("@SUM(A1)") == "'@SUM(A1)"


def test_zip_bombs_and_fake_xlsx_are_refused_before_opening(tmp_path):
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (reader.MAX_XLSX_UNPACKED // 50))
    with pytest.raises(reader.UnreadableFile, match="zip bomb"):
        reader.inspect(bomb, "bomb.xlsx")
    many = tmp_path / "many.xlsx"
    with zipfile.ZipFile(many, "w") as archive:
        for i in range(reader.MAX_XLSX_MEMBERS + 1):
            archive.writestr(f"x/{i}.xml", "")
    with pytest.raises(reader.UnreadableFile, match="too many parts"):
        reader.inspect(many, "many.xlsx")
    fake = tmp_path / "fake.xlsx"
    fake.write_text("姓名\n张三\n")
    with pytest.raises(reader.UnreadableFile, match="not really an Excel file"):
        reader.inspect(fake, "fake.xlsx")


@pytest.mark.parametrize("headers, expected", [
    (["姓名", "手机号", "邮箱", "生日", "性别", "省份", "城市", "地址"],
     ["name", "mobile", "email", "birthday", "gender", "province", "city", "address"]),
    (["客户名称", "手机", "电子邮箱", "出生日期"], ["name", "mobile", "email", "birthday"]),
    (["Name", "Mobile Phone", "E-mail", "Birthday", "Gender", "Province", "City"],
     ["name", "mobile", "email", "birthday", "gender", "province", "city"]),
    (["联系电话", "客户", "备注"], ["mobile", "name", ""]),
    (["客户手机号", "姓名"], ["mobile", "name"]),
    (["电话", "手机"], ["mobile", ""]),  # one column per field: the first wins
])
def test_customer_headers_guessed_in_chinese_and_english(headers, expected):
    assert list(mapping.guess_mapping(headers, "customers").values()) == expected


def test_order_headers_and_custom_fields_are_guessed():
    headers = ["订单号", "下单时间", "实付金额", "渠道", "订单状态", "手机号", "收货人"]
    assert list(mapping.guess_mapping(headers, "orders").values()) == [
        "external_id", "placed_at", "total", "channel", "status", "mobile", "name"]
    english = ["Order No", "Order Time", "Amount", "Platform", "Status", "Phone", "Email"]
    assert list(mapping.guess_mapping(english, "orders").values()) == [
        "external_id", "placed_at", "total", "channel", "status", "mobile", "email"]
    fields = [{"key": "skin_type", "label": "肤质", "kind": "choice", "choices": ["干性"]}]
    assert mapping.guess_mapping(["姓名", "肤质", "skin_type2"], "customers", fields)["肤质"] == "custom.skin_type"


def test_required_columns_are_named():
    with pytest.raises(ValidationFailed) as caught:
        mapping.clean_mapping(["手机"], {"手机": "mobile"}, "customers")
    assert caught.value.errors == {"mapping": "a name column is required"}
    with pytest.raises(ValidationFailed) as caught:
        mapping.clean_mapping(["订单号", "手机", "金额"], {"订单号": "external_id", "手机": "mobile", "金额": "total"},
                              "orders", default_channel="tmall")
    assert caught.value.errors == {"mapping": "an order time column is required"}
    with pytest.raises(ValidationFailed) as caught:
        mapping.clean_mapping(["a", "b"], {"a": "name", "b": "name"}, "customers")
    assert "map.b" in caught.value.errors


@pytest.mark.parametrize("text, expected", [
    ("2024/3/5", dt.datetime(2024, 3, 4, 16, 0, tzinfo=UTC)),
    ("2024-03-05", dt.datetime(2024, 3, 4, 16, 0, tzinfo=UTC)),
    ("20240305", dt.datetime(2024, 3, 4, 16, 0, tzinfo=UTC)),
    ("2024-03-05 14:30", dt.datetime(2024, 3, 5, 6, 30, tzinfo=UTC)),
    ("2024-03-05 14:30:15", dt.datetime(2024, 3, 5, 6, 30, 15, tzinfo=UTC)),
    ("2024/3/5 14:30", dt.datetime(2024, 3, 5, 6, 30, tzinfo=UTC)),
    ("2024年3月5日", dt.datetime(2024, 3, 4, 16, 0, tzinfo=UTC)),
    ("2024-03-05T14:30:00+00:00", dt.datetime(2024, 3, 5, 14, 30, tzinfo=UTC)),
    ("45356", dt.datetime(2024, 3, 4, 16, 0, tzinfo=UTC)),  # an Excel serial number as text
    (45356.604166667, dt.datetime(2024, 3, 5, 6, 30, tzinfo=UTC)),  # a serial number cell
    (dt.datetime(2024, 3, 5, 14, 30), dt.datetime(2024, 3, 5, 6, 30, tzinfo=UTC)),  # a date cell
])
def test_order_times_in_every_format_are_shanghai_time(text, expected):
    parsed = values.parse_datetime(text)
    assert abs(parsed - expected) < dt.timedelta(seconds=1)


@pytest.mark.parametrize("text", ["2024-02-30", "3/5/2024", "yesterday", "=NOW()", "2024-13-01"])
def test_impossible_dates_are_refused(text):
    with pytest.raises(ValueError):
        values.parse_datetime(text)


@pytest.mark.parametrize("cell, fen", [
    ("¥1,299.00", 129900), ("￥199", 19900), ("1299.5", 129950), ("99元", 9900), (1299.5, 129950),
    (1299, 129900), (0.1 + 0.2, 30), ("1,000,000", 100000000),
])
def test_amounts_with_symbols_and_separators(cell, fen):
    assert values.parse_amount(cell) == fen


@pytest.mark.parametrize("cell", ["十块", "-5", "1.234", "", "=1+1"])
def test_bad_amounts(cell):
    with pytest.raises(ValueError):
        values.parse_amount(cell)


def test_channels_statuses_and_genders_in_chinese():
    assert [values.parse_channel(c) for c in ["天猫", "淘宝", "京东", "抖音", "拼多多", "官网", "商城", "小程序",
                                               "门店", "线下", "jd", "天猫旗舰店"]] == [
        "tmall", "tmall", "jd", "douyin", "pdd", "web", "web", "web", "store", "store", "jd", "tmall"]
    assert [values.parse_status(s) for s in ["已付款", "已支付", "paid", "已退款", "退款", "已取消"]] == [
        "paid", "paid", "paid", "refunded", "refunded", "cancelled"]
    assert values.parse_gender("男") == "male" and values.parse_gender("女") == "female"
    with pytest.raises(ValueError):
        values.parse_channel("亚马逊")


def test_order_row_errors_name_the_file_columns():
    headers = ["订单号", "手机", "下单时间", "实付金额"]
    ctx = Context.build("orders", headers, mapping.guess_mapping(headers, "orders"), default_channel="tmall")
    record, errors = parse_order(ctx, ["T1", "13812345678", "2024/3/5 14:30", "¥1,299.00"])
    assert not errors and (record.channel, record.total_fen, record.status) == ("tmall", 129900, "paid")
    _, errors = parse_order(ctx, ["", "138", "soon", "十块"])
    assert set(errors) == {"external_id", "mobile", "placed_at", "total"}


def test_a_50_mb_file_is_read_as_a_stream(tmp_path):
    import tracemalloc

    path = tmp_path / "big.csv"
    line = "张三丰,13812345678,zhang.sanfeng@example.com,男,1990/5/17,浙江省,杭州市,文三路 100 号 3 单元\n"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(",".join(CUSTOMER_HEADERS + ["地址"]) + "\n")
        fh.write(line * (50 * 1024 * 1024 // len(line.encode()) + 1))
    assert path.stat().st_size > 50 * 1024 * 1024
    tracemalloc.start()
    try:
        info = reader.inspect(path, "big.csv")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.total_rows > 400_000 and peak < 5 * 1024 * 1024
