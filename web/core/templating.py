"""The Jinja environment (autoescape on) and the one render helper every page uses.

One template serves the full page and the fragment an HTMX request asks for: a handler
names the block its HTMX requests target, and `render` returns just that block when the
request came from HTMX (not from hx-boost, which wants the whole page).
"""

from __future__ import annotations

import re

import datetime as dt
import hashlib
import json
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from babel.dates import format_date, format_datetime, get_day_names
from babel.numbers import format_decimal
from jinja2_fragments import render_block
from litestar import MediaType, Request, Response
from litestar.plugins.htmx import HTMXDetails, HTMXHeaders, HtmxHeaderType
from markupsafe import Markup

from db.money import format_fen
from web.core import i18n
from web.core.components import (
    avatar_html,
    badge_html,
    checkbox_html,
    field_html,
    icon_svg,
    list_row_html,
    logo_svg,
    select_html,
    textarea_html,
)
from db.settings import ROOT, get_settings
from db.push.vapid import public_key_b64

STATIC_DIR = ROOT / "static"


@lru_cache(maxsize=None)
def static_url(path: str) -> str:
    """A URL with a content hash, so static files can be cached for a year."""
    digest = hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:10]
    return f"/static/{path}?v={digest}"


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


def ago(value: dt.datetime | None, max_days: int = 31) -> str:
    """'3 days ago' style, falling back to the date after `max_days`."""
    if value is None:
        return "—"
    delta = dt.datetime.now(dt.timezone.utc) - value
    days = delta.days
    if days < 1:
        return i18n.gettext("today")
    if days < 2:
        return i18n.gettext("yesterday")
    if days < max_days:
        return i18n.gettext("%(n)d days ago") % {"n": days}
    return local_date(value, "short")


@lru_cache(maxsize=4)
def _vapid_public_key(data_dir) -> str:
    return public_key_b64(data_dir)


def push_public_key() -> str:
    """The VAPID public key for push_prompt.html (read once from the data folder)."""
    return _vapid_public_key(get_settings().data_dir)


_BROWSERS = (("Edg/", "Edge"), ("SamsungBrowser", "Samsung Internet"), ("Firefox", "Firefox"),
             ("CriOS", "Chrome"), ("Chrome", "Chrome"), ("Safari", "Safari"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"),
            ("Windows", "Windows"), ("Mac OS X", "Mac"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def device_name(user_agent: str | None) -> str:
    """"Chrome · Android" from a User-Agent: enough for a person to tell their devices apart."""
    ua = user_agent or ""
    browser = next((name for key, name in _BROWSERS if key in ua), "")
    system = next((name for key, name in _SYSTEMS if key in ua), "")
    return " · ".join(p for p in (browser, system) if p) or i18n.gettext("Unknown browser")


def points(n) -> str:
    """A count of points, written one way everywhere (as the member page does): "15,100 积分"."""
    n = int(n or 0)
    return i18n.ngettext("%(num)s point", "%(num)s points", n) % {"num": f"{n:,}"}


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


_WORDS: dict[tuple[object, str], Markup] = {}


# Jinja's newstyle gettext and ngettext, with the same answers (translated, then Markup and
# `%` always applied, so `%%` is how templates write %), but cheaper: they take the eval
# context, not the context, because Jinja copies the whole context (Context.derived) for every
# call of a context function inside a loop or a block with variables of its own; and `_()`
# without variables keeps each (catalogue, text) translated and escaped once per process. A
# card says `_()` about 150 times, and Jinja's wrapper and its `_` alias cost 6 µs a call.
@jinja2.pass_eval_context
def _template_gettext(__eval_ctx, __string: str, **variables):
    if not __eval_ctx.autoescape:
        return i18n.gettext(__string) % variables
    if variables:
        return Markup(i18n.gettext(__string)) % variables
    key = (i18n.current_translations(), __string)
    words = _WORDS.get(key)
    if words is None:
        words = _WORDS[key] = Markup(i18n.gettext(__string)) % {}
    return words


@jinja2.pass_eval_context
def _template_ngettext(__eval_ctx, __singular: str, __plural: str, __num: int, **variables):
    variables.setdefault("num", __num)
    text = i18n.ngettext(__singular, __plural, __num)
    return (Markup(text) if __eval_ctx.autoescape else text) % variables


class ShopTemplate(jinja2.Template):
    """Jinja's Template, with `{% from "x" import y %}` (no context) as cheap as it should be.

    Jinja checks on every such import whether the importing render has globals the imported
    template lacks, by a set difference over two ChainMaps of every global: about 30 µs an
    import, and a page runs dozens (6% of Today). This app never gives a template globals of
    its own (`get_template(name, globals=...)`), so the answer is always "none": each template
    keeps the one module Jinja would build anyway."""

    def _get_default_module(self, ctx=None):
        if self._module is None:
            self._module = self.make_module()
        return self._module


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([ROOT / "web" / "templates", ROOT, ROOT / "reports"]),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.template_class = ShopTemplate
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)
    env.globals.update(gettext=_template_gettext, _=_template_gettext, ngettext=_template_ngettext)
    env.globals.update(static=static_url, push_public_key=push_public_key, icon_svg=icon_svg,
                       logo_svg=logo_svg, avatar_html=avatar_html, badge_html=badge_html,
                       list_row_html=list_row_html, field_html=field_html, textarea_html=textarea_html,
                       select_html=select_html, checkbox_html=checkbox_html)
    env.filters.update(device_name=device_name, money=money, local_date=local_date, local_datetime=local_datetime, ago=ago,
                       due_label=due_label, points=points,
                       actor_label=actor_label)
    return env


env = _environment()
_MODULES: dict[tuple[str, str], object] = {}


def shop_module(name: str):
    """A component template as a module, built once per language and process, for templates
    whose macros need no page context (`{% set x = shop_module("components/x.html").x %}`):
    `{% import … with context %}` built the module anew on every render (12% of the 360
    card's time, twice more for the timeline and follow-up rows). Words set at its top level
    are looked up in the language of the request that builds it; its macros translate when
    called."""
    key = (i18n.current_lang(), name)
    module = _MODULES.get(key)
    if module is None:
        module = _MODULES[key] = env.get_template(name).make_module()
    return module


def shop_labels():
    """components/labels.html as a module (see shop_module): `{% set labels = shop_labels() %}`."""
    return shop_module("components/labels.html")


def coupon_terms(t: dict) -> Markup:
    """What a coupon type gives, in the card's issue sheet (the `coupon_terms` filter): "¥10.00 off · min. spend ¥100.00 · valid
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


env.filters["coupon_terms"] = coupon_terms
env.globals["shop_module"] = shop_module
env.globals["shop_labels"] = shop_labels


# Routes that answer a page or a fragment by HX-Request must say so to caches. litestar-htmx
# has no helper for Vary, so it is this one constant (the header's name is the library's).
VARY = {"Vary": f"{HTMXHeaders.REQUEST.value}, Accept-Language, Cookie"}


def toast_header(message: str) -> dict[str, str]:
    """Headers that make app.js show `message` as a toast after an HTMX swap.

    The one HX-* header not built by litestar-htmx: its TriggerEvent encodes the JSON as
    UTF-8, and a Chinese message is then no valid (Latin-1) header value (a 500). Here the
    JSON is ASCII-only (\\u escapes), which htmx decodes."""
    return {HTMXHeaders.TRIGGER_EVENT.value: json.dumps({"crm:toast": message})}


# litestar-htmx builds these headers only inside its response classes (Retarget, Reswap, …:
# one header each); its builder of several at once is private (`_utils.get_headers`). A fragment
# here is one Response that may need two, so they are set here, named by its public HTMXHeaders.
_HTMX_RESPONSE_HEADERS = {
    "re_target": HTMXHeaders.RE_TARGET,
    "re_swap": HTMXHeaders.RE_SWAP,
    "push_url": HTMXHeaders.PUSH_URL,
}


def htmx_headers(spec: HtmxHeaderType) -> dict[str, str]:
    """Response headers for HTMX from litestar-htmx's HtmxHeaderType keys (re_target,
    re_swap, push_url; a toast is toast_header, a refresh or redirect its own response)."""
    headers = {}
    for key, value in spec.items():
        if key not in _HTMX_RESPONSE_HEADERS:
            raise ValueError(f"htmx_headers: {key} is not supported here")
        if value is not None:
            headers[_HTMX_RESPONSE_HEADERS[key].value] = "false" if value is False else str(value)
    return headers


def htmx_of(request: Request) -> HTMXDetails:
    """What the HTMX client said (litestar-htmx's request.htmx; for a request of another
    class, the same reading of its headers)."""
    details = getattr(request, "htmx", None)
    return details if isinstance(details, HTMXDetails) else HTMXDetails(request)


def is_fragment_request(request: Request) -> bool:
    """An HTMX request for a part of a page (a boosted one wants the whole page)."""
    htmx = htmx_of(request)
    return bool(htmx) and not htmx.boosted


_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def page_nonce(request: Request) -> str:
    """The CSP nonce for a <style> or <script> in this response's HTML: the response's own for
    a page; for an HTMX fragment, the nonce of the page it is swapped into (static/js/app.js
    sends it as X-Page-Nonce), since that page's CSP is the one the browser applies."""
    own = request.scope.get("state", {}).get("csp_nonce", "")
    if not is_fragment_request(request):
        return own
    sent = request.headers.get("x-page-nonce", "")
    return sent if _NONCE.fullmatch(sent) else own


def base_context(request: Request) -> dict[str, Any]:
    state = request.scope.get("state", {})
    session = request.scope.get("auth")
    user = session.user if session and not session.pending else None
    return {
        "request": request,
        "user": user,
        "csrf_token": state.get("csrf_token", ""),
        "csp_nonce": state.get("csp_nonce", ""),
        "lang": state.get("lang", i18n.DEFAULT),
        "demo": get_settings().demo,
        "flashes": state.get("flashes", []),
        "badge_counts": state.get("badge_counts", {}),
        "nav": None,
        "now": dt.datetime.now(dt.timezone.utc),
    }


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    block: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    htmx: HtmxHeaderType | None = None,
) -> Response:
    """The page, or only `block` for an HTMX fragment request; `htmx` adds litestar-htmx's
    response headers (e.g. {"re_target": "#form", "re_swap": "outerHTML"}) to a fragment."""
    ctx = base_context(request) | (context or {})
    fragment = bool(block) and is_fragment_request(request)
    if fragment:
        html = render_block(env, template, block, ctx)
    else:
        html = env.get_template(template).render(ctx)
    extra = htmx_headers(htmx) if htmx and fragment else {}
    return Response(
        html,
        status_code=status,
        media_type=MediaType.HTML,
        headers={**VARY, **(headers or {}), **extra},
    )
