"""The smallest, most-called components as Python: icon, logo, avatar, badge and list_row.

components/icons.html, avatar.html, badge.html and list_row.html were Jinja macros called 20 to 50 times on
every page (each tab, row and chevron is an icon): a macro call costs about 20 µs, a Python
call about 1 µs, and an icon with the same arguments is the same text every time, so it is
built once per process. The templates still say `{% from "components/icons.html" import icon %}`:
those files now hand these functions out (`{% set icon = icon_svg %}`), so no template changed.
The HTML is byte for byte what the macros wrote (tests/test_components.py compares them).
"""

from __future__ import annotations

from functools import lru_cache

from markupsafe import Markup, escape

from web.core.i18n import gettext

# 24px stroke icons drawn for this app: their names and the uses are in components/icons.html.
PATHS = {
    "home": '<path d="M3.5 10.5 12 3.5l8.5 7"/><path d="M5.5 9v10.5a1 1 0 0 0 1 1H10v-6h4v6h3.5a1 1 0 0 0 1-1V9"/>',
    "today": '<rect x="3.5" y="5" width="17" height="15.5" rx="2.5"/><path d="M3.5 10h17M8 3v4M16 3v4"/><path d="m9 15.2 2.1 2.1 4-4.1"/>',
    "users": '<circle cx="9" cy="8" r="3.5"/><path d="M2.5 20c.6-3.6 3.1-5.5 6.5-5.5s5.9 1.9 6.5 5.5"/><path d="M15.5 4.8a3.5 3.5 0 0 1 0 6.4M18 14.8c2 .8 3.1 2.5 3.5 5.2"/>',
    "qr": '<rect x="3.5" y="3.5" width="7" height="7" rx="1.2"/><rect x="13.5" y="3.5" width="7" height="7" rx="1.2"/><rect x="3.5" y="13.5" width="7" height="7" rx="1.2"/><path d="M13.5 13.5h3v3M20.5 13.5v.01M13.5 20.5h3M20.5 17.5v3h-1"/>',
    "scan": '<path d="M3.5 8V5.5a2 2 0 0 1 2-2H8M16 3.5h2.5a2 2 0 0 1 2 2V8M20.5 16v2.5a2 2 0 0 1-2 2H16M8 20.5H5.5a2 2 0 0 1-2-2V16M3.5 12h17"/>',
    "headset": '<path d="M4 15v-3a8 8 0 0 1 16 0v3"/><rect x="3" y="14" width="4.5" height="6" rx="1.5"/><rect x="16.5" y="14" width="4.5" height="6" rx="1.5"/>',
    "star": '<path d="m12 3.5 2.6 5.3 5.8.8-4.2 4.1 1 5.8L12 16.8l-5.2 2.7 1-5.8-4.2-4.1 5.8-.8z"/>',
    "megaphone": '<path d="M3.5 10.5v3a1 1 0 0 0 1 1H7l9 5v-15l-9 5H4.5a1 1 0 0 0-1 1z"/><path d="M19.5 9.5a3.5 3.5 0 0 1 0 5"/><path d="m7.5 14.5 1.4 5.5h2.6"/>',
    "more": '<rect x="4" y="4" width="6.5" height="6.5" rx="1.8"/><rect x="13.5" y="4" width="6.5" height="6.5" rx="1.8"/><rect x="4" y="13.5" width="6.5" height="6.5" rx="1.8"/><rect x="13.5" y="13.5" width="6.5" height="6.5" rx="1.8"/>',
    "menu": '<path d="M4 6.5h16M4 12h16M4 17.5h16"/>',
    "search": '<circle cx="11" cy="11" r="6.5"/><path d="m20 20-4.2-4.2"/>',
    "phone": '<path d="M5.2 3.8h3.2l1.6 4.4-2.1 1.3a11.5 11.5 0 0 0 6.6 6.6l1.3-2.1 4.4 1.6v3.2a1.7 1.7 0 0 1-1.8 1.7A16.6 16.6 0 0 1 3.5 5.6a1.7 1.7 0 0 1 1.7-1.8z"/>',
    "message": '<path d="M20 15a2 2 0 0 1-2 2H8.5L4 20.5V6a2 2 0 0 1 2-2h12a2 2 0 0 1 2 2z"/><path d="M8.5 9h7M8.5 12.5h4.5"/>',
    "plus": '<path d="M12 5v14M5 12h14"/>',
    "chevron-right": '<path d="m9.5 5.5 6.5 6.5-6.5 6.5"/>',
    "chevron-left": '<path d="M14.5 5.5 8 12l6.5 6.5"/>',
    "close": '<path d="M6.5 6.5l11 11M17.5 6.5l-11 11"/>',
    "check": '<path d="m4.5 12.5 5 5 10-11"/>',
    "tag": '<path d="M3.5 12.2V4.5a1 1 0 0 1 1-1h7.7a1 1 0 0 1 .7.3l7.8 7.8a1.2 1.2 0 0 1 0 1.7l-7.5 7.5a1.2 1.2 0 0 1-1.7 0l-7.7-7.8a1 1 0 0 1-.3-.8z"/><circle cx="8.3" cy="8.3" r="1.5"/>',
    "repeat": '<path d="M4.5 11V9.5a3 3 0 0 1 3-3h11"/><path d="m15.5 3.5 3 3-3 3"/><path d="M19.5 13v1.5a3 3 0 0 1-3 3h-11"/><path d="m8.5 20.5-3-3 3-3"/>',
    "clock": '<circle cx="12" cy="12" r="8.5"/><path d="M12 7.5V12l3 2"/>',
    "logout": '<path d="M10 4H6.5A1.5 1.5 0 0 0 5 5.5v13A1.5 1.5 0 0 0 6.5 20H10"/><path d="m15 7.5 4.5 4.5-4.5 4.5M19.5 12H9.5"/>',
    "copy": '<rect x="8.5" y="8.5" width="12" height="12" rx="2"/><path d="M15.5 5.5V5a1.5 1.5 0 0 0-1.5-1.5H5A1.5 1.5 0 0 0 3.5 5v9A1.5 1.5 0 0 0 5 15.5h.5"/>',
    "filter": '<path d="M4 6h16M7 12h10M10 18h4"/>',
    "user": '<circle cx="12" cy="8" r="4"/><path d="M4.5 20.5c.8-4 3.8-6 7.5-6s6.7 2 7.5 6"/>',
    "shield": '<path d="M12 3.5 19 6v5.5c0 4.5-3 7.8-7 9-4-1.2-7-4.5-7-9V6z"/><path d="m9 12 2.1 2.1L15 10.2"/>',
    "inbox": '<path d="M4 13.5 6.3 5.7a1 1 0 0 1 1-.7h9.4a1 1 0 0 1 1 .7l2.3 7.8V19a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1z"/><path d="M4 13.5h4.5l1.2 2.5h4.6l1.2-2.5H20"/>',
    "alert": '<path d="M10.3 4.2 2.8 17.5A2 2 0 0 0 4.5 20.5h15a2 2 0 0 0 1.7-3L13.7 4.2a2 2 0 0 0-3.4 0z"/><path d="M12 9.5v4M12 17v.1"/>',
    "info": '<circle cx="12" cy="12" r="8.5"/><path d="M12 11v5.5M12 7.8v.1"/>',
    "calendar": '<rect x="3.5" y="5" width="17" height="15.5" rx="2.5"/><path d="M3.5 10h17M8 3v4M16 3v4"/>',
    "edit": '<path d="M4.5 19.5V16L15.6 4.9a2 2 0 0 1 2.8 0l.7.7a2 2 0 0 1 0 2.8L8 19.5z"/><path d="m13.5 7 3.5 3.5"/>',
    "trash": '<path d="M4.5 6.5h15M9.5 6.5v-2h5v2M6.5 6.5l.9 12.6a1.5 1.5 0 0 0 1.5 1.4h6.2a1.5 1.5 0 0 0 1.5-1.4l.9-12.6"/>',
    "download": '<path d="M12 4v11M7.5 10.5 12 15l4.5-4.5M5 19.5h14"/>',
    "upload": '<path d="M12 15.5v-11M7.5 9 12 4.5 16.5 9M5 19.5h14"/>',
    "chart": '<path d="M4 20h16M7 16.5v-4M12 16.5v-9M17 16.5v-6"/>',
    "wifi-off": '<path d="M2.5 9a14.5 14.5 0 0 1 19 0M5.5 12.5a10 10 0 0 1 13 0M8.7 15.9a5 5 0 0 1 6.6 0M12 19.5h.01"/><path d="m4 4 16 16"/>',
    "note": '<path d="M6 3.5h8.5L19 8v11.5a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1v-15a1 1 0 0 1 1-1z"/><path d="M14 3.5V8h5M8.5 12.5h7M8.5 16h5"/>',
    "bag": '<path d="M5.5 8h13l-1 11.5a1 1 0 0 1-1 .9h-9a1 1 0 0 1-1-.9z"/><path d="M9 10.5V7a3 3 0 0 1 6 0v3.5"/>',
    "merge": '<circle cx="6.5" cy="5.5" r="2"/><circle cx="6.5" cy="18.5" r="2"/><circle cx="17.5" cy="12" r="2"/><path d="M6.5 7.5v9M6.5 9.5c0 2.5 2 2.5 4.5 2.5h4.5"/>',
    "bell": '<path d="M6 16.5V11a6 6 0 0 1 12 0v5.5l1.5 2h-15z"/><path d="M10 20.5a2 2 0 0 0 4 0"/>',
    "sparkle": '<path d="M12 4.5l1.6 4.4 4.4 1.6-4.4 1.6-1.6 4.4-1.6-4.4-4.4-1.6 4.4-1.6z"/><path d="M18.5 15.5l.6 1.6 1.6.6-1.6.6-.6 1.6-.6-1.6-1.6-.6 1.6-.6z"/>',
}
ALIAS = {"customers": "users", "members": "star", "campaigns": "megaphone", "x": "close"}
_SVG = ('<svg class="icon{cls}" viewBox="0 0 24 24" width="24" height="24" fill="none" '
        'stroke="currentColor" stroke-width="1.8" stroke-linecap="round" '
        'stroke-linejoin="round" {aria}>{paths}</svg>')


@lru_cache(maxsize=512)
def _icon(name: str, label: str, cls: str) -> Markup:
    aria = (f'role="img" aria-label="{escape(label)}"' if label
            else 'aria-hidden="true" focusable="false"')
    paths = PATHS.get(ALIAS.get(name, name), PATHS["info"])
    return Markup(_SVG.format(cls=escape(" " + cls) if cls else "", aria=aria, paths=paths))


def icon_svg(name, label=None, cls="") -> Markup:
    """icon(name, label=None, cls=''): decorative without a label, role="img" with one."""
    label, cls = label or "", cls or ""
    if type(name) is str and type(label) is str and type(cls) is str:
        return _icon(name, label, cls)
    return _icon.__wrapped__(str(name), label, cls)  # Markup or other values: not cached


@lru_cache(maxsize=8)
def logo_svg(size=32) -> Markup:
    """logo(size=32): the brand mark (decorative)."""
    size = escape(size)
    return Markup(f'<svg class="logo" viewBox="0 0 64 64" width="{size}" height="{size}" '
                  'aria-hidden="true" focusable="false"><rect width="64" height="64" rx="15" '
                  'fill="#4F46E5"/><path d="M41.6 20.5A15 15 0 1 0 41.6 43.5" fill="none" '
                  'stroke="#fff" stroke-width="7" stroke-linecap="round"/><circle cx="45" '
                  'cy="32" r="4.5" fill="#fff"/></svg>')


def avatar_html(name, size="md") -> Markup:
    """avatar(name, size='md'): the first character, upper-cased, on one of 8 colours picked
    from the name's UTF-8 bytes."""
    name = name or ""
    text = (name if isinstance(name, str) else str(name)).strip() or "?"  # Markup stays Markup
    h = 7
    for b in text.encode("utf-8"):
        h = (h * 31 + b) % 1000003
    extra = f" avatar-{size}" if size in ("sm", "lg") else ""
    return Markup(f'<span class="avatar avatar-{h % 8}{extra}" aria-hidden="true">'
                  f'{escape(text[0].upper())}</span>')


TONES = ("neutral", "blue", "green", "amber", "red", "purple")


def badge_html(text, tone="neutral") -> Markup:
    """badge(text, tone='neutral'): <span class="badge badge-TONE">."""
    tone = tone if tone in TONES else "neutral"
    return Markup(f'<span class="badge badge-{tone}">{escape(text)}</span>')


def list_row_html(href, title, subtitle="", meta="", avatar=None, badges=()) -> Markup:
    """list_row(href, title, subtitle='', meta='', avatar=None, badges=[]): one tappable row
    (a list of customers draws 20 a page)."""
    parts = [f'<a class="row" href="{escape(href)}">']
    if avatar:
        parts.append(avatar_html(avatar))
    parts.append(f'  <span class="row-main">\n    <span class="row-title">'
                 f'<span class="row-title-text">{escape(title)}</span>')
    parts.extend(badge_html(text, tone) for text, tone in badges)
    parts.append("</span>")
    if subtitle:
        parts.append(f'<span class="row-subtitle">{escape(subtitle)}</span>')
    parts.append("  </span>")
    if meta:
        parts.append(f'<span class="row-meta">{escape(meta)}</span>')
    parts.append(f'  <span class="row-chevron">{icon_svg("chevron-right")}</span>\n</a>')
    return Markup("".join(parts))


# Form fields (components/field.html): a card draws about 25 of them in its closed sheets, at
# about 60 µs a macro call (each field is five nested macros). The HTML is what the macros
# wrote, whitespace included (tests/test_components.py renders both).

def _fid(name, attrs) -> Markup:
    fid = attrs.get("id")
    if fid:
        return escape(fid)
    name = name if isinstance(name, str) else str(name)
    return escape("f-" + name.replace("[", "-").replace("]", "").replace(".", "-").replace(" ", "-"))


def _extra(attrs) -> str:
    out = []
    for k, v in attrs.items():
        if k in ("id", "class") or v is None or v is False:
            continue
        out.append(f" {escape(k)}" if v is True else f' {escape(k)}="{escape(v)}"')
    return "".join(out)


def _described(fid, hint, error) -> str:
    out = ""
    if hint or error:
        ids = (fid + "-error" if error else "") + (" " if hint and error else "") + (fid + "-hint" if hint else "")
        out = f' aria-describedby="{ids}"'
    if error:
        out += ' aria-invalid="true"'
    return out


def _label(fid, label, required) -> str:
    req = '<span class="field-req" aria-hidden="true">*</span>' if required else ""
    return f'<label class="field-label" for="{fid}">{escape(label)}{req}</label>'


def _after(fid, hint, error) -> str:
    out = ""
    if error:
        out = f'  <p class="field-error" id="{fid}-error">{icon_svg("alert")}<span>{escape(error)}</span></p>'
    if hint:
        out += f'  <p class="field-hint" id="{fid}-hint">{escape(hint)}</p>'
    return out


def _cls(attrs) -> str:
    cls = attrs.get("class")
    return " " + escape(cls) if cls else ""


def field_html(name, label, value="", type="text", error=None, required=False, autocomplete=None,
               inputmode=None, hint=None, placeholder=None, attrs={}) -> Markup:  # noqa: B006 (read only)
    """field(name, label, value='', type='text', error=None, required=False, autocomplete=None,
    inputmode=None, hint=None, placeholder=None, attrs={}): label, input, error, hint."""
    fid = _fid(name, attrs)
    parts = [f'<div class="field">\n  {_label(fid, label, required)}\n  <input class="input{_cls(attrs)}" '
             f'id="{fid}" name="{escape(name)}" type="{escape(type)}"']
    if value is not None and value != "" and type != "password":
        parts.append(f' value="{escape(value)}"')
    if required:
        parts.append(" required")
    if autocomplete:
        parts.append(f' autocomplete="{escape(autocomplete)}"')
    if inputmode:
        parts.append(f' inputmode="{escape(inputmode)}"')
    if placeholder:
        parts.append(f' placeholder="{escape(placeholder)}"')
    parts.append(f"{_described(fid, hint, error)}{_extra(attrs)}>{_after(fid, hint, error)}\n</div>")
    return Markup("".join(parts))


def textarea_html(name, label, value="", error=None, rows=3, required=False, hint=None,
                  placeholder=None, attrs={}) -> Markup:  # noqa: B006 (read only)
    """textarea(name, label, value='', error=None, rows=3, required=False, hint=None,
    placeholder=None, attrs={})."""
    fid = _fid(name, attrs)
    parts = [f'<div class="field">\n  {_label(fid, label, required)}\n  <textarea class="input{_cls(attrs)}" '
             f'id="{fid}" name="{escape(name)}" rows="{escape(rows)}"']
    if required:
        parts.append(" required")
    if placeholder:
        parts.append(f' placeholder="{escape(placeholder)}"')
    parts.append(f'{_described(fid, hint, error)}{_extra(attrs)}>{"" if value is None else escape(value)}'
                 f"</textarea>{_after(fid, hint, error)}\n</div>")
    return Markup("".join(parts))


def select_html(name, label, options, value=None, error=None, required=False, hint=None,
                placeholder=None, attrs={}) -> Markup:  # noqa: B006 (read only)
    """select(name, label, options, value=None, error=None, required=False, hint=None,
    placeholder=None, attrs={}): options are (value, label) pairs; the one equal to `value` as a
    string is selected; `placeholder` adds a first empty option."""
    fid = _fid(name, attrs)
    parts = [f'<div class="field">\n  {_label(fid, label, required)}\n  <div class="select-wrap">\n'
             f'    <select class="input{_cls(attrs)}" id="{fid}" name="{escape(name)}"']
    if required:
        parts.append(" required")
    parts.append(f"{_described(fid, hint, error)}{_extra(attrs)}>")
    if placeholder:
        parts.append(f'      <option value="">{escape(placeholder)}</option>')
    chosen = None if value is None else str(value)
    for opt_value, opt_label in options:
        sel = " selected" if chosen is not None and str(opt_value) == chosen else ""
        parts.append(f'      <option value="{escape(opt_value)}"{sel}>{escape(opt_label)}</option>')
    parts.append(f'    </select>\n    {icon_svg("chevron-right")}\n  </div>{_after(fid, hint, error)}\n</div>')
    return Markup("".join(parts))


def checkbox_html(name, label, checked=False, value="1", hint=None, error=None, attrs={}) -> Markup:  # noqa: B006
    """checkbox(name, label, checked=False, value='1', hint=None, error=None, attrs={})."""
    fid = _fid(name, attrs)
    return Markup(f'<div class="field">\n  <label class="check" for="{fid}">\n    <input type="checkbox" '
                  f'id="{fid}" name="{escape(name)}" value="{escape(value)}"{" checked" if checked else ""}'
                  f"{_described(fid, hint, error)}{_extra(attrs)}>\n    <span>{escape(label)}</span>\n"
                  f"  </label>{_after(fid, hint, error)}\n</div>")


# The bottom sheet (components/bottom_sheet.html): six on a card, each a macro wrapping its
# `{% call %}` body. `{% call bottom_sheet(…) %}` hands the body over as `caller`, to a Python
# function as to a macro; the HTML is what the macro wrote (tests/test_components_sheet.py).

def bottom_sheet_html(id, title, open=False, caller=None) -> Markup:  # noqa: A002 (the macro's names)
    """bottom_sheet(id, title, open=False): a <dialog class="sheet"> around the call's body."""
    sid = escape(id)
    body = caller() if caller is not None else ""
    close = Markup(gettext("Close")) % {}  # not inside the f-string: pybabel would not see it
    return Markup(f'<dialog class="sheet" id="{sid}" aria-labelledby="{sid}-title"{" open" if open else ""}>\n'
                  '  <div class="sheet-handle" aria-hidden="true"></div>\n'
                  '  <div class="sheet-header">\n'
                  f'    <h2 class="sheet-title" id="{sid}-title">{escape(title)}</h2>\n'
                  '    <button type="button" class="btn btn-ghost btn-icon" data-close-sheet '
                  f'aria-label="{close}">{icon_svg("close")}</button>\n'
                  '  </div>\n'
                  f'  <div class="sheet-body">{escape(body)}</div>\n'
                  '</dialog>')


# The tab bar (base.html's tabbar block): on every staff page, five tabs in a loop of a dozen
# template calls each. The HTML is what the block wrote (tests/test_components_tabbar.py).
_TABS = (("today", "/today", "today"), ("customers", "/customers", "customers"),
         ("members", "/members", "members"), ("campaigns", "/campaigns", "campaigns"),
         ("dashboard", "/dashboard", "chart"), ("more", "/more", "more"))
MANAGERS_TABS = {"dashboard"}  # tabs only managers and admins get (staff open theirs from More)


def _(text: str) -> Markup:
    """`{{ _("…") }}` as a template says it (and named so, for pybabel)."""
    return Markup(gettext(text)) % {}


def tabbar_html(user, nav=None, badge_counts=None, csrf_token="", brand="Shop CRM") -> Markup:
    """base.html's navigation for a signed-in `user`: brand, the tabs (five, and the dashboard
    for managers and admins; `nav` the current one, `badge_counts` {tab: count} their badges),
    who is signed in and the sign-out button; `brand` the shop's name)."""
    labels = {"today": _("Today"), "customers": _("Customers"), "members": _("Members"),
              "campaigns": _("Campaigns"), "dashboard": _("Dashboard"), "more": _("More")}
    manager = user.role in ("manager", "admin")
    main = _("Main")
    parts = [f'<nav class="appnav" aria-label="{main}">\n'
             f'  <a class="appnav-brand" href="/today">{logo_svg(32)}<span>{escape(brand)}</span></a>\n'
             '  <ul class="tabs-nav">']
    counts = badge_counts or {}
    for key, href, ico in _TABS:
        if key in MANAGERS_TABS and not manager:
            continue
        count = counts.get(key)
        current = ' aria-current="page"' if nav == key else ""
        parts.append(f'    <li><a class="tab" href="{href}"{current}>\n'
                     f'      <span class="tab-icon">{icon_svg(ico)}</span><span class="tab-label">{labels[key]}</span>')
        if count:
            shown = escape(count if count < 100 else "99+")
            parts.append(f'<span class="tab-count"><span class="sr-only"> (</span>{shown}'
                         '<span class="sr-only">)</span></span>')
        parts.append("</a></li>")
    name = user.display_name or user.username
    roles = {"admin": _("Admin"), "manager": _("Manager"), "staff": _("Staff")}
    sign_out = _("Sign out")
    parts.append(f'  </ul>\n  <div class="appnav-user">\n    {avatar_html(name, "sm")}\n'
                 f'    <div class="appnav-user-text">\n      <div class="appnav-user-name">{escape(name)}</div>\n'
                 f'      <div class="appnav-user-role">{escape(roles.get(user.role, user.role))}</div>\n    </div>\n'
                 '    <form method="post" action="/logout">\n'
                 f'      <input type="hidden" name="_csrf_token" value="{escape(csrf_token or "")}">\n'
                 f'      <button type="submit" class="btn btn-ghost btn-icon" aria-label="{sign_out}" '
                 f'title="{sign_out}">{icon_svg("logout")}</button>\n    </form>\n  </div>\n</nav>')
    return Markup("".join(parts))


# Small macros every page calls a few times: a key-figure tile (six on a card), a tag badge (the
# card's header, the list's filters) and the flash messages (once on every page). The HTML is
# what the macros wrote (tests/test_components_small.py).

def stat_html(label, value, hint=None, href=None, tone=None) -> Markup:
    """stat(label, value, hint=None, href=None, tone=None): a key-figure tile."""
    tag = "a" if href else "div"
    link = f' href="{escape(href)}"' if href else ""
    out = (f'<{tag} class="stat"{link}>\n  <span class="stat-label">{escape(label)}</span>\n'
           f'  <span class="stat-value">{escape(value)}</span>')
    if hint:
        shade = f" text-{tone}" if tone in ("green", "red", "amber") else ""
        out += f'<span class="stat-hint{shade}">{escape(hint)}</span>'
    return Markup(f"{out}</{tag}>")


def _field(obj, name):
    """`obj.name` as a template reads it: a dict's key, else the attribute (None if neither)."""
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def tag_badge_html(tag) -> Markup:
    """tag_badge(tag): a customer's tag ({name, color, rule}) as a badge; a rule tag says so."""
    color = _field(tag, "color")
    tone = color if color in TONES else "neutral"
    name = escape(_field(tag, "name"))
    if _field(tag, "rule"):
        title, words = _("Rule tag: kept up to date by its rule"), _("rule tag")
        return Markup(f'<span class="badge badge-{tone} badge-rule" title="{title}">{icon_svg("sparkle")}'
                      f'{name}<span class="sr-only"> ({words})</span></span>')
    return Markup(f'<span class="badge badge-{tone}">{name}</span>')


_FLASH_ICONS = {"success": "check", "error": "alert", "info": "info"}


def flash_messages_html(items, oob=False) -> Markup:
    """flash_messages(items, oob=False): the (level, message) pairs in #flashes."""
    swap = ' hx-swap-oob="true"' if oob else ""
    out = [f'<div id="flashes" class="flashes" role="status"{swap}>']
    if items:
        dismiss = _("Dismiss")
        for level, message in items:
            lv = level if level in _FLASH_ICONS else "info"
            out.append(f'  <div class="flash flash-{lv}">{icon_svg(_FLASH_ICONS[lv])}<div class="flash-text">'
                       f'{escape(message)}</div><button type="button" class="flash-close" data-dismiss '
                       f'aria-label="{dismiss}">{icon_svg("close")}</button></div>')
    out.append("</div>")
    return Markup("".join(out))
