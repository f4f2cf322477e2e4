"""会员与积分 (Members and points): members per tier, tier moves, points issued, redeemed and
expired, the points liability, and the points that will expire in the next 12 months."""

from __future__ import annotations

from db.figures.breakdowns import members_by_tier
from db.figures.filters import ReportFilter
from db.figures.key import key_figures, point_value_fen
from db.figures.loyalty import expiry_forecast, tier_moves
from db.figures.period import Period
from reports import charts as ch
from db.i18n import N_
from reports.base import column, figure, key_definitions, key_figure, permille, table
from reports.render import gettext

KEYS = ("points_issued", "points_redeemed", "points_expired", "points_liability_fen")
DIRECTIONS = {"join": N_("Joined"), "up": N_("Upgrade"), "down": N_("Downgrade")}
FORECAST = N_("Expiry forecast: the points still unspent in earning lots that expire in each of "
              "the next 12 months, counted from today; what members spend first (oldest lots "
              "first) no longer expires.")


async def data(period: Period, filt: ReportFilter) -> dict:
    figures = await key_figures(period, filt)
    tiers = await members_by_tier(filt)
    moves = await tier_moves(period, filt)
    forecast = await expiry_forecast(filt)
    members = sum(t["count"] for t in tiers)
    value = point_value_fen()
    for row in forecast:
        row["value_fen"] = row["points"] * value
    for row in moves:
        row["label"] = DIRECTIONS[row["direction"]]
        row["from_tier"] = row["from_tier"] or "—"
    up = sum(r["count"] for r in moves if r["direction"] == "up")
    down = sum(r["count"] for r in moves if r["direction"] == "down")
    expiring = sum(r["points"] for r in forecast)
    return {
        "has_data": members > 0,
        "figures": [
            figure("members", N_("Members"), members),
            *[key_figure(figures, k) for k in KEYS],
            figure("upgrades", N_("Tier upgrades"), up),
            figure("downgrades", N_("Tier downgrades"), down),
            figure("expiring_12m", N_("Points expiring in 12 months"), expiring),
        ],
        "tables": {
            "tiers": table(N_("Members per tier"), [
                column("label", N_("Tier"), "text"), column("count", N_("Members")),
                column("share", N_("Share"), "permille")],
                [{"label": t["label"], "count": t["count"], "share": permille(t["count"], members)}
                 for t in tiers]),
            "moves": table(N_("Tier moves in the range"), [
                column("label", N_("Kind of move"), "label"), column("from_tier", N_("From tier"), "text"),
                column("to_tier", N_("To tier"), "text"), column("count", N_("Members"))], moves),
            "forecast": table(N_("Points expiring in the next 12 months"), [
                column("month", N_("Month"), "text"), column("points", N_("Points")),
                column("members", N_("Members")), column("value_fen", N_("Points value"), "fen")],
                forecast, total={"month": N_("All"), "points": expiring, "members": None,
                                 "value_fen": expiring * value}),
        },
        "definitions": [*key_definitions(KEYS), (N_("Expiry forecast"), FORECAST)],
    }


def charts(d: dict) -> dict:
    t = d["tables"]
    empty = gettext("No data")
    return {
        "tiers": ch.donut(gettext("Members per tier"), [(r["label"], r["count"]) for r in t["tiers"]["rows"]],
                          label_header=gettext("Tier"), value_header=gettext("Members"),
                          empty_text=empty, height=260),
        "forecast": ch.bar(gettext("Points expiring per month"), [r["month"] for r in t["forecast"]["rows"]],
                           {gettext("Points"): [r["points"] for r in t["forecast"]["rows"]]},
                           label_header=gettext("Month"), empty_text=empty, width=420, height=260, timeline=True),
    }
