"""The request's language: Simplified Chinese and English from Babel catalogues.

The catalogue lookup (`.po` files compiled in memory, no build step) is db/i18n.py's, so
domain code can write in the shop's language without the web layer. Here: the language is
the user's setting, else Accept-Language, kept per request with its time zone.
"""

from __future__ import annotations

import contextvars
import gettext as _gettext
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale, negotiate_locale

from db.i18n import DEFAULT, LANGUAGES, translations  # web code uses them as i18n.<name>


# Time zones offered on the account page (a shop's staff are mostly in one; travellers pick).
ZONES = ("Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Tokyo", "Asia/Seoul", "Asia/Singapore",
         "Asia/Bangkok", "Asia/Dubai", "Europe/London", "Europe/Paris", "America/New_York",
         "America/Los_Angeles", "Australia/Sydney", "UTC")


_current: contextvars.ContextVar[_gettext.NullTranslations] = contextvars.ContextVar(
    "translations", default=_gettext.NullTranslations()
)
_current_lang: contextvars.ContextVar[str] = contextvars.ContextVar("lang", default=DEFAULT)


def choose(user_setting: str | None, accept_language: str | None) -> str:
    if user_setting in LANGUAGES:
        return user_setting
    wanted = []
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().replace("-", "_")
        if tag:
            wanted.append(tag)
    if not wanted:
        return DEFAULT
    found = negotiate_locale(wanted, ["zh_CN", "zh", "en"], sep="_")
    if found is None:
        # zh-TW, zh-HK and friends read Simplified better than English in a Chinese shop
        found = "zh_CN" if any(w.lower().startswith("zh") for w in wanted) else "en"
    return "en" if found == "en" else "zh-CN"


_current_zone: contextvars.ContextVar[ZoneInfo] = contextvars.ContextVar(
    "zone", default=ZoneInfo("Asia/Shanghai")
)


def activate_zone(name: str | None, default: str) -> None:
    """The viewer's time zone for this request: theirs if set and valid, else the shop's."""
    for candidate in (name, default):
        if candidate:
            try:
                _current_zone.set(ZoneInfo(candidate))
                return
            except (KeyError, ValueError):
                continue


def current_zone() -> ZoneInfo:
    return _current_zone.get()


def activate(lang: str) -> None:
    _current_lang.set(lang)
    _current.set(translations(lang))


def current_lang() -> str:
    return _current_lang.get()


def gettext(message: str) -> str:
    return _current.get().gettext(message)


def current_translations() -> _gettext.NullTranslations:
    """The catalogue gettext() reads now (a key for caches of translated words)."""
    return _current.get()


def ngettext(singular: str, plural: str, n: int) -> str:
    return _current.get().ngettext(singular, plural, n)


def translate(message: str, values: dict | None = None) -> str:
    """A domain message in the request's language: a db.errors.Message (or a template with
    `values`) has its template translated and its values filled in again."""
    template = getattr(message, "template", None)
    if template is not None:
        values = {**message.values, **(values or {})}
    else:
        template = message
    if not values:
        return gettext(template)
    try:
        return gettext(template) % values
    except (KeyError, TypeError, ValueError):  # a translation that lost a placeholder
        return template % values


def field_errors(errors: dict[str, str]) -> dict[str, str]:
    """A domain error's messages per field, in the request's language, for a form."""
    return {field: translate(message) for field, message in errors.items()}


@lru_cache(maxsize=None)
def locale_for(lang: str) -> Locale:
    return Locale.parse(LANGUAGES.get(lang, "zh_CN"))
