"""The 360 card's member section: what it shows, read for web/customers/card.py (which owns
the card and its sections) and for the member quick actions in web/members/card_section.py."""

from __future__ import annotations

import secrets
from functools import lru_cache

from markupsafe import Markup

from db.engine import reading
from db.members import catalogue, config, coupons, ledger, membership
from web.core import i18n
from web.core.templating import local_date, money

TEMPLATE = "members/_card_section.html"
# The blocks HTMX requests render or refresh alone (see the template's header).
BLOCKS = ("member_section", "member_sheets", "adjust_form", "issue_form", "use_form", "join_form")
RECENT_ENTRIES = 5


async def read(customer_id: int) -> dict:
    """What the member section shows, read on one connection: the member, where they stand,
    open coupons, the last few points entries and the coupon types staff may issue."""
    cfg = await config.load()
    async with reading():
        member = await membership.member_for_customer(customer_id)
        if member is None:
            return {"customer_id": customer_id, "member": None}
        summary = await membership.summary(member["id"])
        open_coupons = await coupons.for_member(member["id"], limit=20)
        entries, more = await ledger.history(member["id"], limit=RECENT_ENTRIES)
        types = await catalogue.list_coupon_types(active_only=True)
    for t in types:
        t["terms"] = coupon_terms(t)
    return {
        "customer_id": customer_id, "member": member, "summary": summary, "coupons": open_coupons,
        "entries": entries, "more_history": more is not None, "coupon_types": types,
        "manager_above": cfg.manager_above, "new_key": secrets.token_urlsafe(16),
    }



def coupon_terms(t: dict) -> Markup:
    """What a coupon type gives, in the issue sheet: "¥10.00 off · min. spend ¥100.00 · valid
    30 days". The same few types on every member's card, so each (language, zone, terms) is
    written once per process; the text is what the template wrote (tests/test_coupon_terms.py)."""
    return _terms(i18n.current_lang(), i18n.current_zone(), t["kind"], t["amount_off_fen"], t["percent_off"],
                  t["min_spend_fen"], t["valid_days"], t["valid_until"])


@lru_cache(maxsize=256)
def _terms(lang, zone, kind, amount_off_fen, percent_off, min_spend_fen, valid_days, valid_until) -> Markup:
    def _(text, **values):
        return Markup(i18n.gettext(text)) % values

    text = _("%(amount)s off", amount=money(amount_off_fen)) if kind == "amount" else _("%(n)s%% off", n=percent_off)
    if min_spend_fen:
        text += Markup(" · ") + _("min. spend %(amount)s", amount=money(min_spend_fen))
    text += Markup("          · ")
    if valid_days:
        text += Markup(i18n.ngettext("valid %(num)d day", "valid %(num)d days", valid_days)) % {"num": valid_days}
    else:
        text += _("until %(date)s", date=local_date(valid_until))
    return text
