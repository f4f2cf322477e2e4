"""Today for a busy person: server-side latency of `GET /today` with 500 open follow-ups.

    python -m tests.bench.bench_today [--requests 1000] [--open 500] [--warmup 20]

Run from the repository root against the install to measure (CRM_DATABASE_URL, ...), e.g.
after `crm demo --customers 1000000`, so the follow-up table sits beside a large customer
table. It makes a throw-away staff member with `--open` open follow-ups on demo customers:
a fifth overdue (up to 30 days), a fifth due later today, the rest over the next 7 days, a
third of them with a pending reminder, plus 2,000 completed ones. Each request goes through
`web.app.create_app()` in process, one at a time, timed from the ASGI call to the last byte
(middleware, session, the Today badge, the three lists and the render), like
tests/bench/bench_card.py. The full page and the HTMX refresh of the lists (what a completed
follow-up brings back) are measured. Target (issue 4): p95 under 40 ms. Exits 1 if missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import secrets
import sys
from datetime import timedelta

os.environ.setdefault("CRM_LOG_LEVEL", "WARNING")

from tests.bench.bench_customers import BASE_URL, Line, ServerTimer  # noqa: E402
from tests.bench.bench_push import _rows  # noqa: E402

TARGET_MS = 40.0


async def _prepare(open_count: int) -> tuple[int, str]:
    from db.clock import now
    from db.engine import raw
    from db.staff.accounts import create_user, start_session

    rng = random.Random(4)
    user_id = await create_user(f"bench-today-{secrets.token_hex(4)}", secrets.token_urlsafe(24),
                                "staff", None, "Bench Today")
    customers = [r["id"] for r in await raw("SELECT id FROM customer ORDER BY id LIMIT 5000")]
    if not customers:
        raise SystemExit("no customers: load the demo data first (crm demo)")
    at = now()
    rows = []
    for i in range(open_count):
        share = i / open_count
        if share < 0.2:
            due = at - timedelta(minutes=rng.randint(1, 30 * 24 * 60))
        elif share < 0.4:
            due = at + timedelta(minutes=rng.randint(1, 8 * 60))
        else:
            due = at + timedelta(minutes=rng.randint(24 * 60, 7 * 24 * 60))
        remind = due if i % 3 == 0 and due > at else None
        rows.append((rng.choice(customers), user_id, rng.choice(("call", "visit", "message")),
                     f"回访 {i}：确认新品试用感受", rng.choice(("normal", "high", "low")), "open", due,
                     remind, "pending" if remind else "none", False, "", "web", at, at, None))
    for i in range(2000):
        done = at - timedelta(minutes=rng.randint(1, 60 * 24 * 60))
        rows.append((rng.choice(customers), user_id, "call", f"已完成 {i}", "normal", "done", done,
                     None, "none", False, "已接通", "web", done, done, done))
    await _rows("INSERT INTO follow_up (customer, assignee, kind, title, priority, status, due_at, "
                "remind_at, reminder_state, reminder_late, outcome, source, created_at, updated_at, "
                "done_at) VALUES ", rows, 15)
    await raw("ANALYZE follow_up")  # both engines: plan with the new rows' statistics
    token = await start_session(user_id, "", "127.0.0.1", "bench_today")
    return user_id, token


async def _cleanup(user_id: int) -> None:
    from db.engine import raw, writing

    async with writing():
        await raw("DELETE FROM follow_up WHERE assignee = {}", user_id)
        await raw("DELETE FROM staff_user WHERE id = {}", user_id)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--open", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()

    from litestar.testing import AsyncTestClient

    from db.engine import engine, raw
    from web.app import create_app

    user_id, token = await _prepare(args.open)
    app = create_app()
    timer = ServerTimer(app.asgi_handler)
    app.asgi_handler = timer
    customers = (await raw("SELECT COUNT(*) AS n FROM customer"))[0]["n"]
    lines = [Line("GET /today (full page)", target=True), Line("GET /today (HTMX: the lists)", target=True)]
    try:
        async with AsyncTestClient(app=app, base_url=BASE_URL) as client:
            for line, htmx in zip(lines, (False, True)):
                headers = {"Cookie": f"crm_session={token}", "Accept-Language": "zh-CN"}
                if htmx:
                    headers["HX-Request"] = "true"
                for i in range(args.warmup + args.requests):
                    client.cookies.clear()
                    response = await client.get("/today", headers=headers)
                    if response.status_code != 200:
                        line.errors += 1
                        continue
                    if i >= args.warmup:
                        line.times_ms.append(timer.last_ms)
                        line.hits.append(response.text.count('class="fu-row'))
    finally:
        await _cleanup(user_id)

    print(f"engine   {engine().engine_type}  ({platform.python_version()}, {os.cpu_count()} cores); "
          f"{customers:,} customers; one person with {args.open} open and 2,000 done follow-ups")
    ok = True
    for line in lines:
        p95 = line.pct(95)
        ok &= p95 < TARGET_MS and not line.errors
        print(f"{line.label:34} p50 {line.pct(50):6.1f} ms  p95 {p95:6.1f} ms  p99 {line.pct(99):6.1f} ms  "
              f"rows shown {line.hits[0] if line.hits else 0}  errors {line.errors}")
    print(f"target   p95 < {TARGET_MS:.0f} ms: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
