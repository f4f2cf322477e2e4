"""Every report by name: its title, data function, charts and print template."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

from reports import customers, followups, loyalty, retention, summary
from db.i18n import N_


@dataclass(frozen=True)
class Report:
    name: str
    title: str  # msgid
    data: Callable[..., Awaitable[dict]]  # async (period, filt) -> dict of plain values
    template: str  # reports/templates/<name>.html
    charts: Callable[[dict], dict]  # data -> {key: reports.charts.Chart}
    description: str = ""  # msgid: one line on the list of reports
    for_staff: bool = False  # staff may open it (their own figures); else managers and admins


def _report(module, title: str, description: str, for_staff: bool = False) -> Report:
    name = module.__name__.rsplit(".", 1)[1]
    return Report(name, title, module.data, f"{name}.html", module.charts, description,
                  for_staff)


REPORTS: dict[str, Report] = {r.name: r for r in (
    _report(summary, N_("Business overview"),
            N_("One page: the key figures of the range and three charts")),
    _report(customers, N_("Customer structure"),
            N_("Lifecycle, RFM grid, channels, provinces and cities, new and returning")),
    _report(retention, N_("Repurchase and churn"),
            N_("Monthly cohorts by first order, repurchase and churn rates")),
    _report(loyalty, N_("Members and points"),
            N_("Members per tier, tier moves, points issued, redeemed and expired, liability")),
    _report(followups, N_("Follow-up performance"),
            N_("Per person: follow-ups due, on time, late, overdue; interactions; deals won"),
            for_staff=True),
)}
