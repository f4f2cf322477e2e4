"""The pages staff open all day, under load, as a ratio of a bare page (issue 12).

    python -m tests.bench.bench_pages [--dir /tmp/bench-pages] [--customers 20000]
                                      [--seconds 10] [--rounds 3] [--only card]

`crm serve` (one worker) on a `crm demo --customers 20000` database (made in --dir the first
time), pinned to CPU 0, and `wrk -t1 -c32` pinned to CPU 1. In the same run and under the
same server (granian, one worker, CPU 0) a bare Litestar + Jinja2 page renders a 50-row table
(tests/bench/bare_page.py). Rounds alternate bare page and CRM page, and each page's
requests/s is divided by the mean of the bare rounds just before and after it, so a machine
that slows down meanwhile does not favour either side. It also prints the same ratio for
requests per CPU-second of each server (from /proc: the server's own time on CPU 0), which
moves less when other work shares that core; the targets are read on requests/s.

Pages (signed in as the demo admin; the member page as a demo member):
- card: `GET /customers/{id}` of a member with orders, points and follow-ups;
- list: `GET /customers` (the first page);
- today: `GET /today`;
- member: `GET /m/` (the member page home).
Targets: card >= 0.08x, list >= 0.15x, today >= 0.15x, member >= 0.15x. Exits 1 when one is
missed or any answer is not 200.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {"card": 0.08, "list": 0.15, "today": 0.15, "member": 0.15}
QUIET = {"CRM_LOG_LEVEL": "WARNING", "CRM_NIGHTLY_AT": "off", "CRM_REMINDERS": "off",
         "CRM_PUSH_SENDER": "off", "CRM_COOKIE_SECURE": "0"}


def _environment(folder: Path) -> dict[str, str]:
    env = {**os.environ, **QUIET, "PYTHONPATH": str(ROOT)}
    env.setdefault("CRM_DATA_DIR", str(folder / "data"))
    env.setdefault("CRM_DATABASE_URL", f"sqlite:///{folder / 'crm.sqlite3'}")
    return env


async def _sessions() -> dict[str, str]:
    """Sign-ins for the run and the URLs to ask for (made straight in the database)."""
    from db.engine import raw
    from db.members import signin
    from db.staff import accounts

    admin = (await raw("SELECT id FROM staff_user WHERE username = 'admin'"))[0]["id"]
    token = await accounts.start_session(admin, "", "127.0.0.1", "bench_pages")
    member = (await raw(
        "SELECT m.id, m.customer FROM member m JOIN customer c ON c.id = m.customer "
        "WHERE m.points_balance > 0 AND c.orders_count > 2 ORDER BY m.id LIMIT 1"))[0]
    member_token = await signin.start_session(member["id"], "127.0.0.1", "bench_pages")
    return {"staff": token, "member": member_token, "card": f"/customers/{member['customer']}"}


def _crm(*args: str, env: dict, cpu: int | None = None, **kw) -> subprocess.Popen:
    crm = str(Path(sys.executable).with_name("crm"))
    pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
    return subprocess.Popen([*pin, crm, *args], cwd=ROOT, env=env, start_new_session=True, **kw)


def _wait_up(port: int, path: str = "/") -> None:
    import httpx

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit(f"nothing answers on port {port}")


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _cpu_seconds(group: int) -> float:
    """CPU seconds (user + system) used so far by the processes of a process group (a server
    and its workers), from /proc; 0 where /proc is not there."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # pgrp; utime and stime are fields 14 and 15 of stat
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


class Run:
    """One wrk run: requests/s, answers that were not 2xx/3xx, and requests per CPU-second of
    the server (its own time on CPU 0, whatever share of that core other work took)."""

    def __init__(self, rate: float, bad: int, per_cpu: float):
        self.rate, self.bad, self.per_cpu = rate, bad, per_cpu


def _wrk(url: str, cookie: str | None, seconds: int, server: subprocess.Popen | None = None) -> Run:
    headers = ["-H", f"Cookie: {cookie}"] if cookie else []
    cpu = _cpu_seconds(server.pid) if server else 0.0
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c32", f"-d{seconds}s",
                          "--timeout", "10s", *headers, url],
                         capture_output=True, text=True, check=True).stdout
    cpu = (_cpu_seconds(server.pid) - cpu) if server else 0.0
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return Run(rate, int(bad.group(1)) if bad else 0, total / cpu if cpu > 0 else 0.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/bench-pages"))
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="")
    parser.add_argument("--port", type=int, default=8795)
    args = parser.parse_args()
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: apt-get install -y wrk util-linux")
    args.dir.mkdir(parents=True, exist_ok=True)
    env = _environment(args.dir)
    os.environ.update({k: env[k] for k in ("CRM_DATA_DIR", "CRM_DATABASE_URL", *QUIET)})
    marker = args.dir / f"demo-{args.customers}.done"
    if env["CRM_DATABASE_URL"].startswith("sqlite") and not marker.exists():
        print(f"loading crm demo --customers {args.customers} into {args.dir} ...", flush=True)
        subprocess.run([str(Path(sys.executable).with_name("crm")), "demo", "--customers",
                        str(args.customers)], cwd=args.dir, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        marker.touch()
    os.environ.setdefault("PICCOLO_CONF", "piccolo_conf")
    sys.path.insert(0, str(ROOT))
    sessions = asyncio.run(_sessions())
    pages = {"card": (sessions["card"], f"crm_session={sessions['staff']}"),
             "list": ("/customers", f"crm_session={sessions['staff']}"),
             "today": ("/today", f"crm_session={sessions['staff']}"),
             "member": ("/m/", f"crm_member={sessions['member']}")}
    pages = {k: v for k, v in pages.items() if args.only in k}

    bare_port = args.port + 1
    crm = _crm("serve", "--port", str(args.port), "--workers", "1", env=env, cpu=0,
               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    bare = subprocess.Popen(["taskset", "-c", "0", str(Path(sys.executable).with_name("granian")),
                             "--interface", "asgi", "--host", "127.0.0.1", "--port", str(bare_port),
                             "--workers", "1", "--no-access-log", "tests.bench.bare_page:app"],
                            cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    failed = False
    try:
        _wait_up(args.port, "/healthz")
        _wait_up(bare_port)
        base, bare_url = f"http://127.0.0.1:{args.port}", f"http://127.0.0.1:{bare_port}/"
        for path, cookie in pages.values():  # warm-up: caches, connections, compiled templates
            _wrk(base + path, cookie, 2)
        _wrk(bare_url, None, 2)
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in pages}
        for _ in range(args.rounds):
            before = _wrk(bare_url, None, args.seconds, bare)
            for name, (path, cookie) in pages.items():
                run = _wrk(base + path, cookie, args.seconds, crm)
                after = _wrk(bare_url, None, args.seconds, bare)
                if run.bad:
                    print(f"  {name}: {run.bad} answers were not 200", flush=True)
                    failed = True
                bare_cpu = (before.per_cpu + after.per_cpu) / 2
                results[name].append((run.rate, run.rate / ((before.rate + after.rate) / 2),
                                      run.per_cpu / bare_cpu if bare_cpu else 0.0))
                print(f"  {name:7} {run.rate:8.1f} req/s   bare {before.rate:7.1f} / {after.rate:7.1f}   "
                      f"ratio {results[name][-1][1]:.3f}   per CPU-second {results[name][-1][2]:.3f}",
                      flush=True)
                before = after
    finally:
        _stop(crm)
        _stop(bare)
    engine = "SQLite" if env["CRM_DATABASE_URL"].startswith("sqlite") else "PostgreSQL"
    print(f"\n{engine}, {args.customers:,} customers, {args.rounds} rounds of {args.seconds} s, "
          f"wrk -t1 -c32 on CPU 1, servers on CPU 0")
    print("ratio: requests/s over the bare page's around it (the target's measure); per CPU: the same")
    print("for requests per CPU-second of each server (steadier when other work shares CPU 0)")
    print(f"{'page':8} {'req/s':>8} {'ratio':>7} {'per CPU':>7} {'target':>7}")
    for name, runs in results.items():
        ratio = statistics.median(r for _, r, _ in runs)
        rate = statistics.median(r for r, _, _ in runs)
        per_cpu = statistics.median(c for _, _, c in runs)
        ok = ratio >= TARGETS[name]
        failed |= not ok
        print(f"{name:8} {rate:8.1f} {ratio:7.3f} {per_cpu:7.3f} {TARGETS[name]:7.2f}  "
              f"{'ok' if ok else 'MISSED'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
