"""The 360 card and its timeline: server-side latency through the real ASGI app.

    python -m tests.bench.bench_card [--requests 1000] [--seed 1] [--warmup 20] [--only TEXT]

Run from the repository root with the environment of the install to measure
(CRM_DATABASE_URL, CRM_DATA_DIR, ...), e.g. after `crm demo --customers 1000000`.

Targets (issue 3): the card p95 under 50 ms and the first timeline page p95 under 30 ms,
server-side. Measured like tests/bench/bench_customers.py (whose helpers it reuses): each
request goes through `web.app.create_app()` in process, one at a time, and the time is the
server's, from the ASGI call into the app to the last byte of the response: middleware,
session lookup, guards, the domain queries and the render.

Lines:
- `GET /customers/{id}` as admin, random ids in [1, max(id)] (target);
- `GET /customers/{id}/timeline` as an HTMX request (the first page fragment), same ids (target);
- the card and the first timeline page of the 200 customers with the most paid orders
  (the longest histories), and the second timeline page of those (a cursor from the first);
- the card as a demo staff member, on customers of their own scope.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import sys
import time
from datetime import UTC, datetime

os.environ.setdefault("CRM_LOG_LEVEL", "WARNING")
# The app's background loops off: on a freshly loaded demo the nightly job would run the
# missed night at start and hold the write lock while the sign-ins are made.
for _name in ("CRM_NIGHTLY_AT", "CRM_REMINDERS", "CRM_PUSH_SENDER"):
    os.environ.setdefault(_name, "off")

from tests.bench.bench_customers import (  # noqa: E402
    BASE_URL,
    Line,
    ServerTimer,
    _cleanup,
    _sign_ins,
)

CARD_TARGET_MS = 50.0
TIMELINE_TARGET_MS = 30.0
ENTRY = re.compile(r'<li class="timeline-item')
NEXT = re.compile(r'hx-get="(/customers/\d+/timeline\?after=[0-9.]+)"')


async def _prepare(args) -> dict:
    import random

    from db.engine import is_sqlite, raw

    rng = random.Random(args.seed)
    stats = (await raw("SELECT MAX(id) AS max_id, COUNT(*) AS n FROM customer"))[0]
    if not stats["max_id"]:
        raise SystemExit("no customers: load the demo data first (crm demo --customers N)")
    orders = (await raw('SELECT COUNT(*) AS n FROM "order"'))[0]["n"]
    interactions = (await raw("SELECT COUNT(*) AS n FROM interaction"))[0]["n"]
    n = args.requests + args.warmup
    busiest = [r["id"] for r in await raw(
        "SELECT id FROM customer ORDER BY orders_count DESC, id LIMIT 200")]
    admin_token, staff_token, admin_id, staff_label = await _sign_ins()
    staff_row = (await raw(
        "SELECT s.id, s.team FROM staff_user s WHERE s.role = {} AND s.team IS NOT NULL "
        "AND s.is_active = {} ORDER BY s.id LIMIT 1", "staff", True))[0]
    own = [r["id"] for r in await raw(
        "SELECT id FROM customer WHERE owner = {} OR (owner IS NULL AND team = {}) ORDER BY id LIMIT 5000",
        staff_row["id"], staff_row["team"])]
    return {
        "engine": "SQLite" if is_sqlite() else "PostgreSQL",
        "customers": stats["n"], "max_id": stats["max_id"], "orders": orders, "interactions": interactions,
        "admin": admin_token, "staff": staff_token, "admin_id": admin_id, "staff_label": staff_label,
        "tokens": [admin_token, staff_token],
        "random_ids": [rng.randint(1, stats["max_id"]) for _ in range(n)],
        "busiest": [busiest[i % len(busiest)] for i in range(n)] if busiest else [],
        "own": [rng.choice(own) for _ in range(n)] if own else [],
    }


async def _run(client, timer, line: Line, paths, token: str, warmup: int, htmx: bool,
               collect: list | None = None) -> None:
    headers = {"Cookie": f"crm_session={token}", "Accept-Language": "zh-CN,zh;q=0.9"}
    if htmx:
        headers["HX-Request"] = "true"
    for i, path in enumerate(paths):
        client.cookies.clear()
        response = await client.get(path, headers=headers, follow_redirects=False)
        if collect is not None and response.status_code == 200:
            found = NEXT.search(response.text)
            if found:
                collect.append(found.group(1))
        if i < warmup:
            continue
        if response.status_code not in (200, 404):
            line.errors += 1
            if line.errors == 1:
                print(f"  {line.label}: {path} -> {response.status_code}", file=sys.stderr)
            continue
        line.times_ms.append(timer.last_ms)
        line.hits.append(len(ENTRY.findall(response.text)))


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="measured requests per line")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests per line first")
    parser.add_argument("--only", default="", help="run only the lines whose label contains this")
    args = parser.parse_args(argv)

    from litestar.testing import AsyncTestClient

    from web.app import create_app
    from db.settings import get_settings

    data = await _prepare(args)
    app = create_app()
    timer = ServerTimer(app.asgi_handler)
    app.asgi_handler = timer
    w, n = args.warmup, args.requests
    admin, staff = data["admin"], data["staff"]
    card = [f"/customers/{i}" for i in data["random_ids"]]
    first = [f"/customers/{i}/timeline" for i in data["random_ids"]]
    busy_card = [f"/customers/{i}" for i in data["busiest"]]
    busy_first = [f"/customers/{i}/timeline" for i in data["busiest"]]
    second: list[str] = []
    plan = [
        (Line("card, admin, random id", target=True), admin, False, card, None, CARD_TARGET_MS),
        (Line("first timeline page, admin, random id", target=True), admin, True, first, None,
         TIMELINE_TARGET_MS),
        (Line("card, admin, 200 longest histories"), admin, False, busy_card, None, None),
        (Line("first timeline page, 200 longest histories"), admin, True, busy_first, second, None),
        (Line("second timeline page, 200 longest histories"), admin, True, second, None, None),
        (Line(f"card, staff ({data['staff_label']})"), staff, False,
         [f"/customers/{i}" for i in data["own"]], None, None),
    ]
    plan = [entry for entry in plan if args.only in entry[0].label]
    load_before = os.getloadavg()
    started = time.perf_counter()
    try:
        async with AsyncTestClient(app=app, base_url=BASE_URL) as client:
            for line, token, htmx, paths, collect, _ in plan:
                await _run(client, timer, line, paths[: w + n], token, w, htmx, collect)
    finally:
        await _cleanup(data["admin_id"], data["tokens"])
    elapsed = time.perf_counter() - started
    load_after = os.getloadavg()

    settings = get_settings()
    pool = settings.db_pool_size if data["engine"] == "PostgreSQL" else "n/a"
    print(
        f"bench_card  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {data['engine']}  "
        f"{data['customers']:,} customers (max id {data['max_id']:,}), {data['orders']:,} orders, "
        f"{data['interactions']:,} interactions"
    )
    print(
        f"requests/line {n} (+{w} warm-up), seed {args.seed}, one at a time; pool {pool}; "
        f"{os.cpu_count()} CPUs; Python {platform.python_version()}; "
        f"load avg before {load_before[0]:.2f} / after {load_after[0]:.2f}; {elapsed:.0f} s"
    )
    print("server-side ms (ASGI call to last byte); entries = timeline items in the response")
    print(f"{'line':<52} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} {'entries':>7}  target")
    missed = False
    for line, _, _, _, _, target in plan:
        if not line.times_ms:
            print(f"{line.label:<52} no successful requests ({line.errors} errors)")
            missed = missed or line.target
            continue
        p95 = line.pct(95)
        verdict = ""
        if target:
            verdict = f"p95<{target:.0f}: " + ("met" if p95 < target else "MISSED")
            missed |= p95 >= target
        entries = f"{sum(line.hits) / len(line.hits):7.1f}" if line.hits else "      -"
        errors = f"  ({line.errors} errors)" if line.errors else ""
        print(
            f"{line.label:<52} {line.pct(50):7.1f} {p95:7.1f} {line.pct(99):7.1f} "
            f"{max(line.times_ms):7.1f} {entries}  {verdict}{errors}"
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
