"""How the pages write amounts, dates and times: the templates' money, local_date,
local_datetime, due_label and actor_label filters (web/core/templating.py registers them), for Python that
draws HTML too (web/core/timeline_entries.py, follow_up_rows.py, points_entries.py)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, get_day_names
from babel.numbers import format_decimal

from db.money import format_fen
from web.core import i18n


@lru_cache(maxsize=8)
def _digit_group(lang: str) -> str | None:
    """The thousands separator when the language groups by threes with an ASCII minus (both
    of ours), else None: then babel formats every amount."""
    locale = i18n.locale_for(lang)
    symbols = locale.number_symbols.get("latn", {})
    if locale.decimal_formats[None].grouping == (3, 3) and symbols.get("minusSign") == "-":
        return symbols.get("group")
    return None


def money(fen: int | None, currency: str = "CNY") -> str:
    if fen is None:
        return "—"
    text = format_fen(fen)
    whole, cents = text.split(".")
    lang = i18n.current_lang()
    group = _digit_group(lang)
    if group is None:
        whole = format_decimal(int(whole), locale=i18n.locale_for(lang))
    else:  # what babel writes, 40 times faster (a card shows a dozen amounts)
        whole = f"{int(whole):,}".replace(",", group)
    symbol = "¥" if currency == "CNY" else currency + " "
    return f"{symbol}{whole}.{cents}"


def _tz() -> ZoneInfo:
    return i18n.current_zone()  # the viewer's zone, else the shop's (set per request)


# Babel takes 30-50 µs a date; a page shows a dozen and the same ones again on the next view
# of the card, so each (value, format, zone, language) is formatted once per process.
@lru_cache(maxsize=8192)
def _date_text(value: dt.date, fmt: str, lang: str) -> str:
    return format_date(value, format=fmt, locale=i18n.locale_for(lang))


@lru_cache(maxsize=8192)
def _datetime_text(value: dt.datetime, fmt: str, zone: ZoneInfo, lang: str) -> str:
    return format_datetime(value, format=fmt, tzinfo=zone, locale=i18n.locale_for(lang))


def local_date(value: dt.datetime | dt.date | None, fmt: str = "medium") -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        value = value.astimezone(_tz()).date()
    return _date_text(value, fmt, i18n.current_lang())


def local_datetime(value: dt.datetime | None, fmt: str = "short") -> str:
    if value is None:
        return "—"
    return _datetime_text(value, fmt, _tz(), i18n.current_lang())


@lru_cache(maxsize=8)
def _weekdays(lang: str) -> tuple[str, ...]:
    names = get_day_names("abbreviated", locale=i18n.locale_for(lang))
    return tuple(names[i] for i in range(7))


def due_label(value: dt.datetime | None, style: str = "date") -> str:
    """A due time in a list, short and fast (Today draws hundreds): 'time' 15:30, 'overdue'
    11/30 15:30, else with the weekday: 周三 12/2 15:30 / Wed 12/2 15:30."""
    if value is None:
        return "—"
    local = value.astimezone(_tz())
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if style == "time":
        return clock
    day = f"{local.month}/{local.day}"
    if style == "overdue":
        return f"{day} {clock}"
    return f"{_weekdays(i18n.current_lang())[local.weekday()]} {day} {clock}"


def actor_label(actor: str | None) -> str:
    """Who made a points entry, in words: the member themself, the nightly rules, an API key
    or a staff member (stored as `member:NO`, `nightly`/`expiry`, `api:NAME`, a username)."""
    actor = actor or ""
    if actor.startswith("member:") or actor == "member_page":
        return i18n.gettext("The member")
    if actor in ("nightly", "expiry", "system", "cli"):
        return i18n.gettext("Automatically")
    if actor.startswith("api:"):
        return i18n.gettext("API · %(name)s") % {"name": actor[4:]}
    return actor
