"""The translation lookup: Simplified Chinese and English from the Babel catalogues.

The `.po` files (kept in web/locale/, where `scripts/i18n.sh` extracts and updates them) are
compiled in memory on first use, so there is no build step and no binary file to keep in
step. Domain code that writes text for people (push messages to members) looks up the shop's
language here; the request's language and the Jinja side are web/core/i18n.py's.
"""

from __future__ import annotations

import gettext as _gettext
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent.parent / "web" / "locale"
LANGUAGES = {"zh-CN": "zh_CN", "en": "en"}
DEFAULT = "zh-CN"


def N_(message: str) -> str:
    """Marks a msgid for extraction (scripts/i18n.sh: `-k N_`); it is translated where it is
    shown, in the language of whoever reads it."""
    return message


@lru_cache(maxsize=None)
def translations(lang: str) -> _gettext.NullTranslations:
    po = LOCALE_DIR / LANGUAGES.get(lang, "") / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return _gettext.NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=LANGUAGES[lang])
    buf = BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return _gettext.GNUTranslations(buf)
