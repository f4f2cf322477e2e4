"""The nightly recompute: figures, lifecycle stage, RFM and rule tags for every customer.

    python -m tests.bench.bench_lifecycle [--reset] [--target-s 120]

Run from the repository root with the environment of the install to measure
(CRM_DATABASE_URL, CRM_DATA_DIR), e.g. after `crm demo --customers 1000000`.

--reset first zeroes every customer's derived columns (not timed), so the run has to write
every row, as on the first night after a bulk load; without it the run writes only what
changed since the last one, as on an ordinary night. Exits 1 when the run takes longer than
the target (the requirement: under 2 minutes for 1,000,000 customers on SQLite).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time

os.environ.setdefault("PICCOLO_CONF", "piccolo_conf")


async def main(reset: bool, target_s: float) -> int:
    from db.customers.lifecycle import recompute_all
    from db.engine import engine, raw

    eng = engine()
    counts = (await raw('SELECT (SELECT COUNT(*) FROM customer) AS c, (SELECT COUNT(*) FROM "order") AS o'))[0]
    print(f"engine {eng.engine_type}, {counts['c']:,} customers, {counts['o']:,} orders, "
          f"python {platform.python_version()}, {os.cpu_count()} cores")
    if reset:
        t = time.perf_counter()
        await raw("UPDATE customer SET orders_count = 0, total_spent_fen = 0, first_order_at = NULL, "
                  "last_order_at = NULL, lifecycle_stage = 'prospect', rfm_r = 0, rfm_f = 0, rfm_m = 0")
        print(f"reset derived columns in {time.perf_counter() - t:.1f} s (not counted)")
    t = time.perf_counter()
    await recompute_all()
    seconds = time.perf_counter() - t
    stages = await raw("SELECT lifecycle_stage AS s, COUNT(*) AS n FROM customer GROUP BY lifecycle_stage ORDER BY 2 DESC")
    print(f"recompute_all: {seconds:.1f} s  (target {target_s:.0f} s)  "
          + ", ".join(f"{r['s']} {r['n']:,}" for r in stages))
    return 0 if seconds <= target_s else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reset", action="store_true")
    parser.add_argument("--target-s", type=float, default=120.0)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.reset, args.target_s)))
