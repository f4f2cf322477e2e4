"""Points through the API, sustained: `POST /api/v1/customers/{id}/points` from wrk against a
real `crm serve --workers N`, credits and debits mixed over many members, every request with
its own idempotency key.

    python -m tests.bench.bench_points_api [--workers 3] [--seconds 30] [--connections 32]
                                           [--customers 5000]

Without CRM_DATABASE_URL it makes a throw-away SQLite database; with it (a scratch database)
it loads `crm demo --customers N` there if it has no members yet. wrk (Debian's package) runs
one thread with a Lua script (below) that picks a member at random, sends +1..50 points two
times in three and -1..20 otherwise, and counts the answers by status. A 409 is a debit the
balance could not cover: a correct answer, reported apart from errors. Afterwards the ledger's
rules are checked over the whole database (balance = sum of entries = sum of lot remainders,
none negative, each key once) and the number of new entries must equal the 201s.
Target (issue 5): 1,000 operations a second for the whole run with no errors. Exits 1 when
missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("CRM_LOG_LEVEL", "WARNING")
os.environ.setdefault("PICCOLO_CONF", "piccolo_conf")
if not os.environ.get("CRM_DATABASE_URL"):
    _TMP = tempfile.mkdtemp(prefix="bench-points-")
    os.environ["CRM_DATABASE_URL"] = f"sqlite:///{_TMP}/crm.sqlite3"
    os.environ.setdefault("CRM_DATA_DIR", f"{_TMP}/data")

ROOT = Path(__file__).resolve().parents[2]
TARGET_OPS = 1_000

LUA = r"""
local ids = {%(ids)s}
local n = 0
local prefix = "bench-" .. os.time() .. "-" .. math.random(1, 1e9) .. "-"
c201, c200, c409, cother = 0, 0, 0, 0
math.randomseed(os.time())
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"

request = function()
  n = n + 1
  local id = ids[math.random(1, #ids)]
  local delta
  if math.random() < 0.667 then delta = math.random(1, 50) else delta = -math.random(1, 20) end
  local body = '{"delta": ' .. delta .. ', "reason": "bench", "idempotency_key": "' .. prefix .. n .. '"}'
  return wrk.format(nil, "/api/v1/customers/" .. id .. "/points", nil, body)
end

response = function(status, headers, body)
  if status == 201 then c201 = c201 + 1
  elseif status == 200 then c200 = c200 + 1
  elseif status == 409 then c409 = c409 + 1
  else cother = cother + 1 end
end

local threads = {}
setup = function(thread) table.insert(threads, thread) end

done = function(summary, latency, requests)
  local a, b, c, d = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("c201"); b = b + t:get("c200"); c = c + t:get("c409"); d = d + t:get("cother")
  end
  io.write(string.format("STATUS 201=%%d 200=%%d 409=%%d other=%%d\n", a, b, c, d))
  io.write(string.format("LATENCY p50=%%.2f p95=%%.2f p99=%%.2f max=%%.2f\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("ERRORS connect=%%d read=%%d write=%%d status=%%d timeout=%%d\n",
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
  io.write(string.format("TOTAL requests=%%d seconds=%%.2f\n", summary.requests, summary.duration / 1e6))
end
"""


async def _prepare(customers: int) -> tuple[list[int], str]:
    from db.demo import load_demo
    from db.engine import raw
    from db.staff.accounts import create_api_key
    from web.cli import _migrate

    await _migrate()
    if not (await raw("SELECT COUNT(*) AS n FROM member"))[0]["n"]:
        started = time.monotonic()
        result = await load_demo(customers=customers, seed=7)
        print(f"demo: {result.customers:,} customers, {result.members:,} members, "
              f"{result.points_entries:,} entries in {time.monotonic() - started:.1f} s")
    ids = [r["customer"] for r in await raw("SELECT customer FROM member ORDER BY id")]
    key = await create_api_key(f"bench-points-{int(time.time())}")
    return ids, key


async def _ledger_check() -> tuple[int, list[str]]:
    from db.engine import raw

    problems = []
    bad = await raw(
        "SELECT COUNT(*) AS n FROM member m WHERE m.points_balance < 0 OR m.points_balance <> "
        "(SELECT COALESCE(SUM(delta), 0) FROM points_entry e WHERE e.member = m.id) OR m.points_balance <> "
        "(SELECT COALESCE(SUM(remaining), 0) FROM points_lot l WHERE l.member = m.id)")
    if bad[0]["n"]:
        problems.append(f"{bad[0]['n']} members whose balance is not the sum of entries and lots")
    twice = await raw("SELECT COUNT(*) AS n FROM (SELECT idempotency_key FROM points_entry "
                      "GROUP BY idempotency_key HAVING COUNT(*) > 1) t")
    if twice[0]["n"]:
        problems.append(f"{twice[0]['n']} idempotency keys used twice")
    entries = (await raw("SELECT COUNT(*) AS n FROM points_entry WHERE reason = 'bench'"))[0]["n"]
    return entries, problems


def _serve(port: int, workers: int) -> subprocess.Popen:
    crm = Path(sys.executable).with_name("crm")
    env = {**os.environ, "CRM_COOKIE_SECURE": "0", "CRM_REMINDERS": "off", "CRM_PUSH_SENDER": "off",
           "CRM_NIGHTLY_AT": "off", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([str(crm), "serve", "--port", str(port), "--workers", str(workers)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit("the server did not start")


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--port", type=int, default=8791)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install -y wrk")

    ids, key = asyncio.run(_prepare(args.customers))
    before, _ = asyncio.run(_ledger_check())
    engine = "SQLite" if os.environ["CRM_DATABASE_URL"].startswith("sqlite") else "PostgreSQL"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(LUA % {"ids": ", ".join(map(str, ids)), "key": key})
        script = fh.name
    server = _serve(args.port, args.workers)
    try:
        # a short warm-up: each worker's first requests open connections and fill caches
        warm_out = subprocess.run(["wrk", "-t1", "-c8", "-d3s", "-s", script,
                                   f"http://127.0.0.1:{args.port}"],
                                  capture_output=True, text=True, check=True).stdout
        out = subprocess.run(
            ["wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds}s", "--timeout", "10s",
             "-s", script, f"http://127.0.0.1:{args.port}"],
            capture_output=True, text=True, check=True).stdout
    finally:
        _stop(server)
        os.unlink(script)
    after, problems = asyncio.run(_ledger_check())
    status = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", re.search(r"STATUS (.*)", out).group(1)))
    latency = dict((k, float(v)) for k, v in re.findall(r"(\w+)=([\d.]+)", re.search(r"LATENCY (.*)", out).group(1)))
    errors = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", re.search(r"ERRORS (.*)", out).group(1)))
    total = dict((k, float(v)) for k, v in re.findall(r"(\w+)=([\d.]+)", re.search(r"TOTAL (.*)", out).group(1)))
    ops = total["requests"] / total["seconds"]
    written = after - before
    warm = int(re.search(r"STATUS 201=(\d+)", warm_out).group(1))  # entries the warm-up wrote
    # wrk stops with requests in flight: the server may have written up to one per connection
    # (of both runs) whose answer wrk never read; more than that, or fewer, is wrong
    if not 0 <= written - (warm + status["201"]) <= args.connections + 8:
        problems.append(f"{written:,} entries written for {warm + status['201']:,} answers 201")
    print(f"{engine}, {args.workers} workers, {len(ids):,} members, {args.connections} connections, "
          f"{total['seconds']:.0f} s")
    print(f"  {ops:,.0f} operations/s ({int(total['requests']):,} requests: {status['201']:,} written, "
          f"{status['409']:,} refused for the balance, {status['200']:,} replays, {status['other']:,} other)")
    print(f"  latency p50 {latency['p50']:.1f} ms, p95 {latency['p95']:.1f} ms, p99 {latency['p99']:.1f} ms, "
          f"max {latency['max']:.1f} ms")
    socket_errors = sum(errors.values()) - errors.get("status", 0)
    print(f"  socket errors {socket_errors}; entries written {written:,} ({warm:,} in the warm-up)")
    for problem in problems:
        print(f"  LEDGER: {problem}")
    ok = ops >= TARGET_OPS and not status["other"] and not socket_errors and not problems
    print(f"  target {TARGET_OPS:,}/s with no errors: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
