"""Import speed: 100,000 order rows (with their customers) from one file.

    python -m tests.bench.bench_import [--rows 100000] [--customers 30000] [--format csv|xlsx]

Run from the repository root with the environment of the database to measure
(CRM_DATABASE_URL, CRM_DATA_DIR). The script writes the file into a temporary folder,
imports it the way `crm import orders FILE` does (db.imports.jobs.import_file: read, check,
then batches of 1,000 rows, each one write transaction with the lifecycle refresh), then
imports the same file again (every row unchanged), and prints both times. Requirement: the
first import under 60 s. It uses order numbers of its own (prefix BENCH-<seed>-), so it can
run against a database that already holds demo data; run it on a database you can throw away.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("CRM_LOG_LEVEL", "WARNING")
os.environ.setdefault("PICCOLO_CONF", "piccolo_conf")

TARGET_S = 60.0


def write_file(folder: Path, rows: int, customers: int, seed: int, file_format: str) -> Path:
    import csv
    import datetime as dt
    import random

    rng = random.Random(seed)
    channels = ["天猫", "京东", "抖音", "拼多多", "小程序", "门店"]
    statuses = ["已付款"] * 9 + ["已退款"]
    base = dt.datetime(2025, 1, 1, 9, 0)
    header = ["订单号", "手机号", "姓名", "下单时间", "实付金额", "渠道", "订单状态"]
    data = []
    for i in range(rows):
        c = rng.randrange(customers)
        when = base + dt.timedelta(minutes=rng.randrange(600_000))
        shown = when.strftime("%Y-%m-%d %H:%M:%S") if i % 2 else when.strftime("%Y/%-m/%-d %H:%M")
        data.append([f"BENCH-{seed}-{i:07d}", f"13{(seed % 10)}{c:08d}", f"客户{c}", shown,
                     f"¥{rng.randrange(10, 5000):,}.{rng.randrange(100):02d}", rng.choice(channels),
                     rng.choice(statuses)])
    if file_format == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet()
        sheet.append(header)
        for row in data:
            sheet.append(row)
        path = folder / "orders.xlsx"
        book.save(path)
        return path
    path = folder / "orders.csv"
    with open(path, "w", encoding="gb18030", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(data)
    return path


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    args = parser.parse_args()

    from db.engine import engine
    from db.imports.jobs import import_file
    from web.cli import _migrate
    from db.settings import get_settings

    await _migrate()
    settings = get_settings()
    print(f"engine: {'SQLite' if settings.is_sqlite else 'PostgreSQL'} | python {platform.python_version()} "
          f"| {os.cpu_count()} cores | {args.rows:,} order rows for {args.customers:,} customers, {args.format}")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        path = write_file(Path(tmp), args.rows, args.customers, args.seed, args.format)
        print(f"file: {path.stat().st_size / 1e6:.1f} MB written in {time.perf_counter() - started:.1f} s")
        results = []
        for label in ("first import", "same file again"):
            started = time.perf_counter()
            job = await import_file("orders", path)
            elapsed = time.perf_counter() - started
            results.append(elapsed)
            print(f"{label:16s} {elapsed:6.1f} s  ({args.rows / elapsed:,.0f} rows/s)  created {job['created']:,}, "
                  f"updated {job['updated']:,}, unchanged {job['unchanged']:,}, rejected {job['rejected']:,} "
                  f"[{job['status']}]")
    del engine
    ok = results[0] < TARGET_S
    print(f"target: first import under {TARGET_S:.0f} s -> {'OK' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
