"""web/core/templating.coupon_terms (the coupon_terms filter) writes what the issue sheet's template wrote (issue 12)."""

from __future__ import annotations

import datetime as dt

import pytest
from markupsafe import Markup

from web.core import i18n
from web.core.templating import coupon_terms, env

OLD = """
          {%- if t.kind == "amount" %}{{ _("%(amount)s off", amount=t.amount_off_fen|money) }}{% else %}{{ _("%(n)s%% off", n=t.percent_off) }}{% endif %}
          {%- if t.min_spend_fen %} · {{ _("min. spend %(amount)s", amount=t.min_spend_fen|money) }}{% endif %}
          · {% if t.valid_days %}{{ ngettext("valid %(num)d day", "valid %(num)d days", t.valid_days) }}{% else %}{{ _("until %(date)s", date=t.valid_until|local_date) }}{% endif %}"""

UNTIL = dt.datetime(2027, 1, 31, 23, 30, tzinfo=dt.timezone.utc)
TYPES = [
    {"kind": "amount", "amount_off_fen": 1000, "percent_off": 0, "min_spend_fen": 10000, "valid_days": 30,
     "valid_until": None},
    {"kind": "amount", "amount_off_fen": 123456789, "percent_off": 0, "min_spend_fen": 0, "valid_days": 1,
     "valid_until": None},
    {"kind": "percent", "amount_off_fen": 0, "percent_off": 15, "min_spend_fen": 5050, "valid_days": None,
     "valid_until": UNTIL},
    {"kind": "percent", "amount_off_fen": 0, "percent_off": 5, "min_spend_fen": 0, "valid_days": None,
     "valid_until": None},
]


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("t", TYPES)
def test_coupon_terms_are_the_template_text(t, language):
    i18n.activate(language)
    try:
        for _ in range(2):  # the second answer comes from the cache
            assert coupon_terms(t) == Markup(env.from_string(OLD).render(t=t))
    finally:
        i18n.activate(i18n.DEFAULT)
