"""The dashboard (/dashboard): server-side latency through the real ASGI app.

    python -m tests.bench.bench_dashboard [--requests 200] [--seed 1] [--warmup 10] [--only TEXT]
                                          [--ranges 20]

Run from the repository root with the environment of the install to measure
(CRM_DATABASE_URL, CRM_DATA_DIR, ...), e.g. after `crm demo --customers 1000000 --order-scale 3.3`.

Target (issue 13): the dashboard p95 under 80 ms at 1,000,000 customers. Measured like
tests/bench/bench_card.py (whose helpers it shares): each request goes through
`web.app.create_app()` in process, one at a time, and the time is the server's, from the ASGI
call into the app to the last byte of the response: middleware, session, guards, the figures'
queries, the charts and the render.

The figures come from the figure store (db/figures/store.py). Before a line is measured its
figures are computed once, as the dashboard's Refresh button does (POST /dashboard/refresh,
fresh=True: the queries, the store's write and the figures block), timed and printed as
"cold": what a first view costs without the nightly warm-up. The measured requests then read
the stored figures ("warm"), which is what a view costs once the nightly job or a first view
has stored them. CRM_FIGURES_MAX_AGE_SECONDS defaults to a day here, so nothing turns stale
while it runs (a stale entry would queue a refresh in the background of the measurements),
and the app's start-up warm-up is left out for the same reason; with 0 (the store off) every
request computes live and there is no cold line.

Lines:
- the page as admin for each preset (this week, this month, last 30 and 90 days), last 30
  days as the target line;
- the page as admin for custom ranges of 7 to 366 days within the last two years
  (`--ranges` distinct random ones, 20 by default, requested in turn: each is computed once
  cold);
- the figures fragment (an HTMX request, as when a filter changes), admin, last 30 days;
- the page as a demo manager (their team) and as a demo staff member (their own), last 30 days.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import re
import sys
import time
from datetime import UTC, datetime

os.environ.setdefault("CRM_LOG_LEVEL", "WARNING")
for _name in ("CRM_NIGHTLY_AT", "CRM_REMINDERS", "CRM_PUSH_SENDER"):
    os.environ.setdefault(_name, "off")
os.environ.setdefault("CRM_FIGURES_MAX_AGE_SECONDS", "86400")

from tests.bench.bench_customers import (  # noqa: E402
    BASE_URL,
    Line,
    ServerTimer,
    _cleanup,
    _sign_ins,
)

TARGET_MS = 80.0


async def _prepare(args) -> dict:
    import random

    from db.engine import is_sqlite, raw
    from db.figures.period import shop_today
    from db.staff.accounts import start_session

    rng = random.Random(args.seed)
    stats = (await raw("SELECT COUNT(*) AS n FROM customer"))[0]
    if not stats["n"]:
        raise SystemExit("no customers: load the demo data first (crm demo --customers N)")
    orders = (await raw('SELECT COUNT(*) AS n FROM "order"'))[0]["n"]
    entries = (await raw("SELECT COUNT(*) AS n FROM points_entry"))[0]["n"]
    admin_token, staff_token, admin_id, staff_label = await _sign_ins()
    manager = await raw(
        "SELECT s.id, s.username FROM staff_user s WHERE s.role = {} AND s.team IS NOT NULL "
        "AND s.is_active = {} ORDER BY s.id LIMIT 1", "manager", True)
    if not manager:
        raise SystemExit("no active manager in a team: load the demo data first (crm demo)")
    manager_token = await start_session(manager[0]["id"], "", "127.0.0.1", "bench_dashboard")
    today = shop_today()
    ranges = []
    for _ in range(max(1, args.ranges)):
        days = rng.randint(7, 366)
        end = today - dt.timedelta(days=rng.randint(0, 730 - days))
        ranges.append((end - dt.timedelta(days=days - 1), end))
    return {
        "engine": "SQLite" if is_sqlite() else "PostgreSQL",
        "customers": stats["n"], "orders": orders, "entries": entries,
        "admin": admin_token, "staff": staff_token, "manager": manager_token,
        "admin_id": admin_id, "staff_label": staff_label, "manager_label": manager[0]["username"],
        "tokens": [admin_token, staff_token, manager_token], "ranges": ranges,
    }


def _refresh_form(path: str) -> dict:
    """What the Refresh button posts for the dashboard at `path`."""
    from urllib.parse import parse_qsl, urlsplit

    from db.figures.period import Period

    query = dict(parse_qsl(urlsplit(path).query))
    if "preset" in query:
        query.update(Period.preset(query.pop("preset")).query())
    return query


async def _cold(client, timer, line: Line, paths, token: str) -> list[float]:
    """Each distinct path's figures computed now (the Refresh button), timed."""
    headers = {"Cookie": f"crm_session={token}", "Accept-Language": "zh-CN,zh;q=0.9"}
    client.cookies.clear()
    page = await client.get("/more", headers=headers)
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    if not found:
        raise SystemExit(f"{line.label}: no CSRF token on /more ({page.status_code})")
    times = []
    for path in dict.fromkeys(paths):
        client.cookies.clear()
        response = await client.post("/dashboard/refresh", data=_refresh_form(path),
                                     headers=headers | {"HX-Request": "true",
                                                        "X-CSRFToken": found.group(1)})
        if response.status_code != 200 or 'id="tile-sales_fen"' not in response.text:
            print(f"  {line.label}: refresh {path} -> {response.status_code}", file=sys.stderr)
            continue
        times.append(timer.last_ms)
    return times


async def _run(client, timer, line: Line, paths, token: str, warmup: int, htmx: bool) -> None:
    headers = {"Cookie": f"crm_session={token}", "Accept-Language": "zh-CN,zh;q=0.9"}
    if htmx:
        headers["HX-Request"] = "true"
    for i, path in enumerate(paths):
        client.cookies.clear()
        response = await client.get(path, headers=headers, follow_redirects=False)
        if i < warmup:
            continue
        if response.status_code != 200 or 'id="tile-sales_fen"' not in response.text:
            line.errors += 1
            if line.errors == 1:
                print(f"  {line.label}: {path} -> {response.status_code}", file=sys.stderr)
            continue
        line.times_ms.append(timer.last_ms)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="measured requests per line")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured requests per line first")
    parser.add_argument("--only", default="", help="run only the lines whose label contains this")
    parser.add_argument("--ranges", type=int, default=20,
                        help="distinct custom ranges, requested in turn (each computed once cold)")
    args = parser.parse_args(argv)

    from litestar.testing import AsyncTestClient

    from db.figures import store, warm
    from db.settings import get_settings
    from web.app import create_app

    async def no_warm_up() -> None:  # it would compute in the background of the measurements
        return None

    warm.queue_if_empty = no_warm_up

    data = await _prepare(args)
    app = create_app()
    timer = ServerTimer(app.asgi_handler)
    app.asgi_handler = timer
    w, n = args.warmup, args.requests
    admin, staff, manager = data["admin"], data["staff"], data["manager"]

    def same(path: str) -> list[str]:
        return [path] * (w + n)

    ranges = data["ranges"]
    custom = [f"/dashboard?from={a.isoformat()}&to={b.isoformat()}"
              for a, b in (ranges[i % len(ranges)] for i in range(w + n))]
    plan = [
        (Line("admin, last 30 days", target=True), admin, False, same("/dashboard?preset=30d"), TARGET_MS),
        (Line("admin, this week"), admin, False, same("/dashboard?preset=week"), TARGET_MS),
        (Line("admin, this month"), admin, False, same("/dashboard?preset=month"), TARGET_MS),
        (Line("admin, last 90 days"), admin, False, same("/dashboard?preset=90d"), TARGET_MS),
        (Line("admin, custom range 7-366 days"), admin, False, custom, TARGET_MS),
        (Line("admin, fragment (HTMX), last 30 days"), admin, True, same("/dashboard?preset=30d"), TARGET_MS),
        (Line(f"manager ({data['manager_label']}), last 30 days", target=True), manager, False,
         same("/dashboard?preset=30d"), TARGET_MS),
        (Line(f"staff ({data['staff_label']}), last 30 days", target=True), staff, False,
         same("/dashboard?preset=30d"), TARGET_MS),
    ]
    plan = [entry for entry in plan if args.only in entry[0].label]
    load_before = os.getloadavg()
    started = time.perf_counter()
    cold: dict[str, list[float]] = {}
    try:
        async with AsyncTestClient(app=app, base_url=BASE_URL) as client:
            for line, token, htmx, paths, _ in plan:
                if store.enabled():
                    cold[line.label] = await _cold(client, timer, line, paths[: w + n], token)
                await _run(client, timer, line, paths[: w + n], token, w, htmx)
    finally:
        await _cleanup(data["admin_id"], data["tokens"])
    elapsed = time.perf_counter() - started
    load_after = os.getloadavg()

    settings = get_settings()
    pool = settings.db_pool_size if data["engine"] == "PostgreSQL" else "n/a"
    print(
        f"bench_dashboard  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {data['engine']}  "
        f"{data['customers']:,} customers, {data['orders']:,} orders, "
        f"{data['entries']:,} points entries"
    )
    print(
        f"requests/line {n} (+{w} warm-up), seed {args.seed}, one at a time; pool {pool}; "
        f"{os.cpu_count()} CPUs; Python {platform.python_version()}; "
        f"load avg before {load_before[0]:.2f} / after {load_after[0]:.2f}; {elapsed:.0f} s"
    )
    age = settings.figures_max_age_seconds
    print(f"figure store: {'max age ' + str(age) + ' s' if age else 'off (every request computes live)'}")
    print("server-side ms (ASGI call to last byte)")
    if cold:
        print("cold: the figures computed now (POST /dashboard/refresh), once per distinct page")
        print(f"{'line':<52} {'n':>4} {'p50':>9} {'max':>9}")
        for line, *_ in plan:
            times = sorted(cold.get(line.label) or [])
            if times:
                print(f"{line.label:<52} {len(times):>4} {times[(len(times) - 1) // 2]:9.1f} {times[-1]:9.1f}")
        print("warm: the stored figures")
    print(f"{'line':<52} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  target")
    missed = False
    for line, _, _, _, target in plan:
        if not line.times_ms:
            print(f"{line.label:<52} no successful requests ({line.errors} errors)")
            missed = missed or line.target
            continue
        p95 = line.pct(95)
        verdict = f"p95<{target:.0f}: " + ("met" if p95 < target else "MISSED")
        if line.target:
            missed |= p95 >= target
        errors = f"  ({line.errors} errors)" if line.errors else ""
        print(f"{line.label:<52} {line.pct(50):7.1f} {p95:7.1f} {line.pct(99):7.1f} "
              f"{max(line.times_ms):7.1f}  {verdict}{errors}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
