"""`crm import` and `crm samples` as scripts and people use them: the counts line, the
rejected-rows path, exit codes, and nothing written when a file cannot be imported."""

from __future__ import annotations

import re

from click.testing import CliRunner

from db.customers.tables import Customer
from db.imports.tables import ImportJob
from db.orders.tables import Order
from tests.import_helpers import CUSTOMER_HEADERS, order_rows, write_csv
from web.cli import main

COUNTS = re.compile(r"^created (\d+), updated (\d+), rejected (\d+), unchanged (\d+)$", re.M)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_import_customers_prints_counts_and_the_rejects_file(tmp_path):
    path = write_csv(tmp_path / "客户.csv", [
        CUSTOMER_HEADERS, ["张三", "13812345678", "", "男", "", "", ""], ["坏", "1", "", "", "", "", ""]], "gb18030")
    result = run("import", "customers", path)
    assert result.exit_code == 0, result.output
    assert COUNTS.search(result.output).groups() == ("1", "0", "1", "0")
    rejects = tmp_path / "客户-rejected.csv"
    assert f"rejected rows: {rejects}" in result.output and rejects.is_file()
    again = run("import", "customers", path)
    assert again.exit_code == 0 and COUNTS.search(again.output).groups() == ("0", "0", "1", "1")
    assert Customer.count().run_sync() == 1


def test_import_orders_with_a_mapping_and_a_channel(tmp_path):
    rows = [["单据", "电话", "时间", "钱"]] + [[r[0], r[1], r[3], r[4]] for r in order_rows(5)[1:]]
    path = write_csv(tmp_path / "o.csv", rows)
    refused = run("import", "orders", path)
    assert refused.exit_code != 0 and "column is required" in refused.output
    mapping = '{"单据": "external_id", "电话": "mobile", "时间": "placed_at", "钱": "total"}'
    no_channel = run("import", "orders", path, "--mapping", mapping)
    assert no_channel.exit_code != 0 and "channel" in no_channel.output
    ok = run("import", "orders", path, "--mapping", mapping, "--channel", "jd")
    assert ok.exit_code == 0 and COUNTS.search(ok.output).groups() == ("5", "0", "0", "0")
    assert Order.count().where(Order.channel == "jd").run_sync() == 5


def test_files_that_cannot_be_imported_exit_non_zero_and_write_nothing(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    utf16 = tmp_path / "u16.csv"
    utf16.write_bytes("姓名,手机\n张三,13812345678\n".encode("utf-16"))
    no_mobile = write_csv(tmp_path / "n.csv", [["姓名", "城市"], ["张三", "杭州"]])
    for path, message in [(empty, "empty"), (utf16, "UTF-16"), (no_mobile, "mobile or an e-mail column"),
                          (tmp_path / "missing.csv", "no such file")]:
        result = run("import", "customers", path)
        assert result.exit_code != 0 and message in result.output, (path, result.output)
    bad_json = run("import", "customers", no_mobile, "--mapping", "{nope")
    assert bad_json.exit_code != 0 and "JSON" in bad_json.output
    assert ImportJob.count().run_sync() == 0 and Customer.count().run_sync() == 0
    assert not list(tmp_path.glob("*-rejected.csv"))


def test_samples_write_files_that_import(tmp_path):
    result = run("samples", tmp_path / "s")
    assert result.exit_code == 0
    names = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert names == sorted(["客户.xlsx", "订单.xlsx", "客户-GB18030.csv"])
    customers = run("import", "customers", tmp_path / "s" / "客户.xlsx")
    created, _, rejected, _ = map(int, COUNTS.search(customers.output).groups())
    assert customers.exit_code == 0 and created > 50 and rejected >= 3
    orders = run("import", "orders", tmp_path / "s" / "订单.xlsx")
    assert orders.exit_code == 0 and int(COUNTS.search(orders.output).group(1)) > 50
