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

import jinja2
from jinja2_fragments import render_block
from litestar import MediaType, Request, Response
from litestar.plugins.htmx import HTMXDetails, HTMXHeaders, HtmxHeaderType
from markupsafe import Markup

from web.core import i18n
from web.core.formats import actor_label, due_label, local_date, local_datetime, money
from web.core.components import (
    avatar_html,
    badge_html,
    bottom_sheet_html,
    checkbox_html,
    field_html,
    flash_messages_html,
    icon_svg,
    list_row_html,
    logo_svg,
    select_html,
    stat_html,
    tabbar_html,
    tag_badge_html,
    textarea_html,
)
from web.core.follow_up_rows import follow_up_row_html
from web.core.points_entries import points_entry_html
from web.core.timeline_entries import timeline_entry_html
from db.settings import ROOT, get_settings
from db.push.vapid import public_key_b64
from db.customers.shop_profile import cached_name as shop_name

STATIC_DIR = ROOT / "static"


@lru_cache(maxsize=None)
def static_url(path: str) -> str:
    """A URL with a content hash, so static files can be cached for a year."""
    digest = hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:10]
    return f"/static/{path}?v={digest}"


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


_MACRO = jinja2.runtime.Macro
_FUNCTION = type(lambda: None)
_BUILTIN = type(len)  # C functions and methods (dict.get, str.format): no attributes of their own
_EVAL_CONTEXT = _template_gettext.jinja_pass_arg  # what @pass_eval_context marks


class ShopContext(jinja2.runtime.Context):
    """Jinja's Context, with `{{ f(x) }}` cheaper for the two kinds of callables pages call.

    Every call in a template goes through Context.call, which asks each callable (with
    `hasattr`, twice) whether it wants the context, the eval context or the environment: about
    330 calls on a card, 2 µs each. A macro or a C function (dict.get) never does, and a plain
    function says so in its own `jinja_pass_arg` attribute (what @pass_context and friends
    set), so for those the answer is read directly; anything else (classes, lru_cache wrappers, context functions)
    takes Jinja's own path. Same arguments, same results."""

    def call(__self, __obj, *args, **kwargs):  # noqa: N805 (Jinja's own signature)
        kind = type(__obj)
        if kind is _MACRO or kind is _BUILTIN:
            pass_arg = None
        elif kind is _FUNCTION:
            pass_arg = __obj.__dict__.get("jinja_pass_arg")
            if pass_arg is _EVAL_CONTEXT:
                args = (__self.eval_ctx, *args)
            elif pass_arg is not None:
                return jinja2.runtime.Context.call(__self, __obj, *args, **kwargs)
        else:
            return jinja2.runtime.Context.call(__self, __obj, *args, **kwargs)
        kwargs.pop("_block_vars", None)
        kwargs.pop("_loop_vars", None)
        try:
            return __obj(*args, **kwargs)
        except StopIteration:
            return __self.environment.undefined(
                "value was undefined because a callable raised a StopIteration exception")


_DICT_ATTRIBUTES = frozenset(dir(dict))


class ShopEnvironment(jinja2.Environment):
    """Jinja's Environment, with `row.name` on a dict row as cheap as `row["name"]`.

    Jinja reads `x.name` as getattr(x, "name") first and x["name"] after it fails; the rows
    pages show are mostly dicts (raw SQL), so each such lookup raised and caught an
    AttributeError first (about 500 lookups a card). A dict has no attributes but its
    class's (items, get, …), so for any other name the answer is its key, or Undefined as
    before."""

    def getattr(self, obj, attribute):
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def _environment() -> jinja2.Environment:
    env = ShopEnvironment(
        loader=jinja2.FileSystemLoader([ROOT / "web" / "templates", ROOT, ROOT / "reports"]),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.template_class = ShopTemplate
    env.context_class = ShopContext
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)
    env.globals.update(gettext=_template_gettext, _=_template_gettext, ngettext=_template_ngettext)
    env.globals.update(static=static_url, push_public_key=push_public_key, icon_svg=icon_svg,
                       logo_svg=logo_svg, avatar_html=avatar_html, badge_html=badge_html,
                       list_row_html=list_row_html, field_html=field_html, textarea_html=textarea_html,
                       select_html=select_html, checkbox_html=checkbox_html,
                       bottom_sheet_html=bottom_sheet_html, tabbar_html=tabbar_html,
                       stat_html=stat_html, tag_badge_html=tag_badge_html,
                       flash_messages_html=flash_messages_html)
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


def _timeline_entry(e):
    """components/timeline.html's timeline_entry(e): web/core/timeline_entries.py, in the words
    of the request's language."""
    return timeline_entry_html(e, shop_labels())


env.globals["timeline_entry_html"] = _timeline_entry


def _follow_up_row(f, when="date", show_customer=True, select=False, origin="today"):
    """components/follow_up_row.html's follow_up_row: web/core/follow_up_rows.py, in the words
    of the request's language."""
    return follow_up_row_html(f, shop_labels(), when, show_customer, select, origin)


env.globals["follow_up_row_html"] = _follow_up_row


def _points_entry(e):
    """One of the card's latest points entries (web/core/points_entries.py), in the words of
    the request's language."""
    return points_entry_html(e, shop_labels())


env.globals["points_entry_html"] = _points_entry
env.globals["shop_module"] = shop_module
env.globals["shop_labels"] = shop_labels
env.globals["shop_name"] = shop_name  # the brand (web/core/auth.py keeps it fresh)


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
