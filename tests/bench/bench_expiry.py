"""Points expiry over a big ledger: `expire_due(today)` on a database made by the demo
generator with about 20,000,000 points entries.

    python -m tests.bench.bench_expiry [--points-entries 20000000] [--customers 200000]
                                       [--today 2027-01-01] [--chunk 5000]

Without CRM_DATABASE_URL it makes a throw-away SQLite database; with it (a scratch database)
it loads `crm demo --customers N --points-entries M` there when it has no members yet (a
second run reuses it: expire once more on a later --today, or recreate the database). The
default `today` is the next 1 January, when every lot earned the year before last expires
(the demo's shop expires points at the end of the year after earning). Reports the lots due,
the time of the run, lots expired and the ledger's rules afterwards (balance = sum of entries
= sum of lot remainders, none negative, each lot expired once). Target (issue 5): under 5
minutes at 20,000,000 entries. Exits 1 when missed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import tempfile
import time

os.environ.setdefault("CRM_LOG_LEVEL", "WARNING")
os.environ.setdefault("PICCOLO_CONF", "piccolo_conf")
if not os.environ.get("CRM_DATABASE_URL"):
    _TMP = tempfile.mkdtemp(prefix="bench-expiry-")
    os.environ["CRM_DATABASE_URL"] = f"sqlite:///{_TMP}/crm.sqlite3"
    os.environ.setdefault("CRM_DATA_DIR", f"{_TMP}/data")

TARGET_S = 300.0


async def _run(args) -> int:
    from db.demo import load_demo
    from db.engine import engine, raw
    from db.members.expiry import expire_due
    from web.cli import _migrate

    await _migrate()
    if not (await raw("SELECT COUNT(*) AS n FROM member"))[0]["n"]:
        started = time.monotonic()
        last = [0.0]

        def progress(label, done, total):
            if time.monotonic() - last[0] > 15:
                last[0] = time.monotonic()
                print(f"  {label}: {done:,} / {total:,}", flush=True)

        result = await load_demo(customers=args.customers, seed=20, points_entries=args.points_entries,
                                 progress=progress)
        print(f"demo: {result.customers:,} customers, {result.orders:,} orders, {result.members:,} members, "
              f"{result.points_entries:,} entries in {time.monotonic() - started:.0f} s", flush=True)
    today = dt.date.fromisoformat(args.today) if args.today else dt.date(dt.date.today().year + 1, 1, 1)
    entries = (await raw("SELECT COUNT(*) AS n FROM points_entry"))[0]["n"]
    lots = (await raw("SELECT COUNT(*) AS n FROM points_lot"))[0]["n"]
    due = await raw("SELECT COUNT(*) AS n, COALESCE(SUM(remaining), 0) AS points FROM points_lot "
                    "WHERE expires_on < {} AND remaining > 0", today)
    before_expire = (await raw("SELECT COUNT(*) AS n FROM points_entry WHERE kind = 'expire'"))[0]["n"]
    name = "SQLite" if engine().engine_type == "sqlite" else "PostgreSQL"
    print(f"{name}: {entries:,} entries, {lots:,} lots; due before {today}: {due[0]['n']:,} lots, "
          f"{int(due[0]['points']):,} points", flush=True)

    started = time.monotonic()
    expired = await expire_due(today, chunk=args.chunk)
    took = time.monotonic() - started
    print(f"  expire_due: {expired:,} lots expired in {took:.1f} s "
          f"({expired / max(took, 1e-9):,.0f} lots/s, chunks of {args.chunk:,})", flush=True)

    started = time.monotonic()
    problems = []
    if expired != due[0]["n"]:
        problems.append(f"{expired:,} expired of {due[0]['n']:,} due")
    left = await raw("SELECT COUNT(*) AS n FROM points_lot WHERE expires_on < {} AND remaining > 0", today)
    if left[0]["n"]:
        problems.append(f"{left[0]['n']:,} due lots still hold points")
    written = (await raw("SELECT COUNT(*) AS n FROM points_entry WHERE kind = 'expire'"))[0]["n"] - before_expire
    if written != expired:
        problems.append(f"{written:,} expire entries for {expired:,} lots")
    bad = await raw(
        "SELECT COUNT(*) AS n FROM member m "
        "LEFT JOIN (SELECT member, SUM(delta) AS s FROM points_entry GROUP BY member) e ON e.member = m.id "
        "LEFT JOIN (SELECT member, SUM(remaining) AS s FROM points_lot GROUP BY member) l ON l.member = m.id "
        "WHERE m.points_balance < 0 OR m.points_balance <> COALESCE(e.s, 0) OR m.points_balance <> COALESCE(l.s, 0)")
    if bad[0]["n"]:
        problems.append(f"{bad[0]['n']:,} members whose balance is not the sum of entries and lots")
    twice = await raw("SELECT COUNT(*) AS n FROM (SELECT source_id FROM points_entry WHERE kind = 'expire' "
                      "GROUP BY source_id HAVING COUNT(*) > 1) t")
    if twice[0]["n"]:
        problems.append(f"{twice[0]['n']:,} lots expired twice")
    print(f"  ledger rules checked in {time.monotonic() - started:.0f} s: "
          f"{'; '.join(problems) if problems else 'all hold'}")
    ok = took < TARGET_S and not problems
    print(f"  target under {TARGET_S:.0f} s: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points-entries", type=int, default=20_000_000)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--today", default="")
    parser.add_argument("--chunk", type=int, default=5000)
    return asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
