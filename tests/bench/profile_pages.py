"""Where a page's time goes, in process: ms, queries and connections per request (issue 12).

    python -m tests.bench.profile_pages [--requests 200] [--only card] [--profile card]
                                        [--queries card]

The pages of bench_pages (the card of a member with orders, points and follow-ups, the
customer list, Today, the member page home) through `web.app.create_app()` (httpx's ASGI transport, in this thread) one request at a
time, timed like bench_card (ASGI call to last byte). Per request it counts the statements
sent (`queries`) and the connections taken (`conns`: on SQLite a new aiosqlite connection
for a write or a transaction, the kept reader counts none; on PostgreSQL a pool acquire, by
a statement or a transaction). `--profile NAME` prints a pyinstrument profile of that page;
`--queries NAME` prints the statements one request of that page sends.
Run with the install's CRM_DATABASE_URL / CRM_DATA_DIR, on a `crm demo` database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time

os.environ.setdefault("CRM_LOG_LEVEL", "WARNING")
for _name in ("CRM_NIGHTLY_AT", "CRM_REMINDERS", "CRM_PUSH_SENDER"):
    os.environ.setdefault(_name, "off")

from tests.bench.bench_customers import BASE_URL, ServerTimer  # noqa: E402


class CpuTimer(ServerTimer):
    """ServerTimer that also keeps the request's CPU time in this thread (`last_cpu_ms`): on a
    machine shared with other work it moves far less than the wall time."""

    async def __call__(self, scope, receive, send):
        started = time.thread_time()
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.last_cpu_ms = (time.thread_time() - started) * 1000


class Counter:
    def __init__(self):
        self.queries = 0
        self.conns = 0
        self.log: list[str] | None = None

    def install(self, engine) -> None:
        cls = type(engine)
        counter = self
        run_querystring = cls.run_querystring

        async def counted(self, querystring, *args, **kwargs):
            counter.queries += 1
            if counter.log is not None:
                counter.log.append(str(querystring)[:160])
            return await run_querystring(self, querystring, *args, **kwargs)

        cls.run_querystring = counted
        if hasattr(cls, "run_select"):  # raw()'s SQLite reads outside a transaction go here
            run_select = cls.run_select

            def counted_select(self, query, args):
                counter.queries += 1
                if counter.log is not None:
                    counter.log.append(query[:160])
                return run_select(self, query, args)

            cls.run_select = counted_select
        if engine.engine_type == "sqlite":
            import aiosqlite

            connect = aiosqlite.connect

            def counted_connect(*args, **kwargs):
                counter.conns += 1
                return connect(*args, **kwargs)

            aiosqlite.connect = counted_connect
        else:
            import asyncpg.pool

            acquire = asyncpg.pool.Pool.acquire

            def counted_acquire(self, *args, **kwargs):
                counter.conns += 1
                return acquire(self, *args, **kwargs)

            asyncpg.pool.Pool.acquire = counted_acquire


async def _urls() -> dict[str, tuple[str, dict]]:
    from db.engine import raw
    from db.members import signin
    from db.staff import accounts

    admin = (await raw("SELECT id FROM staff_user WHERE username = 'admin'"))[0]["id"]
    token = await accounts.start_session(admin, "", "127.0.0.1", "profile_pages")
    member = (await raw(
        "SELECT m.id, m.customer FROM member m JOIN customer c ON c.id = m.customer "
        "WHERE m.points_balance > 0 AND c.orders_count > 2 ORDER BY m.id LIMIT 1"))[0]
    member_token = await signin.start_session(member["id"], "127.0.0.1", "profile_pages")
    staff = {"Cookie": f"crm_session={token}", "Accept-Language": "zh-CN,zh;q=0.9"}
    return {"card": (f"/customers/{member['customer']}", staff),
            "list": ("/customers", staff),
            "today": ("/today", staff),
            "member": ("/m/", {"Cookie": f"crm_member={member_token}",
                               "Accept-Language": "zh-CN,zh;q=0.9"})}


async def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--only", default="")
    parser.add_argument("--profile", default="")
    parser.add_argument("--queries", default="")
    args = parser.parse_args(argv)

    import httpx

    from db.engine import engine
    from db.settings import get_settings
    from web.app import create_app

    pages = await _urls()
    app = create_app()
    timer = CpuTimer(app.asgi_handler)
    app.asgi_handler = timer
    counter = Counter()
    counter.install(engine())
    # The app in this thread (httpx's ASGI transport), so a profile sees it; no lifespan, so
    # no background worker: the pool is started here.
    eng = engine()
    if eng.engine_type == "postgres":
        await eng.start_connection_pool(min_size=1, max_size=get_settings().db_pool_size)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        print(f"{'page':8} {'p50 ms':>7} {'p95':>7} {'cpu p50':>7} {'queries':>7} {'conns':>5} "
              f"{'bytes':>7}")
        for name, (path, headers) in pages.items():
            if args.only not in name:
                continue
            times, cpu, queries, conns, size = [], [], set(), set(), 0
            for i in range(args.warmup + args.requests):
                client.cookies.clear()
                counter.queries = counter.conns = 0
                response = await client.get(path, headers=headers, follow_redirects=False)
                assert response.status_code == 200, (path, response.status_code)
                if i >= args.warmup:
                    times.append(timer.last_ms)
                    cpu.append(timer.last_cpu_ms)
                    queries.add(counter.queries)
                    conns.add(counter.conns)
                    size = len(response.content)
            times.sort()
            print(f"{name:8} {statistics.median(times):7.2f} {times[int(len(times) * 0.95)]:7.2f} "
                  f"{statistics.median(cpu):7.2f} {'/'.join(map(str, sorted(queries))):>7} "
                  f"{'/'.join(map(str, sorted(conns))):>5} {size:7}", flush=True)
        if args.queries:
            path, headers = pages[args.queries]
            counter.log = []
            client.cookies.clear()
            await client.get(path, headers=headers)
            print(f"\n{len(counter.log)} statements for {path}:")
            for line in counter.log:
                print("  " + line.replace("\n", " "))
            counter.log = None
        if args.profile:
            from pyinstrument import Profiler

            path, headers = pages[args.profile]
            profiler = Profiler(interval=0.0002, async_mode="enabled")
            profiler.start()
            for _ in range(args.requests):
                client.cookies.clear()
                await client.get(path, headers=headers)
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=False))
    if eng.engine_type == "postgres":
        await eng.close_connection_pool()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
