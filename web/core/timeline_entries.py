"""The 360 card's timeline entries as Python: components/timeline.html's `timeline_entry`.

A card shows up to 20 entries, and as a macro each cost a dozen nested calls (the time macro,
label lookups through the labels module, badge and icon calls, translations): about a sixth
of the card. The HTML is what the macro wrote, whitespace included, in both languages
(tests/test_timeline_entries.py renders the old macro beside it); the words are the labels
module's (components/labels.html, one per language) and the filters are the templates' own
(web/core/formats.py).
components/timeline.html hands this out as `timeline_entry`, so no template changed.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from web.core import i18n
from web.core.components import badge_html, icon_svg
from web.core.formats import local_date, local_datetime, money


# Named as in templates, so scripts/i18n.sh extracts the words from here as it did from there.
def _(text: str, **values) -> Markup:
    """`_("…", **values)` as the templates say it: the translation is markup, values escaped."""
    return Markup(i18n.gettext(text)) % values


def ngettext(singular: str, plural: str, num: int) -> Markup:
    return Markup(i18n.ngettext(singular, plural, num)) % {"num": num}


def _time(at) -> str:
    return f'<time class="timeline-time" datetime="{escape(at.isoformat())}">{escape(local_datetime(at))}</time>'


def _moved(table, n) -> Markup:
    """What a merge moved over from one table: "3 orders"."""
    if table == "order":
        return ngettext("%(num)d order", "%(num)d orders", n)
    if table == "interaction":
        return ngettext("%(num)d interaction", "%(num)d interactions", n)
    if table == "customer_tag":
        return ngettext("%(num)d tag", "%(num)d tags", n)
    if table == "customer_field_value":
        return ngettext("%(num)d custom field", "%(num)d custom fields", n)
    if table == "follow_up":
        return ngettext("%(num)d follow-up", "%(num)d follow-ups", n)
    if table == "follow_up_plan":
        return ngettext("%(num)d repeating plan", "%(num)d repeating plans", n)
    if table == "merge_record":
        return ngettext("%(num)d earlier merge", "%(num)d earlier merges", n)
    return escape(table) + Markup(" ") + escape(n)


def _head(cls: str, dot: str, icon: Markup, title, at) -> str:
    return (f'<li class="timeline-item {cls}">\n  <span class="timeline-dot {dot}">{icon}</span>\n'
            f'  <div class="timeline-main">\n    <div class="timeline-head">\n'
            f'      <span class="timeline-title">{title}</span>\n      {_time(at)}\n    </div>\n')


def _order(e, labels) -> str:
    status, channel = e.get("status", ""), e.get("channel", "")
    title = _("Order") + Markup(' <span class="num timeline-amount">%s</span>') % money(e.get("total_fen"), e.get("currency"))
    if e.get("first_item"):
        body = escape(e["first_item"])
        if e["item_count"] > 1:
            body += Markup(" ") + _("and %(n)d more", n=e["item_count"] - 1)
    else:
        body = _("No items listed")
    badge = badge_html(labels.order_statuses.get(status, status), labels.order_status_tones.get(status, "neutral"))
    return (_head("timeline-order", "timeline-dot-order", icon_svg("bag"), title, e["at"])
            + f'    <p class="timeline-body">{body}</p>\n'
            f'    <p class="timeline-meta">{badge}<span>{escape(labels.channels.get(channel, channel))} · '
            f'<span class="num">{escape(e.get("external_id", ""))}</span></span></p>\n  </div>\n</li>')


def _interaction(e, labels) -> str:
    kind, outcome = e.get("interaction_kind", ""), e.get("outcome")
    title = escape(labels.kinds.get(kind, kind))
    if outcome:
        title += Markup(" ") + badge_html(labels.outcomes.get(outcome, outcome),
                                          labels.outcome_tones.get(outcome, "neutral"))
    out = (_head("timeline-interaction", f"timeline-dot-{escape(kind)}",
                 icon_svg(labels.kind_icons.get(kind, "note")), title, e["at"])
           + f'    <p class="timeline-body">{escape(e.get("body", ""))}</p>')
    staff, next_on = e.get("staff_name"), e.get("next_follow_up_on")
    if staff or next_on:
        out += '    <p class="timeline-meta">'
        if staff:
            out += f"<span>{escape(staff)}</span>"
        if next_on:
            words = _("Next follow-up %(date)s", date=local_date(next_on))
            out += f'<span class="timeline-follow-up">{icon_svg("calendar")}{words}</span>'
        out += "</p>"
    return out + "  </div>\n</li>"


def _follow_up(e, labels) -> str:
    kind = e.get("follow_up_kind", "")
    out = (_head("timeline-follow-up-done", "timeline-dot-done", icon_svg("check"),
                 _("Done: %(title)s", title=e.get("title", "")), e["at"])
           + f'    <p class="timeline-body">{escape(labels.outcome_text(e.get("outcome_code", ""), e.get("outcome", "")))}</p>\n'
           f'    <p class="timeline-meta">\n      <span>{escape(labels.follow_up_kinds.get(kind, kind))}</span>')
    if e.get("staff_name"):
        out += f'<span>{escape(e["staff_name"])}</span>'
    if e.get("next_follow_up"):
        words = _("Next follow-up planned")
        out += (f'<a class="timeline-follow-up" href="/followups/{escape(e["next_follow_up"])}">'
                f'{icon_svg("calendar")}{words}</a>')
    return out + "</p>\n  </div>\n</li>"


def _merge(e, labels) -> str:
    title = _("Merged from %(name)s", name=e.get("merged_name") or ("#" + str(e.get("merged_id", ""))))
    moved = e.get("moved")
    if moved:
        body = _("Moved here:") + Markup(" ") + _(", ").join(_moved(what, n) for what, n in moved.items())
    else:
        body = _("Profile merged into this customer")
    out = (_head("timeline-merge", "timeline-dot-merge", icon_svg("merge"), title, e["at"])
           + f'    <p class="timeline-body">{body}</p>')
    if e.get("actor"):
        out += f'<p class="timeline-meta"><span>{escape(e["actor"])}</span></p>'
    return out + "  </div>\n</li>"


def _stage_change(e, labels) -> str:
    to_stage = labels.stage_name(e.get("to_code", ""), e.get("to_name", ""))
    if e.get("change_kind") == "created":
        title = _("New opportunity in %(stage)s", stage=to_stage)
    else:
        title = _("Opportunity moved from %(from)s to %(to)s",
                   **{"from": labels.stage_name(e.get("from_code", ""), e.get("from_name", "")), "to": to_stage})
    dot = "timeline-dot-stage is-won" if e.get("to_code") == "won" else "timeline-dot-stage"
    staff = Markup("<span>%s</span>") % _("by %(name)s", name=e["staff_name"]) if e.get("staff_name") else ""
    return (_head("timeline-stage", dot, icon_svg("chart"), title, e["at"])
            + f'    <p class="timeline-body"><a href="/pipeline/{escape(e.get("opportunity_id", ""))}">'
            f'{escape(e.get("title", ""))}</a></p>\n'
            f'    <p class="timeline-meta"><span class="num timeline-amount">{escape(money(e.get("amount_fen")))}</span>'
            f"{staff}</p>\n  </div>\n</li>")


_KINDS = {"order": _order, "interaction": _interaction, "follow_up": _follow_up, "merge": _merge,
          "stage_change": _stage_change}


def timeline_entry_html(e, labels) -> Markup:
    """timeline_entry(e): one <li class="timeline-item"> (the kinds are in components/timeline.html)
    with the words of `labels` (shop_labels(): templating hands this out with them); an entry of
    an unknown kind renders nothing."""
    draw = _KINDS.get(e.get("kind"))
    return Markup(draw(e, labels)) if draw else Markup("")
