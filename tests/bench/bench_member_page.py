"""The member page: server-side latency of `GET /m/` (and, reported, the points history and
the rewards) for signed-in members.

    python -m tests.bench.bench_member_page [--requests 1000] [--members 200] [--warmup 20]

Run from the repository root against the install to measure (CRM_DATABASE_URL, ...), e.g.
after `crm demo --customers 1000000`. It uses the demo's members if there are enough, else
makes demo customers members with membership.join and gives each 30 point entries with
ledger.post (members and entries stay: the ledger is append-only); it starts a member
session for each and ends them when done. Each request goes through `web.app.create_app()`
in process, one at a time, a random member each, timed from the ASGI call to the last byte
(middleware, the member session, the summary queries and the render), like
tests/bench/bench_today.py. Target (issue 5): `/m/` p95 under 40 ms. Exits 1 if missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sys

os.environ.setdefault("CRM_LOG_LEVEL", "WARNING")

from tests.bench.bench_customers import BASE_URL, Line, ServerTimer  # noqa: E402

TARGET_MS = 40.0
ENTRIES = 30


async def _prepare(count: int) -> list[tuple[int, str]]:
    from db.actor import Actor
    from db.engine import raw
    from db.members import ledger, membership, signin

    members = [r["id"] for r in await raw("SELECT id FROM member ORDER BY id LIMIT {}", count)]
    if len(members) < count:
        customers = await raw("SELECT c.id FROM customer c LEFT JOIN member m ON m.customer = c.id "
                              "WHERE m.id IS NULL ORDER BY c.id LIMIT {}", count - len(members))
        if not customers and not members:
            raise SystemExit("no customers: load the demo data first (crm demo)")
        actor = Actor(None, "bench_member_page")
        rng = random.Random(5)
        for row in customers:
            member = await membership.join(row["id"], "staff", actor)
            for i in range(ENTRIES):
                await ledger.post(member["id"], rng.randint(5, 400), kind="earn", reason="order",
                                  source_type="order", key=f"bench-m:{member['id']}:{i}")
            members.append(member["id"])
    return [(m, await signin.start_session(m, "127.0.0.1", "bench_member_page")) for m in members]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()

    from litestar.testing import AsyncTestClient

    from db.engine import engine, raw
    from db.members import signin
    from web.app import create_app

    sessions = await _prepare(args.members)
    app = create_app()
    timer = ServerTimer(app.asgi_handler)
    app.asgi_handler = timer
    customers = (await raw("SELECT COUNT(*) AS n FROM customer"))[0]["n"]
    all_members = (await raw("SELECT COUNT(*) AS n FROM member"))[0]["n"]
    entries = (await raw("SELECT COUNT(*) AS n FROM points_entry"))[0]["n"]
    lines = [(Line("GET /m/ (home)", target=True), "/m/"), (Line("GET /m/points"), "/m/points"),
             (Line("GET /m/rewards"), "/m/rewards")]
    rng = random.Random(1)
    try:
        async with AsyncTestClient(app=app, base_url=BASE_URL) as client:
            for line, path in lines:
                for i in range(args.warmup + args.requests):
                    _, token = rng.choice(sessions)
                    client.cookies.clear()
                    response = await client.get(path, headers={"Cookie": f"crm_member={token}",
                                                               "Accept-Language": "zh-CN"})
                    if response.status_code != 200:
                        line.errors += 1
                        continue
                    if i >= args.warmup:
                        line.times_ms.append(timer.last_ms)
                        line.hits.append(len(response.content))
    finally:
        for _, token in sessions:
            await signin.end_session(token)

    print(f"engine   {engine().engine_type}  ({platform.python_version()}, {os.cpu_count()} cores); "
          f"{customers:,} customers, {all_members:,} members, {entries:,} point entries; "
          f"{len(sessions)} members signed in")
    ok = True
    for line, _ in lines:
        p95 = line.pct(95)
        if line.target:
            ok &= p95 < TARGET_MS and not line.errors
        size = sum(line.hits) // max(1, len(line.hits))
        print(f"{line.label:22} p50 {line.pct(50):6.1f} ms  p95 {p95:6.1f} ms  p99 {line.pct(99):6.1f} ms  "
              f"page {size / 1024:5.1f} KiB  errors {line.errors}")
    print(f"target   /m/ p95 < {TARGET_MS:.0f} ms: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
