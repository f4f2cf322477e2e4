"""复购与流失 (Repurchase and churn): monthly cohorts by first paid order, the share of each
that bought again in each later month, and the shop's repurchase and churn rates."""

from __future__ import annotations

from db.figures.cohorts import MAX_LATER, monthly_cohorts
from db.figures.filters import ReportFilter
from db.figures.key import key_figures
from db.figures.period import Period
from reports import charts as ch
from db.i18n import N_
from reports.base import column, figure, key_definitions, key_figure, permille, table
from reports.render import gettext

LATER = range(1, MAX_LATER + 1)
DEFINITIONS = [
    (N_("Cohort"), N_("The customers whose first paid order ever (in the channel chosen) was in "
                      "that month of the range.")),
    (N_("Bought again in month k"), N_("The share of a cohort with a paid order in the k-th "
                                       "calendar month after its first order month; blank where "
                                       "that month is after the end of the range.")),
    (N_("Retention curve"), N_("For each k, the customers of all cohorts observed k months later "
                               "who bought in that month, divided by the size of those cohorts.")),
]


async def data(period: Period, filt: ReportFilter) -> dict:
    cohorts = await monthly_cohorts(period, filt)
    keys = await key_figures(period, filt)
    total = sum(c.size for c in cohorts)
    share_rows, count_rows = [], []
    for c in cohorts:
        shares = {f"m{k}": (None if n is None else permille(n, c.size)) for k, n in zip(LATER, c.returned)}
        counts = {f"m{k}": n for k, n in zip(LATER, c.returned)}
        share_rows.append({"month": c.month, "size": c.size, **shares})
        count_rows.append({"month": c.month, "size": c.size, **counts})
    curve = []
    for k in LATER:
        seen = [c for c in cohorts if c.returned[k - 1] is not None]
        size = sum(c.size for c in seen)
        back = sum(c.returned[k - 1] for c in seen)
        curve.append({"k": k, "share": permille(back, size), "cohort_customers": size, "returned": back})
    month_cols = [column(f"m{k}", f"M{k}", "permille") for k in LATER]
    return {
        "has_data": total > 0 or keys["active_customers"].value > 0,
        "figures": [
            key_figure(keys, "repurchase_rate"),
            key_figure(keys, "churn_rate"),
            key_figure(keys, "active_customers"),
            figure("cohort_customers", N_("New buyers (cohort customers)"), total),
            figure("month1", N_("Bought again the month after"), curve[0]["share"], "permille",
                   definition=DEFINITIONS[1][1]),
            figure("month3", N_("Bought again 3 months after"), curve[2]["share"], "permille"),
            figure("month6", N_("Bought again 6 months after"), curve[5]["share"], "permille"),
        ],
        "tables": {
            "cohorts": table(N_("Cohorts: share that bought again"),
                             [column("month", N_("First order month"), "text"),
                              column("size", N_("Customers")), *month_cols], share_rows),
            "cohort_counts": table(N_("Cohorts: customers who bought again"),
                                   [column("month", N_("First order month"), "text"),
                                    column("size", N_("Customers")),
                                    *[column(f"m{k}", f"M{k}") for k in LATER]], count_rows),
            "curve": table(N_("Retention curve"),
                           [column("k", N_("Months after the first order")),
                            column("cohort_customers", N_("Customers observed")),
                            column("returned", N_("Bought in that month")),
                            column("share", N_("Share"), "permille")], curve),
        },
        "definitions": [*key_definitions(("repurchase_rate", "churn_rate")), *DEFINITIONS],
        "later": list(LATER),
    }


def charts(d: dict) -> dict:
    curve = d["tables"]["curve"]["rows"]
    cohorts = d["tables"]["cohorts"]["rows"]
    empty = gettext("No data")
    return {
        "curve": ch.line(gettext("Share that bought again, by months after the first order"),
                         [f"M{r['k']}" for r in curve],
                         {gettext("Share"): [r["share"] for r in curve]}, unit="permille",
                         label_header=gettext("Months after the first order"), empty_text=empty,
                         width=640, height=250),
        "sizes": ch.bar(gettext("New buyers per month"), [r["month"] for r in cohorts],
                        {gettext("Customers"): [r["size"] for r in cohorts]},
                        label_header=gettext("First order month"), empty_text=empty,
                        width=640, height=250, timeline=True),
    }
