"""One open follow-up in a list, as Python: components/follow_up_row.html's `follow_up_row`.

Today lists up to dozens, the card its open ones, the team view a page of them; as a macro each
row cost about 40 template calls. The HTML is what the macro wrote, whitespace included
(tests/test_follow_up_rows.py renders the old macro beside it); the words are the labels
module's (components/labels.html) and the due time is the templates' due_label filter.
components/follow_up_row.html hands this out as `follow_up_row`, so no template changed.
"""

from __future__ import annotations

from functools import lru_cache

from markupsafe import Markup, escape

from web.core.components import badge_html, icon_svg
from web.core.formats import due_label
from web.core.i18n import gettext


def _(text: str) -> Markup:
    """`{{ _("…") }}` as a template says it (and named so, for pybabel)."""
    return Markup(gettext(text)) % {}


@lru_cache(maxsize=8)
def _parts(labels) -> dict:
    """What every row shares, drawn once per language (`labels` is that language's module)."""
    icons = labels.follow_up_icons
    reminder, repeats = _("Reminder set"), _("Repeats")  # (outside f-strings: pybabel reads these)
    complete, snooze = _("Complete"), _("Snooze")
    return {
        "kinds": {k: icon_svg(icons[k], cls="fu-kind") for k in ("call", "visit", "message", "after_sales")},
        "high": badge_html(labels.priorities["high"], "red"),
        "select": _("Select"),
        "done": f'{icon_svg("check")}<span class="sr-only">{complete}</span></a>',
        "snooze": f'{icon_svg("clock")}<span class="sr-only">{snooze}</span></a>',
        "bell": f'<span class="fu-bell" title="{reminder}">{icon_svg("bell")}<span class="sr-only">{reminder}</span></span>',
        "repeat": f'<span class="fu-bell" title="{repeats}">{icon_svg("repeat")}<span class="sr-only">{repeats}</span></span>',
    }


def follow_up_row_html(f, labels, when="date", show_customer=True, select=False, origin="today") -> Markup:
    """follow_up_row(f, when='date', show_customer=True, select=False, origin='today'): the
    parameters are described in components/follow_up_row.html; `labels` gives the words."""
    p = _parts(labels)
    fid = escape(f.get("id", ""))
    q = "?from=card" if origin == "card" else ""
    high = f.get("priority") == "high"
    out = [f'<div class="fu-row{" is-high" if high else ""}" id="fu-{fid}">']
    if select:
        out.append(f'  <label class="fu-select"><input type="checkbox" name="follow_up" value="{fid}" '
                   f'aria-describedby="fu-t-{fid}"><span class="sr-only">{p["select"]}</span></label>')
    else:
        out.append(f'  <a class="fu-done" href="/followups/{fid}/complete" hx-get="/followups/{fid}/complete{q}" '
                   f'hx-target="#sheet-slot" hx-swap="innerHTML"\n     aria-describedby="fu-t-{fid}">{p["done"]}')
    kinds = p["kinds"]
    out.append(f'  <a class="fu-main" href="/followups/{fid}">\n    <span class="fu-title">'
               f'{kinds.get(f.get("kind"), kinds["call"])}<span class="fu-title-text" id="fu-t-{fid}">'
               f'{escape(f.get("title", ""))}</span>{p["high"] if high else ""}</span>\n    <span class="fu-sub">')
    if show_customer:
        out.append(f'<span class="fu-customer">{escape(f.get("customer_name", ""))}</span>')
    due = f["due_at"]
    out.append(f'      <time class="fu-when{" is-overdue" if when == "overdue" else ""}" '
               f'datetime="{escape(due.isoformat())}">{escape(due_label(due, when))}</time>')
    if f.get("remind_at") and f.get("reminder_state") == "pending":
        out.append(p["bell"])
    if f.get("plan_active"):
        out.append(p["repeat"])
    if not show_customer and f.get("assignee_name"):
        out.append(f'<span>{escape(f["assignee_name"])}</span>')
    out.append("    </span>")
    if f.get("note"):
        out.append(f'<span class="fu-note">{escape(f["note"])}</span>')
    out.append("  </a>")
    if not select:
        out.append(f'  <a class="fu-snooze" href="/followups/{fid}/snooze" hx-get="/followups/{fid}/snooze{q}" '
                   f'hx-target="#sheet-slot" hx-swap="innerHTML"\n     aria-describedby="fu-t-{fid}">{p["snooze"]}')
    out.append("</div>")
    return Markup("".join(out))
