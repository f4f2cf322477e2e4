"""The PDF reports: the one-page `summary` and a 30-page `customers` report.

    python -m tests.bench.bench_reports [--runs 3] [--days 365]

Run from the repository root with the environment of the install to measure
(CRM_DATABASE_URL, CRM_DATA_DIR), e.g. after `crm demo --customers 20000 --order-scale 3.3`.

For each report it times, separately (medians of --runs):
  data cold  the report's data computed now (its SQL) and written to the figure store
             (reports.build.report_data with fresh=True: what the nightly warm-up or a
             first request pays)
  data warm  the same data read back from the figure store (one row, JSON decoded): what
             `build` pays once it is stored, and the data time the targets count
  charts     its template context: the charts (pygal), the shop and the filters' names
  html       rendering the print template (Jinja)
  pdf        WeasyPrint: layout and writing the PDF
and prints the page count. The requirements: the summary PDF under 2 s with its data
gathering under 20% of WeasyPrint's time; a 30-page customers report with 1,000-row tables
under 12 s. With CRM_FIGURES_MAX_AGE_SECONDS=0 (the store off) both data times are live.

The customers report's cities table holds the shop's (province, city) pairs that had orders
in the range, at most 1,000. When the demo data has fewer (the demo draws from about 100
cities), the table is padded to 1,000 rows in memory, copies of the real rows with a number
after the city's name, so that the PDF measured is the 30-page document of a large shop: the
data time is then that of the real query, the pdf time that of the full table. The run says
when it padded. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("PICCOLO_CONF", "piccolo_conf")


async def _gather(name, period, filt, fresh: bool):
    from reports.build import report_data
    from reports.registry import REPORTS

    report = REPORTS[name]
    return report, await report_data(report, period, filt, fresh=fresh)


def _pad_cities(data: dict, rows: int) -> bool:
    cities = data["tables"]["cities"]["rows"]
    if len(cities) >= rows or not cities:
        return False
    base = list(cities)
    n = 0
    while len(cities) < rows:
        row = dict(base[n % len(base)])
        row["city"] = f"{row['city']} {n // len(base) + 2}"
        cities.append(row)
        n += 1
    return True


async def measure(name: str, period, filt, runs: int, pad: int | None = None) -> dict:
    from reports import render
    from reports.build import context

    times = {"cold": [], "data": [], "charts": [], "html": [], "pdf": []}
    pages = padded = None
    for _ in range(runs):
        t = time.perf_counter()
        await _gather(name, period, filt, fresh=True)
        times["cold"].append(time.perf_counter() - t)
        t = time.perf_counter()
        report, stored = await _gather(name, period, filt, fresh=False)
        times["data"].append(time.perf_counter() - t)
        data = stored.value
        t = time.perf_counter()
        ctx = await context(report, period, filt, data, computed_at=stored.computed_at)
        times["charts"].append(time.perf_counter() - t)
        if pad:
            padded = _pad_cities(data, pad)
            ctx = await context(report, period, filt, data, computed_at=stored.computed_at)
        t = time.perf_counter()
        html = render.document(report.template, ctx)
        times["html"].append(time.perf_counter() - t)
        t = time.perf_counter()
        _, pages = await asyncio.to_thread(render.pdf, html)
        times["pdf"].append(time.perf_counter() - t)
    out = {k: statistics.median(v) for k, v in times.items()}
    out["total"] = out["data"] + out["charts"] + out["html"] + out["pdf"]
    out["pages"] = pages
    out["padded"] = padded
    return out


async def main(runs: int, days: int) -> int:
    from db.customers.scope import Scope
    from db.engine import engine, raw
    from db.figures.filters import make_filter
    from db.figures.period import Period, shop_today

    from db.settings import get_settings

    eng = engine()
    counts = (await raw('SELECT (SELECT COUNT(*) FROM customer) AS c, (SELECT COUNT(*) FROM "order") AS o'))[0]
    age = get_settings().figures_max_age_seconds
    print(f"engine {eng.engine_type}, {counts['c']:,} customers, {counts['o']:,} orders, "
          f"python {platform.python_version()}, {os.cpu_count()} cores, {runs} runs (medians); "
          f"figure store {'max age ' + str(age) + ' s' if age else 'off: data computed live'}")
    today = shop_today()
    period = Period(today - dt.timedelta(days=days - 1), today)
    filt = make_filter(Scope.everything())
    failed = False

    s = await measure("summary", period, filt, runs)
    share = s["data"] / s["pdf"] if s["pdf"] else 0
    ok = s["total"] < 2 and share < 0.2
    failed |= not ok
    print(f"summary   {period.start} – {period.end}: {s['pages']} page(s); data cold {s['cold']:.3f} s, "
          f"data warm {s['data']:.3f} s, "
          f"charts {s['charts']:.3f} s, html {s['html']:.3f} s, pdf {s['pdf']:.3f} s, total {s['total']:.2f} s "
          f"(target 2 s); data/WeasyPrint {share:.0%} (target < 20%) {'ok' if ok else 'MISSED'}")

    c = await measure("customers", period, filt, runs, pad=1000)
    ok = c["total"] < 12
    failed |= not ok
    print(f"customers {period.start} – {period.end}: {c['pages']} pages, cities table of 1,000 rows"
          f"{' (padded in memory: the demo has fewer cities)' if c['padded'] else ''}; "
          f"data cold {c['cold']:.3f} s, data warm {c['data']:.3f} s, charts {c['charts']:.3f} s, "
          f"html {c['html']:.3f} s, pdf {c['pdf']:.2f} s, "
          f"total {c['total']:.2f} s (target 12 s) {'ok' if ok else 'MISSED'}")
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--days", type=int, default=30, help="the range: the last N days (default 30)")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.runs, args.days)))
