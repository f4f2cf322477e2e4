"""Make a report file: its data, then the PDF (WeasyPrint, in a worker thread) or the XLSX.

The web downloads, `crm report` and the background job and e-mail delivery all call
`build`; `likely_slow` tells a caller whether to run it in the background instead.
Every file made is in the audit log with who asked for it and its parameters.

A report's data comes through the figure store (db/figures/store.py, kind `report:NAME`):
the same figures for everyone asking for that range and scope, read in milliseconds when
stored, and the report says how old they are ("Figures as of …" in its header).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Awaitable, Callable

from db.audit.log import record
from db.clock import now
from db.engine import raw, reading
from db.figures import store
from db.figures.filters import ReportFilter
from db.figures.period import Period, shop_zone
from reports import render
from db.i18n import N_
from reports.registry import REPORTS, Report
from reports.shop import shop

FORMATS = {"pdf": "application/pdf",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
# When a report takes more than a couple of seconds (tests/bench/bench_reports.py, 2 cores,
# December 2026): the summary's data took 0.44 s (SQLite) to 0.70 s (PostgreSQL) at 20,000
# customers and grows with them, so past 100,000 customers in scope any report is slow;
# WeasyPrint takes about 0.3 s a page, and the customers report's cities table runs about 32
# rows a page, so past 150 cities it is slow; and years of monthly cohorts are a long table.
SLOW_CUSTOMERS = 100_000
SLOW_CITIES = 150
SLOW_DAYS = 731

CHANNEL_LABELS = {"tmall": N_("Tmall"), "jd": N_("JD"), "douyin": N_("Douyin"),
                  "pdd": N_("Pinduoduo"), "web": N_("Web shop"), "store": N_("Store")}


class UnknownReport(ValueError):
    pass


@dataclass
class Built:
    content: bytes
    pages: int | None  # PDF pages; None for an XLSX
    filename: str  # in the report's language: 经营概览_2026-11-01_2026-11-30.pdf
    media_type: str


Progress = Callable[[float], Awaitable[None]] | None


def report_named(name: str) -> Report:
    try:
        return REPORTS[name]
    except KeyError:
        raise UnknownReport(f"no report named {name!r}; the reports are "
                            + ", ".join(REPORTS)) from None


async def _tell(progress: Progress, share: float) -> None:
    if progress is not None:
        await progress(share)


@contextmanager
def language(lang: str):
    """Charts and labels built in Python speak the report's language inside this block."""
    token = render._lang.set(render.lang_code(lang))
    try:
        yield
    finally:
        render._lang.reset(token)


async def describe_filter(filt: ReportFilter) -> list[tuple[str, str]]:
    """What the report covers besides the range, as (label msgid, value) pairs."""
    out: list[tuple[str, str]] = []
    if filt.channel:
        out.append((N_("Channel"), render.gettext(CHANNEL_LABELS.get(filt.channel, filt.channel))))
    if filt.team_id is not None:
        rows = await raw("SELECT name FROM team WHERE id = {}", filt.team_id)
        out.append((N_("Team"), rows[0]["name"] if rows else f"#{filt.team_id}"))
    if filt.scope.kind == "own":
        rows = await raw("SELECT username FROM staff_user WHERE id = {}", filt.scope.user_id)
        out.append((N_("Figures of"), rows[0]["username"] if rows else "—"))
    return out


def store_kind(name: str) -> str:
    """A report's kind in the figure store."""
    return f"report:{name}"


def register_figures() -> None:
    """Tell the figure store how each report's data is computed (for its refresh job and the
    nightly warm-up, which db/ runs without importing reports/)."""
    for name, report in REPORTS.items():
        store.register(store_kind(name), report.data)


async def report_data(report: Report, period: Period, filt: ReportFilter, *,
                      fresh: bool = False) -> store.Stored:
    """The report's data through the figure store: `.value` the data, `.computed_at` when
    it was computed (None: just now, the store being off)."""
    return await store.cached(store_kind(report.name), period, filt, report.data, fresh=fresh)


async def context(report: Report, period: Period, filt: ReportFilter, data: dict,
                  lang: str = "zh-CN", computed_at: dt.datetime | None = None) -> dict:
    """What the report's template is rendered with (the PDF and the web preview alike);
    `computed_at`: when stored data was computed (printed as "Figures as of …")."""
    the_shop = await shop()
    with language(lang):
        filters = [(render.gettext(label), value) for label, value in await describe_filter(filt)]
        charts = report.charts(data)
        title = render.gettext(report.title)
    zone = shop_zone()
    generated = now().astimezone(zone)
    as_of = computed_at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if computed_at else None
    return {
        "r": {
            "name": report.name, "title": title, "shop": the_shop.name, "logo": the_shop.logo,
            "start": period.start, "end": period.end, "days": period.days,
            "filters": filters, "generated": generated.strftime("%Y-%m-%d %H:%M"),
            "as_of": as_of, "lang": render.lang_code(lang),
        },
        "d": data,
        "charts": charts,
    }


def filename(title: str, period: Period, fmt: str) -> str:
    safe = re.sub(r'[\\/:*?"<>|\s]+', "_", title).strip("_") or "report"
    return f"{safe}_{period.start.isoformat()}_{period.end.isoformat()}.{fmt}"


async def build(name: str, period: Period, filt: ReportFilter, fmt: str, *,
                lang: str = "zh_CN", progress: Progress = None, actor: str = "") -> Built:
    """The report `name` for the period and filter, as "pdf" or "xlsx". Raises UnknownReport
    for a name that is no report and ValueError for another format."""
    report = report_named(name)
    if fmt not in FORMATS:
        raise ValueError(f"a report is made as pdf or xlsx, not {fmt!r}")
    await _tell(progress, 0.02)
    started = dt.datetime.now()
    stored = await report_data(report, period, filt)
    async with reading():
        ctx = await context(report, period, filt, stored.value, lang, stored.computed_at)
    await _tell(progress, 0.25)
    pages = None
    if fmt == "pdf":
        html = render.document(report.template, ctx, lang)
        await _tell(progress, 0.3)
        content, pages = await asyncio.to_thread(render.pdf, html)
    else:
        from reports.xlsx import workbook

        with language(lang):
            content = await asyncio.to_thread(workbook, ctx)
    await record(
        "report.generated", actor_id=filt.scope.user_id, actor=actor, target_type="report",
        detail={"report": name, "format": fmt, **period.query(), **filt.query(),
                "scope": filt.scope.kind, "pages": pages, "bytes": len(content),
                "ms": int((dt.datetime.now() - started).total_seconds() * 1000)},
    )
    await _tell(progress, 1.0)
    return Built(content, pages, filename(ctx["r"]["title"], period, fmt), FORMATS[fmt])


async def likely_slow(name: str, period: Period, filt: ReportFilter) -> bool:
    """True when making the report would take more than a couple of seconds (many customers
    in scope, a long cities table, or years of monthly cohorts): run it in the background
    with progress. Two cheap counts on the customers in scope. When the figure store holds
    the report's data only its pages cost time: a stored summary of a million customers is
    made in half a second (tests/bench/README.md, bench_reports)."""
    report_named(name)
    clause, args = filt.customer_scope.clause("c")
    stored = await store.holds(store_kind(name), period, filt)
    customers = 0
    if not stored or name == "retention":
        rows = await raw(f"SELECT COUNT(*) AS n FROM customer c WHERE {clause}", *args)
        customers = int(rows[0]["n"] or 0)
    if customers > SLOW_CUSTOMERS and not stored:
        return True
    if name == "customers":
        rows = await raw("SELECT COUNT(*) AS n FROM (SELECT DISTINCT c.province, c.city "
                         f"FROM customer c WHERE c.orders_count > 0 AND {clause}) x", *args)
        return int(rows[0]["n"] or 0) > SLOW_CITIES
    return name == "retention" and period.days > SLOW_DAYS and customers > SLOW_CUSTOMERS // 10
