"""The card's latest points entries, as Python: one <li class="member-entry"> each.

The member section (web/templates/members/_card_section.html) lists the last five; as a
template loop each cost a macro call (labels.points_reason), two filters and a dozen lookups,
about a fifth of the section. The HTML is what the loop wrote (tests/test_points_entries.py
renders the old loop beside it); the words are the labels module's (components/labels.html).
"""

from __future__ import annotations

from markupsafe import Markup, escape

from web.core.formats import actor_label, local_datetime
from web.core.i18n import gettext


def _(text: str, **values) -> Markup:
    """`_("…", **values)` as the templates say it (and named so, for pybabel)."""
    return Markup(gettext(text)) % values


def points_reason_html(e, labels) -> Markup:
    """components/labels.html's points_reason(e): an order's reason with the channel's name,
    the nightly rules' translated, what staff typed as typed."""
    reason = e.get("reason")
    if e.get("source_type") == "order" and " " in (reason or ""):
        channel, no = reason.split(" ", 1)
        return _("%(channel)s order %(no)s", channel=labels.channels.get(channel, channel), no=no)
    if e.get("source_type") == "rule":
        return Markup(gettext(reason)) % {}  # `_(e.reason)`: the rules' words are in the catalogue
    return escape(reason)


def points_entry_html(e, labels) -> Markup:
    """One points entry of the card's member section: kind and reason, when and by whom, delta."""
    kind = e.get("kind")
    title = escape(labels.points_kinds.get(kind, kind))
    if e.get("reason"):
        title += Markup(" · ") + points_reason_html(e, labels)
    when = escape(local_datetime(e.get("created_at")))
    if e.get("actor"):
        when += Markup(" · ") + escape(actor_label(e["actor"]))
    delta = e.get("delta")
    return Markup(f'<li class="member-entry">\n      <span class="member-entry-main">\n'
                  f'        <span class="member-entry-title">{title}</span>\n'
                  f'        <span class="muted small">{when}</span>\n      </span>\n'
                  f'      <span class="member-entry-delta num {"is-plus" if delta > 0 else "is-minus"}">'
                  f'{escape("%+d" % delta)}</span>\n    </li>')
