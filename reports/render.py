"""HTML for a report (one Jinja environment, autoescape on) and HTML -> PDF (WeasyPrint).

The same template makes the PDF and the web page's preview: `document(...)` renders a whole
standalone document (what WeasyPrint prints), `preview(...)` only its `document` block for the
app shell (web/templates/reports/report.html puts it inside the page with the same stylesheet,
static/css/report.css). Report text comes from data and is escaped like any other value: no
user-written HTML is ever rendered.

WeasyPrint fetches only our own static files (the stylesheet, fonts) through `fetch`, which
refuses every other URL: `file:///etc/passwd`, `http://…` and internal addresses in a name
written as `url(...)` never reach the network or the disk.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import io
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from db.i18n import LANGUAGES, translations
from db.settings import ROOT
from db.money import yuan_text
from reports.charts import count_text, permille_text

TEMPLATES = ROOT / "reports" / "templates"
STATIC = (ROOT / "static").resolve()
BASE_URL = "https://report.invalid/"  # relative URLs resolve here, then to STATIC
STATIC_PREFIX = BASE_URL + "static/"

_lang: contextvars.ContextVar[str] = contextvars.ContextVar("report_lang", default="zh-CN")


def lang_code(lang: str | None) -> str:
    """'zh-CN' for zh_CN / zh-CN / zh, 'en' for en*: the codes db.i18n knows."""
    text = (lang or "zh-CN").replace("_", "-")
    if text.lower().startswith("en"):
        return "en"
    return "zh-CN" if text.lower().startswith("zh") or text not in LANGUAGES else text


def gettext(message: str) -> str:
    return translations(_lang.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_lang.get()).ngettext(singular, plural, n)


@jinja2.pass_eval_context
def _t(eval_ctx, message: str, **values) -> str:
    text = gettext(message)
    if eval_ctx.autoescape:
        return Markup(text) % values if values else Markup(text)
    return text % values if values else text


def translate(message) -> str:
    """A label or db Message (msgid + values) in the report's language."""
    template = getattr(message, "template", None)
    if template is not None:
        values = getattr(message, "values", {}) or {}
        return gettext(template) % values if values else gettext(template)
    return gettext(str(message))


def cell(value: Any, unit: str = "count") -> str:
    """A value of a table or figure as the report prints it."""
    if value is None:
        return "—"
    if unit == "fen":
        return yuan_text(value)
    if unit == "permille":
        return permille_text(value)
    if unit == "count":
        return count_text(value)
    if unit == "label":  # a msgid (a stage, a channel): in the report's language
        return translate(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def css_string(text: str) -> str:
    """Text as the inside of a CSS string (for our own translated words in @page rules)."""
    out = []
    for ch in str(text):
        if ch in '"\\' or ord(ch) < 32 or ch in "<>":
            out.append(f"\\{ord(ch):x} ")
        else:
            out.append(ch)
    return "".join(out)


def page_counter() -> Markup:
    """The page footer's CSS `content`: 第 N 页 / 共 M 页 (Page N of M)."""
    words = gettext("Page %(page)s of %(pages)s")
    marker_page, marker_pages = "\x00PAGE\x00", "\x00PAGES\x00"
    words = words.replace("%(pages)s", marker_pages).replace("%(page)s", marker_page)
    parts = []
    for piece in words.replace(marker_pages, "\x01pages\x01").replace(marker_page, "\x01page\x01").split("\x01"):
        if piece in ("page", "pages"):
            parts.append(f"counter({piece})")
        elif piece:
            parts.append(f'"{css_string(piece)}"')
    return Markup(" ".join(parts))


def change(value, previous, unit: str = "count") -> str:
    """How a figure moved against the previous range: +12.3% (counts and money) or
    +1.2 pt (rates in permille); "" when there is nothing to compare."""
    if value is None or previous is None:
        return ""
    if unit == "permille":
        delta = int(value) - int(previous)
        return f"{'+' if delta >= 0 else '−'}{abs(delta) / 10:.1f} pt"
    if not previous:
        return ""
    delta = (int(value) - int(previous)) * 1000 // int(previous) if value >= previous else \
        -((int(previous) - int(value)) * 1000 // int(previous))
    return f"{'+' if delta >= 0 else '−'}{abs(delta) / 10:.1f}%"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([TEMPLATES, ROOT]),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True)
    env.globals.update(_=_t, gettext=_t, page_counter=page_counter)
    env.filters.update(t=translate, cell=cell, money=yuan_text, permille=permille_text,
                       count=count_text, change=change)
    return env


env = _environment()


def _render(template: str, context: dict, lang: str) -> str:
    token = _lang.set(lang_code(lang))
    try:
        return env.get_template(template).render(context)
    finally:
        _lang.reset(token)


def document(template: str, context: dict, lang: str = "zh-CN") -> str:
    """The whole standalone HTML document (what the PDF is made from)."""
    return _render(template, {**context, "print": True}, lang)


def preview(template: str, context: dict, lang: str = "zh-CN") -> Markup:
    """The report's body (what base.html's <body> holds: its `document` block) for a page of
    the app. (jinja2-fragments renders only a template's own blocks, and `document` is the
    base's.)"""
    html = _render(template, {**context, "print": False}, lang)
    start = html.index("<body>") + len("<body>")
    return Markup(html[start:html.rindex("</body>")])


class FetchRefused(ValueError):
    pass


def fetch(url: str) -> tuple[bytes, str]:
    """What the report may load: our static files (the report stylesheet, images) and
    data: URIs (a logo); anything else raises FetchRefused. Fonts come from the system
    (fontconfig), never from a URL."""
    if url.startswith("data:"):
        from urllib.request import urlopen

        with urlopen(url) as response:  # data: only (checked above): no network, no disk
            return response.read(), response.headers.get_content_type()
    if url.startswith(STATIC_PREFIX):
        path = (STATIC / url[len(STATIC_PREFIX):].split("?", 1)[0].split("#", 1)[0]).resolve()
        if path.is_file() and path.is_relative_to(STATIC):
            return path.read_bytes(), _mime(path)
    raise FetchRefused(f"a report fetches nothing from {url[:80]!r}")


def _fetcher():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnly(URLFetcher):
        """WeasyPrint's fetcher, restricted to `fetch` above."""

        def fetch(self, url, headers=None):
            body, mime = fetch(url)
            return URLFetcherResponse(url, body, {"Content-Type": mime})

    return StaticOnly(allowed_protocols=("https", "data"), allow_redirects=False)


def _mime(path: Path) -> str:
    return {".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png",
            ".jpg": "image/jpeg"}.get(path.suffix, "application/octet-stream")


def pdf(html: str) -> tuple[bytes, int]:
    """HTML -> (PDF bytes, page count). Blocking (0.25 s a page or so): run it in a thread."""
    import weasyprint

    doc = weasyprint.HTML(string=html, base_url=BASE_URL, url_fetcher=_fetcher()).render()
    out = io.BytesIO()
    doc.write_pdf(out)
    return out.getvalue(), len(doc.pages)
