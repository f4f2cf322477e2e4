"""Rule tags: counting a rule's matches over all customers, and refreshing a rule tag.

    python -m tests.bench.bench_tags [--runs 5] [--recompute] [--only TEXT]

Run from the repository root with the environment of the install to measure
(CRM_DATABASE_URL, CRM_DATA_DIR), e.g. after `crm demo --customers 1000000`.

Targets (issue 3, at 1,000,000 customers): counting one rule's matches over all customers
in under 1 s (the live count of the tag form, `tags.count_parsed` with the admin scope);
a full refresh of a rule tag "in a few seconds" (here: under 5 s). The script exits 1 when
a target is missed. Times are medians of --runs runs, measured around the domain call
(no HTTP), with the database warm after one unmeasured run.

The demo loader leaves the derived figures (lifecycle stage, RFM, spend) at their defaults;
--recompute runs `lifecycle.recompute_all()` first (it is skipped when figures exist).
The refresh lines use a throw-away rule tag (`bench-…`) that is deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import statistics
import sys
import time

os.environ.setdefault("CRM_LOG_LEVEL", "WARNING")
os.environ.setdefault("PICCOLO_CONF", "piccolo_conf")

COUNT_TARGET_S = 1.0
REFRESH_TARGET_S = 5.0

RULES = {
    "lifecycle active+new, spent >= 500": {"all": [
        {"lifecycle": ["active", "new"]}, {"total_spent": {"min": "500"}}]},
    "RFM r 4-5, m 3-5": {"all": [{"rfm": {"r": [4, 5], "m": [3, 5]}}]},
    "bought on tmall or jd": {"all": [{"channel": ["tmall", "jd"]}]},
    "city in 3 cities": {"all": [{"city": ["上海市", "北京市", "成都市"]}]},
    "birthday in March": {"all": [{"birthday_month": [3]}]},
    "last order over 180 days": {"all": [{"last_order": {"over_days": 180}}]},
    "orders >= 2 and dormant": {"all": [{"orders_count": {"min": 2}}, {"lifecycle": ["dormant"]}]},
}
REFRESH_RULE = RULES["lifecycle active+new, spent >= 500"]
CHANGED_RULE = {"all": [{"lifecycle": ["active"]}, {"total_spent": {"min": "300"}}]}


async def _timed(fn, runs: int) -> tuple[float, object]:
    result = await fn()  # warm-up, not counted
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = await fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--recompute", action="store_true")
    parser.add_argument("--only", default="")
    args = parser.parse_args(argv)

    from db.customers import lifecycle, rules, tags
    from db.customers.scope import Scope
    from db.engine import engine, raw

    eng = engine()
    pooled = eng.engine_type == "postgres"
    if pooled:
        await eng.start_connection_pool(min_size=1, max_size=4)
    failed = False
    try:
        n = (await raw("SELECT COUNT(*) AS n FROM customer"))[0]["n"]
        orders = (await raw('SELECT COUNT(*) AS n FROM "order"'))[0]["n"]
        print(f"engine {eng.engine_type}, {n:,} customers, {orders:,} orders, "
              f"python {platform.python_version()}, {os.cpu_count()} cores")
        have = (await raw("SELECT COUNT(*) AS n FROM customer WHERE orders_count > 0"))[0]["n"]
        if args.recompute and not have:
            started = time.perf_counter()
            await lifecycle.recompute_all()
            print(f"recompute_all (setup): {time.perf_counter() - started:.1f} s")

        print(f"\ncount matches over all customers (median of {args.runs}; target < {COUNT_TARGET_S:.1f} s at 1M)")
        everyone = Scope.everything()
        for label, rule in RULES.items():
            if args.only and args.only not in label:
                continue
            parsed = rules.parse_rule(rule)
            seconds, matches = await _timed(lambda p=parsed: tags.count_parsed(everyone, p), args.runs)
            miss = seconds > COUNT_TARGET_S
            failed |= miss
            print(f"  {label:<38} {seconds * 1000:8.1f} ms  {matches:>9,} match{'  MISSED' if miss else ''}")

        if args.only and args.only not in "refresh":
            return 1 if failed else 0
        print(f"\nrefresh one rule tag over all customers (target < {REFRESH_TARGET_S:.0f} s)")
        name = f"bench-{secrets.token_hex(4)}"
        tag_id = await tags.create_tag(name, "blue", rule=None)  # manual first: time the refresh alone
        try:
            await raw("UPDATE tag SET rule = {} WHERE id = {}",
                      rules.dumps(rules.parse_rule(REFRESH_RULE)), tag_id)
            lines = []
            started = time.perf_counter()
            await rules.refresh_rule_tags(tag_ids=[tag_id])
            lines.append(("first refresh (all inserts)", time.perf_counter() - started))
            members = (await raw("SELECT COUNT(*) AS n FROM customer_tag WHERE tag = {}", tag_id))[0]["n"]
            started = time.perf_counter()
            await rules.refresh_rule_tags(tag_ids=[tag_id])
            lines.append(("again, nothing changed", time.perf_counter() - started))
            await raw("UPDATE tag SET rule = {} WHERE id = {}",
                      rules.dumps(rules.parse_rule(CHANGED_RULE)), tag_id)
            started = time.perf_counter()
            await rules.refresh_rule_tags(tag_ids=[tag_id])
            lines.append(("after the rule changed (delete + insert)", time.perf_counter() - started))
            after = (await raw("SELECT COUNT(*) AS n FROM customer_tag WHERE tag = {}", tag_id))[0]["n"]
            ids = [r["id"] for r in await raw("SELECT id FROM customer ORDER BY id DESC LIMIT 1000")]
            started = time.perf_counter()
            await rules.refresh_rule_tags(customer_ids=ids)
            lines.append(("all rule tags, 1,000 customers (an import batch)", time.perf_counter() - started))
            for label, seconds in lines:
                miss = seconds > REFRESH_TARGET_S
                failed |= miss
                print(f"  {label:<48} {seconds:7.2f} s{'  MISSED' if miss else ''}")
            print(f"  members: {members:,} after the first refresh, {after:,} after the change")
        finally:
            await tags.delete_tag(tag_id)
    finally:
        if pooled:
            await eng.close_connection_pool()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
