"""经营概览 (Business overview): one page of the key figures and three charts."""

from __future__ import annotations

from db.figures import structure
from db.figures.breakdowns import lifecycle_counts
from db.figures.filters import ReportFilter
from db.figures.key import key_figures
from db.figures.period import Period
from reports import charts as ch
from db.i18n import N_
from reports.base import column, key_definitions, key_figure, table
from reports.customers import CHANNEL_LABELS, STAGE_LABELS
from reports.render import gettext

KEYS = ("sales_fen", "orders", "average_order_fen", "active_customers", "new_customers",
        "repurchase_rate", "churn_rate", "points_liability_fen")


async def data(period: Period, filt: ReportFilter) -> dict:
    figures = await key_figures(period, filt)
    series, chans = await structure.sales_over_time(period, filt)
    stages = await lifecycle_counts(filt)
    for row in chans:
        row["label"] = CHANNEL_LABELS.get(row["channel"], row["channel"])
    daily = period.days <= structure.DAILY_UP_TO
    return {
        "has_data": figures["orders"].value > 0 or sum(r["count"] for r in stages) > 0,
        "figures": [key_figure(figures, k) for k in KEYS],
        "tables": {
            "sales": table(N_("Sales per day") if daily else N_("Sales per month"), [
                column("label", N_("Day") if daily else N_("Month"), "text"),
                column("orders", N_("Orders")), column("sales_fen", N_("Sales amount"), "fen")], series),
            "channels": table(N_("Channels"), [
                column("label", N_("Channel"), "label"),
                column("orders", N_("Orders")), column("sales_fen", N_("Sales amount"), "fen")], chans),
            "lifecycle": table(N_("Lifecycle"), [
                column("label", N_("Stage"), "label"), column("count", N_("Customers"))],
                [{"label": STAGE_LABELS[r["key"]], "count": r["count"]} for r in stages]),
        },
        # One page: the rates' definitions are the notes under the key figures (the others
        # are printed by the reports that detail them).
        "definitions": key_definitions(("repurchase_rate", "churn_rate")),
        "one_page": True,
    }


def charts(d: dict) -> dict:
    t = d["tables"]
    empty = gettext("No data")
    sales = t["sales"]["rows"]
    return {
        "sales": ch.bar(gettext(t["sales"]["title"]), [r["label"][5:] if len(r["label"]) > 7 else r["label"] for r in sales],
                        {gettext("Sales amount"): [r["sales_fen"] for r in sales]}, unit="money",
                        label_header=gettext("Day") if len(sales[0]["label"]) > 7 else gettext("Month"),
                        empty_text=empty, width=760, height=230, timeline=True) if sales else None,
        "channels": ch.bar(gettext("Sales by channel"), [gettext(r["label"]) for r in t["channels"]["rows"]],
                           {gettext("Sales amount"): [r["sales_fen"] for r in t["channels"]["rows"]]},
                           unit="money", label_header=gettext("Channel"), empty_text=empty,
                           width=420, height=260),
        "lifecycle": ch.donut(gettext("Customers by lifecycle stage"),
                              [(gettext(r["label"]), r["count"]) for r in t["lifecycle"]["rows"]],
                              label_header=gettext("Stage"), value_header=gettext("Customers"),
                              empty_text=empty, height=260),
    }
