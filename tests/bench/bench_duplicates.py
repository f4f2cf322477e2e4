"""Likely duplicates: what the review page and a full pass cost on a large shop.

    python -m tests.bench.bench_duplicates [--pages 20] [--limit 20]

Run from the repository root with the environment of the install to measure (CRM_DATABASE_URL,
CRM_DATA_DIR), e.g. after `crm demo --customers 100000`. It prints:

- the query plan of the name-key page (it must use the customer_name_key index);
- the time of the first review page and of the next `--pages` pages (limit pairs each, the
  work the page /customers/duplicates does, scope: admin);
- a full pass over every name block (what a background job would run), with the number of
  customers read, blocks, pairs and the largest block, and the time per 100,000 customers.

No target is enforced (the issue sets none); the figures go in the report and the README.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

os.environ.setdefault("CRM_LOG_LEVEL", "WARNING")
os.environ.setdefault("PICCOLO_CONF", "piccolo_conf")


async def main(pages: int, limit: int) -> None:
    from db.customers import duplicates
    from db.customers.scope import Scope
    from db.engine import engine, is_sqlite, raw

    everyone = Scope.everything()
    eng = engine()
    if not is_sqlite():  # as the app runs: a connection pool (web/app.py _database)
        await eng.start_connection_pool(min_size=1, max_size=2)
    total = (await raw("SELECT COUNT(*) AS n FROM customer"))[0]["n"]
    key = duplicates.NAME_KEY.format(a="c.")
    explain = "EXPLAIN QUERY PLAN " if is_sqlite() else "EXPLAIN "
    plan = await raw(
        f"{explain}SELECT k, COUNT(*) AS n FROM (SELECT {key} AS k FROM customer c WHERE 1 = 1 "
        f"AND {key} > {{}}) named GROUP BY k HAVING COUNT(*) > 1 ORDER BY k LIMIT 500", "",
    )
    print(f"customers: {total:,}  engine: {'sqlite' if is_sqlite() else 'postgresql'}")
    print("plan:", " | ".join(str(r.get("detail") or r.get("QUERY PLAN")) for r in plan))

    started = time.perf_counter()
    found, cursor = await duplicates.find_likely_duplicates(everyone, limit)
    first = time.perf_counter() - started
    times = []
    for _ in range(pages):
        if cursor is None:
            break
        t = time.perf_counter()
        more, cursor = await duplicates.find_likely_duplicates(everyone, limit, cursor)
        times.append(time.perf_counter() - t)
    times.sort()
    print(f"first page: {first * 1000:.0f} ms ({len(found)} pairs)")
    if times:
        print(f"next {len(times)} pages: median {times[len(times) // 2] * 1000:.0f} ms, "
              f"max {times[-1] * 1000:.0f} ms")

    blocks = (await raw(
        f"SELECT COUNT(*) AS blocks, COALESCE(SUM(n), 0) AS rows, COALESCE(MAX(n), 0) AS largest FROM "
        f"(SELECT COUNT(*) AS n FROM customer c GROUP BY {key} HAVING COUNT(*) > 1) b"
    ))[0]
    started = time.perf_counter()
    pairs, cursor, calls = 0, None, 0
    while True:
        page, cursor = await duplicates.find_likely_duplicates(everyone, 10_000, cursor)
        pairs += len(page)
        calls += 1
        if cursor is None:
            break
    full = time.perf_counter() - started
    print(f"full pass: {full:.1f} s in {calls} calls; {blocks['blocks']:,} name blocks holding "
          f"{blocks['rows']:,} customers (largest {blocks['largest']:,}); {pairs:,} pairs; "
          f"{full / max(total, 1) * 100_000:.1f} s per 100,000 customers")
    if not is_sqlite():
        await eng.close_connection_pool()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--limit", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.pages, args.limit))
