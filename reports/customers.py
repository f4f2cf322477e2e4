"""客户结构 (Customer structure): lifecycle, the RFM grid, channels, provinces and cities, and
new against returning buyers."""

from __future__ import annotations

from db.figures import structure
from db.figures.breakdowns import lifecycle_counts
from db.figures.filters import ReportFilter
from db.figures.period import Period
from reports import charts as ch
from db.i18n import N_
from reports.base import column, figure, permille, table
from reports.render import gettext

STAGES = ("prospect", "new", "active", "dormant", "churned")
STAGE_LABELS = {"prospect": N_("Prospect"), "new": N_("New buyer"), "active": N_("Active"),
                "dormant": N_("Dormant"), "churned": N_("Churned")}
CHANNEL_LABELS = {"tmall": N_("Tmall"), "jd": N_("JD"), "douyin": N_("Douyin"),
                  "pdd": N_("Pinduoduo"), "web": N_("Web shop"), "store": N_("Store")}
DEFINITIONS = [
    (N_("Buyers"), N_("Customers in scope with a paid order placed in the range (of the channel chosen).")),
    (N_("New and returning buyers"), N_("A buyer is new when their first paid order ever (of the "
                                        "channel chosen) is in the range, else returning.")),
    (N_("Returning buyers' share of sales"), N_("Sales of returning buyers in the range divided by "
                                                "all sales in the range.")),
    (N_("RFM grid"), N_("Customers by their current recency (R) and frequency (F) scores, 1 to 5 by "
                        "quintile of all customers with a paid order; with a channel chosen, the "
                        "customers who first came through it.")),
    (N_("Lifecycle"), N_("The customers' current stage, from the recency of their paid orders "
                         "(thresholds under More → Lifecycle settings).")),
]


def _spend_columns(first: list[dict]) -> list[dict]:
    return [*first, column("customers", N_("Buyers")), column("orders", N_("Orders")),
            column("sales_fen", N_("Sales amount"), "fen")]


def _total(rows: list[dict], label_key: str, label: str) -> dict:
    return {label_key: label, "customers": None, "orders": sum(r["orders"] for r in rows),
            "sales_fen": sum(r["sales_fen"] for r in rows)}


async def data(period: Period, filt: ReportFilter) -> dict:
    stages = {r["key"]: r["count"] for r in await lifecycle_counts(filt)}
    grid = await structure.rfm_grid(filt)
    chans = await structure.channels(period, filt)
    provs = await structure.provinces(period, filt)
    cities = await structure.cities(period, filt)
    split = await structure.new_and_returning(period, filt)
    new, back = split["new"], split["returning"]
    buyers = new.customers + back.customers
    sales = new.sales_fen + back.sales_fen
    everyone = sum(stages.values())
    for row in chans:
        row["label"] = CHANNEL_LABELS.get(row["channel"], row["channel"])
    for row in provs:
        row["province"] = row["province"] or "—"
    for row in cities:
        row["province"] = row["province"] or "—"
        row["city"] = row["city"] or "—"
    rfm_rows = []
    for r in range(5, 0, -1):
        cells = {f"f{f}": grid.get((r, f), {}).get("customers", 0) for f in range(1, 6)}
        rfm_rows.append({"r": f"R{r}", **cells, "all": sum(cells.values())})
    return {
        "has_data": buyers > 0 or everyone > 0,
        "figures": [
            figure("buyers", N_("Buyers"), buyers, definition=DEFINITIONS[0][1]),
            figure("new_buyers", N_("New buyers"), new.customers, definition=DEFINITIONS[1][1]),
            figure("returning_buyers", N_("Returning buyers"), back.customers),
            figure("returning_share", N_("Returning buyers' share of sales"),
                   permille(back.sales_fen, sales), "permille", definition=DEFINITIONS[2][1]),
            figure("sales_fen", N_("Sales amount"), sales, "fen"),
            figure("per_buyer_fen", N_("Sales per buyer"), sales // buyers if buyers else None, "fen"),
            figure("customers", N_("Customers in scope"), everyone),
            figure("active", N_("Active customers"), stages.get("active", 0)),
        ],
        "tables": {
            "lifecycle": table(N_("Lifecycle"), [
                column("label", N_("Stage"), "label"), column("customers", N_("Customers")),
                column("share", N_("Share"), "permille")],
                [{"stage": s, "label": STAGE_LABELS[s], "customers": stages.get(s, 0),
                  "share": permille(stages.get(s, 0), everyone)} for s in STAGES]),
            "rfm": table(N_("RFM grid: customers by recency and frequency"), [
                column("r", N_("Recency"), "text"),
                *[column(f"f{f}", f"F{f}") for f in range(1, 6)], column("all", N_("All"))],
                rfm_rows, note=N_("R5: bought most recently; F5: buys most often.")),
            "new_returning": table(N_("New and returning buyers"), _spend_columns(
                [column("label", N_("Buyers"), "label")]), [
                {"kind": "new", "label": N_("New buyers"), **vars(new)},
                {"kind": "returning", "label": N_("Returning buyers"), **vars(back)}]),
            "channels": table(N_("Channels"), _spend_columns([column("label", N_("Channel"), "label")]),
                              chans, total=_total(chans, "label", N_("All")) if chans else None,
                              note=N_("A buyer who ordered in two channels is counted in each.")),
            "provinces": table(N_("Provinces"), _spend_columns(
                [column("province", N_("Province"), "text")]), provs),
            "cities": table(N_("Cities"), _spend_columns(
                [column("province", N_("Province"), "text"), column("city", N_("City"), "text")]),
                cities, note=N_("At most 1,000 cities, by sales.")),
        },
        "definitions": DEFINITIONS,
    }


def charts(d: dict) -> dict:
    t = d["tables"]
    empty = gettext("No data")
    provs = t["provinces"]["rows"][:10]
    return {
        "lifecycle": ch.donut(gettext("Customers by lifecycle stage"),
                              [(gettext(r["label"]), r["customers"]) for r in t["lifecycle"]["rows"]],
                              label_header=gettext("Stage"), value_header=gettext("Customers"),
                              empty_text=empty),
        "channels": ch.bar(gettext("Sales by channel"), [gettext(r["label"]) for r in t["channels"]["rows"]],
                           {gettext("Sales amount"): [r["sales_fen"] for r in t["channels"]["rows"]]},
                           unit="money", label_header=gettext("Channel"), empty_text=empty,
                           width=420, height=300),
        "new_returning": ch.donut(gettext("Sales of new and returning buyers"),
                                  [(gettext(r["label"]), r["sales_fen"]) for r in t["new_returning"]["rows"]],
                                  unit="money", label_header=gettext("Buyers"),
                                  value_header=gettext("Sales amount"), empty_text=empty),
        "provinces": ch.bar(gettext("Top provinces by sales"), [r["province"] for r in provs],
                            {gettext("Sales amount"): [r["sales_fen"] for r in provs]}, unit="money",
                            horizontal=True, label_header=gettext("Province"), empty_text=empty,
                            width=420, height=300),
    }
