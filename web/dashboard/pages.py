"""The dashboard (看板, /dashboard): the key figures of a period against the period before,
customers by lifecycle stage, members by tier, the pipeline by stage and each person's
follow-ups, for the viewer's scope (a manager their team, an admin everyone or one team,
staff their own customers and follow-ups); every tile and row opens the list behind it.

The figures are db/figures' (the PDF reports and their spreadsheets read the same), read as
one bundle through the figure store (db/figures/bundle.py, store.py): the page says how old
they are and its Refresh button (POST /dashboard/refresh) computes them again now. This module
only parses the URL, picks the links and draws the charts (reports/charts.py).
"""

from __future__ import annotations

from typing import Annotated

from functools import lru_cache
from urllib.parse import urlencode

import datetime as dt

from babel.dates import format_date
from litestar import Request, Response, get, post
from litestar.params import FromQuery, QueryParameter
from litestar.response import Redirect

from db.errors import ValidationFailed
from db.figures import bundle, drill
from db.figures.filters import ReportFilter, make_filter
from db.figures.key import DEFINITIONS
from db.figures.period import PRESETS, Period, shop_today, shop_zone
from db.orders.tables import CHANNELS
from db.staff.accounts import list_teams
from reports import charts
from web.core.auth import scope_of, staff_required
from web.core.forms import read_form, texts
from web.core.i18n import current_lang, field_errors, locale_for
from web.core.i18n import gettext as _
from web.core.params import parse_id
from web.core.templating import is_fragment_request, money, page_nonce, render

PAGE = "dashboard/dashboard.html"
FOLLOWUPS = "dashboard/followups.html"

# The tiles in the order a manager reads them, each with the list behind it.
TILES = (
    ("new_customers", "new"), ("active_customers", "active"), ("repurchase_rate", "repeat"),
    ("churn_rate", "churned"), ("sales_fen", "active"), ("orders", "active"),
    ("average_order_fen", "active"), ("followups_done", "done"), ("followups_overdue", "overdue"),
    ("points_issued", None), ("points_redeemed", None), ("points_expired", None),
    ("points_liability_fen", None),
)
# A rise is bad news for these: the change is shown in red when they go up.
LOWER_IS_BETTER = {"churn_rate", "followups_overdue", "points_expired"}


def labels() -> dict[str, str]:
    return {
        "new_customers": _("New customers"), "active_customers": _("Active customers"),
        "repurchase_rate": _("Repurchase rate"), "churn_rate": _("Churn rate"),
        "orders": _("Orders"), "sales_fen": _("Sales"), "average_order_fen": _("Average order"),
        "points_issued": _("Points issued"), "points_redeemed": _("Points redeemed"),
        "points_expired": _("Points expired"), "points_liability_fen": _("Points liability"),
        "followups_done": _("Follow-ups done"), "followups_overdue": _("Follow-ups overdue"),
    }


def preset_labels() -> dict[str, str]:
    return {"week": _("This week"), "month": _("This month"), "30d": _("Last 30 days"),
            "90d": _("Last 90 days")}


def value_text(figure) -> str:
    if figure.no_data:
        return _("No data")
    if figure.unit == "fen":
        return money(figure.value)
    if figure.unit == "permille":
        return charts.permille_text(figure.value)
    return f"{figure.value:,}"


def change_text(figure) -> tuple[str, str]:
    """The change against the previous period in words, and its tone."""
    if figure.no_data:
        return _("No orders or buyers in this period"), ""
    if figure.previous is None:
        return _("Nothing to compare with"), ""
    change = figure.change
    if change == 0:
        return _("Same as the previous period"), ""
    good = (change > 0) != (figure.key in LOWER_IS_BETTER)
    arrow = "▲" if change > 0 else "▼"
    if figure.unit == "permille":  # a rate moves in percentage points
        text = _("%(arrow)s %(points)s pts vs previous") % {
            "arrow": arrow, "points": f"{abs(change) / 10:.1f}"}
    elif figure.change_permille is None:
        text = _("%(arrow)s from 0") % {"arrow": arrow}
    else:
        text = _("%(arrow)s %(percent)s vs previous") % {
            "arrow": arrow, "percent": charts.permille_text(abs(figure.change_permille))}
    return text, "green" if good else "red"


def _query(period: Period, filt: ReportFilter, **extra) -> str:
    params = {**period.query(), **filt.query(), **{k: v for k, v in extra.items() if v is not None}}
    return urlencode(params)


def tile_href(kind: str | None, period: Period, filt: ReportFilter) -> str | None:
    if kind in drill.CUSTOMER_FIGURES:
        return "/customers?" + _query(period, filt, figure=kind)
    if kind in drill.FOLLOWUP_FIGURES:
        return "/dashboard/followups?" + _query(period, filt, figure=kind)
    return "/members"


def _read_period(preset: str | None, start: str | None, end: str | None) -> Period:
    if preset in PRESETS and not (start or end):
        return Period.preset(preset)
    return Period.parse(start, end)


@lru_cache(maxsize=256)
def _bar(caption: str, names: tuple[str, ...], series: tuple[tuple[str, tuple[int, ...]], ...],
         unit: str, horizontal: bool, empty_text: str,
         links: tuple[tuple[str, tuple[str, ...]], ...] = ()) -> charts.Chart:
    """A chart is a pure function of its numbers and links: the same figures are drawn once
    per process. `links`: (series name, the page each of its bars opens)."""
    # Drawn about as wide as a phone shows it, so its labels stay legible there.
    height = max(140, 30 * len(names) * max(1, len(series)) + 70) if horizontal else 220
    return charts.bar(caption, names, dict(series), unit=unit, horizontal=horizontal,
                      width=400, height=height, empty_text=empty_text, links=dict(links))


@lru_cache(maxsize=256)
def _donut(caption: str, slices: tuple[tuple[str, int], ...], empty_text: str,
           links: tuple[str, ...] = ()) -> charts.Chart:
    return charts.donut(caption, slices, width=400, height=330, empty_text=empty_text,
                        label_header=_("Stage"), value_header=_("Customers"), links=links)


def as_of_text(computed_at: dt.datetime | None) -> str | None:
    """When stored figures were computed, in the shop's zone: "09:05" today, else with the
    day ("12月9日 09:05"); None when they were computed live (the store is off)."""
    if computed_at is None:
        return None
    local = computed_at.astimezone(shop_zone())
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if local.date() == shop_today():
        return clock
    day = format_date(local.date(), "yyyy-MM-dd" if local.year != shop_today().year else "MMMd",
                      locale=locale_for(current_lang()))
    return f"{day} {clock}"


async def _context(request: Request, period: Period, filt: ReportFilter, *,
                   fresh: bool = False) -> dict:
    found = await bundle.dashboard(period, filt, fresh=fresh)
    figures, stages, tiers, board, people = (found.figures, found.stages, found.tiers,
                                             found.board, found.people)
    names = labels()
    tiles = []
    for key, kind in TILES:
        f = figures[key]
        hint, tone = change_text(f)
        sub = ""
        if f.unit == "permille" and not f.no_data:
            sub = _("%(part)s of %(base)s buyers") % {"part": f"{f.part:,}", "base": f"{f.base:,}"}
        tiles.append({"key": key, "label": names[key], "value": value_text(f), "hint": hint,
                      "tone": tone, "sub": sub, "href": tile_href(kind, period, filt),
                      "definition": _(DEFINITIONS[key])})
    stage_names = {"prospect": _("Prospect"), "new": _("New buyer"), "active": _("Active"),
                   "dormant": _("Dormant"), "churned": _("Churned")}
    built_in = {"lead": _("Lead"), "contacted": _("Contacted"), "quoted": _("Quoted"),
                "won": _("Won"), "lost": _("Lost")}
    no_data = _("No data")
    base = filt.query()
    for row in stages:
        row["name"] = stage_names.get(row["label"], row["label"])
        row["href"] = "/customers?" + urlencode({"lifecycle": row["key"], **base})
    for row in tiers:
        row["name"] = row["label"]
        row["href"] = "/customers?" + urlencode({"tier": row["key"], **base})
    for row in board:
        row["name"] = row["name"] or built_in.get(row["code"], row["code"]) or _("Deleted stage")
        row["href"] = "/pipeline?" + urlencode({"stage": row["key"]})
    for row in people:
        row["done_href"] = "/dashboard/followups?" + _query(period, filt, figure="done", person=row["user_id"])
        row["overdue_href"] = "/dashboard/followups?" + _query(period, filt, figure="overdue", person=row["user_id"])
    # Each segment opens the same list as its row under the chart.
    chart_stage = _donut(_("Customers by lifecycle stage"),
                         tuple((r["name"], r["count"]) for r in stages), no_data,
                         tuple(r["href"] for r in stages))
    members, amount, done, overdue = _("Members"), _("Amount"), _("Done"), _("Overdue")
    chart_tier = _bar(_("Members by tier"), tuple(r["name"] for r in tiers),
                      ((members, tuple(r["count"] for r in tiers)),), "count", True, no_data,
                      ((members, tuple(r["href"] for r in tiers)),))
    chart_board = _bar(_("Pipeline amount by stage"), tuple(r["name"] for r in board),
                       ((amount, tuple(r["amount_fen"] for r in board)),), "money", True, no_data,
                       ((amount, tuple(r["href"] for r in board)),))
    busiest = sorted(people, key=lambda r: -(r["done"] + r["overdue"]))[:8]
    chart_people = _bar(_("Follow-ups per person (the busiest eight)"), tuple(r["name"] for r in busiest),
                        ((done, tuple(r["done"] for r in busiest)),
                         (overdue, tuple(r["overdue"] for r in busiest))),
                        "count", True, no_data,
                        ((done, tuple(r["done_href"] for r in busiest)),
                         (overdue, tuple(r["overdue_href"] for r in busiest)))) if busiest else None
    previous = period.previous()
    return {
        "tiles": tiles, "figures": figures, "stages": stages, "tiers": tiers, "board": board,
        "people": people, "chart_stage": chart_stage, "chart_tier": chart_tier,
        "chart_board": chart_board, "chart_people": chart_people, "previous": previous,
        "has_orders": figures["orders"].value or figures["orders"].previous,
        "as_of": as_of_text(found.computed_at),
        # what the Refresh button sends back: the same period and filter
        "refresh_fields": [*period.query().items(), *filt.query().items()],
    }


async def _form(request: Request, filt: ReportFilter | None) -> dict:
    user = request.scope["auth"].user
    teams = await list_teams() if user.role == "admin" else []
    return {"channels": CHANNELS, "teams": teams, "presets": preset_labels(),
            "mine": user.role == "staff"}


@get("/dashboard", guards=[staff_required])
async def dashboard(
    request: Request,
    preset: FromQuery[str | None] = None,
    from_: Annotated[str | None, QueryParameter(name="from")] = None,
    to: FromQuery[str | None] = None,
    channel: FromQuery[str | None] = None,
    team: FromQuery[str | None] = None,
) -> Response:
    """The dashboard page, or its figures block for an HTMX request (the filters changed)."""
    return await _page(request, preset, from_, to, channel, team)


REFRESH_FIELDS = texts("from", "to", "channel", "team", max_length=20)


@post("/dashboard/refresh", guards=[staff_required])
async def dashboard_refresh(request: Request) -> Response:
    """The Refresh button: the figures computed again now. HTMX gets the figures block; a
    plain form post, the page again (Post/Redirect/Get) once they are computed."""
    form = (await read_form(request, REFRESH_FIELDS)).text
    if is_fragment_request(request):
        return await _page(request, None, form["from"], form["to"], form["channel"],
                           form["team"], fresh=True)
    try:
        filt = make_filter(scope_of(request), form["channel"], form["team"])  # Forbidden: 403
        await bundle.dashboard(Period.parse(form["from"], form["to"]), filt, fresh=True)
    except ValidationFailed:
        pass  # the page shows what is wrong next to its field
    return Redirect("/dashboard?" + urlencode({k: v for k, v in form.items() if v}), status_code=303)


async def _page(request: Request, preset: str | None, from_: str | None, to: str | None,
                channel: str | None, team: str | None, *, fresh: bool = False) -> Response:
    user = request.scope["auth"].user
    values = {"from": (from_ or "")[:20], "to": (to or "")[:20], "channel": (channel or "")[:20],
              "team": (team or "")[:20]}
    errors: dict[str, str] = {}
    period = filt = None
    try:
        filt = make_filter(scope_of(request), channel, team)  # another team: Forbidden (403)
    except ValidationFailed as exc:
        errors.update(field_errors(exc.errors))
    try:
        period = _read_period(preset, from_, to)
    except ValidationFailed as exc:
        errors.update(field_errors(exc.errors))
    context = {"nav": "more" if user.role == "staff" else "dashboard", "values": values,
               "chart_nonce": page_nonce(request),
               "errors": errors, "period": None if errors else period, "filter": filt,
               **await _form(request, filt)}
    if not errors:
        values.update(period.query())
        context["active_preset"] = next(
            (p for p in PRESETS if Period.preset(p) == period), "")
        context["preset_links"] = [
            (p, label, "/dashboard?" + urlencode({"preset": p, **filt.query()}))
            for p, label in preset_labels().items()]
        context.update(await _context(request, period, filt, fresh=fresh))
    # A wrong range is shown next to its field: 422 for the page, 200 for HTMX so it swaps.
    status = 422 if errors and not is_fragment_request(request) else 200
    return render(request, PAGE, context, block="dash", status=status)


@get("/dashboard/followups", guards=[staff_required])
async def dashboard_followups(
    request: Request,
    figure: FromQuery[str | None] = None,
    from_: Annotated[str | None, QueryParameter(name="from")] = None,
    to: FromQuery[str | None] = None,
    channel: FromQuery[str | None] = None,
    team: FromQuery[str | None] = None,
    person: FromQuery[str | None] = None,
    before: FromQuery[str | None] = None,
) -> Response:
    """The follow-ups behind a follow-up figure (done or overdue), for everyone in the
    viewer's scope or one person, newest first, a page at a time."""
    user = request.scope["auth"].user
    figure = figure if figure in drill.FOLLOWUP_FIGURES else "overdue"
    nav = "more" if user.role == "staff" else "dashboard"
    try:
        filt = make_filter(scope_of(request), channel, team)  # another team: Forbidden (403)
        period = Period.parse(from_, to)
    except ValidationFailed as exc:
        return render(request, FOLLOWUPS, {"nav": nav, "error": "; ".join(
            field_errors(exc.errors).values()), "back": "/dashboard"}, status=422)
    person_id, before_id = parse_id(person), parse_id(before)
    rows, cursor, total = await drill.followups(figure, period, filt, person=person_id,
                                                before_id=before_id)
    more_url = None
    if cursor:
        more_url = "/dashboard/followups?" + _query(period, filt, figure=figure, person=person_id,
                                                    before=cursor)
    context = {"nav": nav, "figure": figure,
               "period": period, "rows": rows, "total": total, "more_url": more_url,
               "back": "/dashboard?" + _query(period, filt),
               "person_name": next((r["assignee_name"] for r in rows), "") if person_id else ""}
    return render(request, FOLLOWUPS, context, block="rows" if before_id else None)


ROUTES = [dashboard, dashboard_refresh, dashboard_followups]
