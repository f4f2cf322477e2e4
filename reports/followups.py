"""跟进绩效 (Follow-up performance): per person, follow-ups due, done on time, done late and
overdue, interactions logged, opportunities won and their amount."""

from __future__ import annotations

from db.figures.breakdowns import followups_by_person
from db.figures.filters import ReportFilter
from db.figures.key import key_figures
from db.figures.period import Period
from reports import charts as ch
from db.i18n import N_
from reports.base import column, figure, key_definitions, key_figure, permille, table
from reports.render import gettext

KEYS = ("followups_done", "followups_overdue")
ON_TIME = N_("Follow-ups due in the range and done by their due time, divided by all follow-ups "
             "due in the range (cancelled ones left out).")
PERSON = N_("Per person: follow-ups assigned to them and due in the range; of those, done on "
            "time, done late, and still open past their time (overdue); interactions they "
            "logged; opportunities they own that were won in the range, and their amount.")


async def data(period: Period, filt: ReportFilter) -> dict:
    figures = await key_figures(period, filt)
    people = await followups_by_person(period, filt)
    for p in people:
        p["on_time_rate"] = permille(p["done_on_time"], p["due"])
    fields = ("due", "done_on_time", "done_late", "overdue", "interactions", "won_count", "won_fen")
    total = {k: sum(p[k] for p in people) for k in fields}
    total["name"] = N_("All")
    total["on_time_rate"] = permille(total["done_on_time"], total["due"])
    busy = any(p[k] for p in people for k in fields)
    return {
        "has_data": busy,
        "figures": [
            *[key_figure(figures, k) for k in KEYS],
            figure("due", N_("Follow-ups due"), total["due"]),
            figure("on_time_rate", N_("Done on time"), total["on_time_rate"], "permille",
                   definition=ON_TIME),
            figure("interactions", N_("Interactions logged"), total["interactions"]),
            figure("won_count", N_("Deals won"), total["won_count"]),
            figure("won_fen", N_("Amount won"), total["won_fen"], "fen"),
            figure("people", N_("People"), len(people)),
        ],
        "tables": {
            "people": table(N_("Per person"), [
                column("name", N_("Person"), "text"), column("due", N_("Due in the range")),
                column("done_on_time", N_("On time")), column("done_late", N_("Late")),
                column("overdue", N_("Overdue")), column("on_time_rate", N_("On-time rate"), "permille"),
                column("interactions", N_("Interactions")), column("won_count", N_("Won")),
                column("won_fen", N_("Amount won"), "fen")], people, total=total, note=PERSON),
        },
        "definitions": [*key_definitions(KEYS), (N_("Done on time"), ON_TIME), (N_("Per person"), PERSON)],
    }


def charts(d: dict) -> dict:
    rows = [r for r in d["tables"]["people"]["rows"] if r["due"]][:15]
    empty = gettext("No data")
    return {
        "people": ch.bar(gettext("Follow-ups due per person"), [r["name"] for r in rows], {
            gettext("On time"): [r["done_on_time"] for r in rows],
            gettext("Late"): [r["done_late"] for r in rows],
            gettext("Overdue"): [r["overdue"] for r in rows]},
            horizontal=True, stacked=True, label_header=gettext("Person"), empty_text=empty,
            width=760, height=max(200, 40 + 26 * len(rows))),
    }
