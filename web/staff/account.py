"""Sign-in (password, then TOTP when on), sign-out, and the signed-in user's own account page
and settings (password, two-factor, language; the account page also lists push devices and
the reminder settings)."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from urllib.parse import quote, urlencode, urlsplit

import segno
from litestar import Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import Redirect

from db.audit.log import record
from db.errors import Forbidden, RateLimited, ValidationFailed
from db.followups.service import DIGEST_TIMES, digest_time
from db.push.subscriptions import devices
from db.staff import accounts
from web.core.auth import (
    SESSION_COOKIE,
    NotSignedIn,
    cleared_session_cookie,
    client_ip,
    request_cookies,
    session_cookie,
    staff_required,
)
from web.core.forms import Field, read_form
from web.core.i18n import LANGUAGES, ZONES
from web.core.i18n import field_errors
from web.core.i18n import gettext as _
from db.settings import get_settings
from web.core.templating import render

MESSAGES = {
    "password": "Your password was changed. Other devices were signed out.",
    "2fa_on": "Two-factor sign-in is on.",
    "2fa_off": "Two-factor sign-in is off.",
    "language": "Language saved.",
    "push_test": "A test notification is on its way to your devices.",
    "push_none": "No device gets reminders yet. Turn them on on this phone first.",
    "reminders": "Saved. The daily list and every time now follow this setting.",
    "email_saved": "E-mail address saved.",
}


# Kept as they are in a `next`: printable ASCII but the backslash (browsers read it as "/").
_KEEP = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "\\")


# The forms' fields. `next` keeps one character more than safe_next allows, so an over-long
# target still lands on the home page instead of a cut one.
NEXT = Field("next", max_length=2001)
LOGIN_FIELDS = (Field("username", max_length=64), Field("password", max_length=256), NEXT)
CODE_FIELDS = (Field("code", max_length=12), NEXT)
SETUP_FIELDS = (Field("secret", max_length=64), Field("signature"), Field("code", max_length=12), NEXT)
PASSWORD_FIELDS = tuple(Field(name, max_length=256)
                        for name in ("current_password", "new_password", "new_password_again"))
LANGUAGE_FIELDS = (Field("lang", max_length=20),)


def safe_next(target: str | None) -> str:
    """Only a path on this site, read the same way by every browser: an open redirect would
    make our sign-in page a phishing tool. Browsers strip tabs and newlines and read "\\" as
    "/", so a path holding any control, format or space character (U+3000 too) or a backslash
    lands on the home page, as does anything that parses to another host. Other non-ASCII
    letters are percent-encoded, as a browser would send them."""
    home = "/today"
    if not isinstance(target, str) or not target.startswith("/") or len(target) > 2000:
        return home
    if target.startswith("//") or any(
            ch == "\\" or unicodedata.category(ch)[0] in "CZ" for ch in target):
        return home
    target = quote(target, safe=_KEEP)
    parts = urlsplit(target)
    return home if parts.scheme or parts.netloc else target


def flash_from_query(request: Request) -> list[tuple[str, str]]:
    key = request.query_params.get("msg")
    return [("success", _(MESSAGES[key]))] if key in MESSAGES else []


def _ua(request: Request) -> str:
    return request.headers.get("user-agent", "")


def _signed_in(location: str, token: str) -> Response:
    return Response("", status_code=303, headers={"Location": location,
                                                  "Set-Cookie": session_cookie(token)})


# ---------------------------------------------------------------- sign-in


@get("/login")
async def login_page(request: Request, next: FromQuery[str | None] = None) -> Response:
    return render(request, "staff/login.html", {"next": safe_next(next), "errors": {}, "username": ""})


@post("/login")
async def login(request: Request) -> Response:
    form = (await read_form(request, LOGIN_FIELDS)).text
    username = form["username"]
    next_url = safe_next(form["next"])
    ip = client_ip(request.scope)
    context = {"next": next_url, "username": username, "errors": {}}
    try:
        user = await accounts.authenticate(username, form["password"], ip)
    except RateLimited as exc:
        await record("auth.sign_in_blocked", actor=username, ip=ip)
        minutes = max(1, round(exc.retry_after / 60))
        context["errors"] = {"password": _("Too many attempts. Try again in %(minutes)d minutes.")
                             % {"minutes": minutes}}
        return render(request, "staff/login.html", context, status=429,
                      headers={"Retry-After": str(exc.retry_after)})
    except ValidationFailed:
        await record("auth.sign_in_failed", actor=username, ip=ip)
        context["errors"] = {"password": _("Wrong username or password.")}
        return render(request, "staff/login.html", context, status=200)
    old = request_cookies(request.scope).get(SESSION_COOKIE)
    if old:
        await accounts.end_session(old)
    pending = accounts.second_step(user, get_settings().admin_2fa)
    token = await accounts.start_session(user.id, pending, ip, _ua(request))
    await record("auth.sign_in" if not pending else "auth.password_ok",
                 actor_id=user.id, actor=user.username, ip=ip)
    location = {"": next_url, "verify": "/login/2fa", "setup": "/account/2fa"}[pending]
    if pending:
        location += "?" + urlencode({"next": next_url})
    return _signed_in(location, token)


def _pending_session(request: Request, stage: str):
    session = request.scope.get("auth")
    if session is None:
        raise NotSignedIn("/login")
    if session.pending != stage:
        raise NotSignedIn("/today" if not session.pending else "/login")
    return session


@get("/login/2fa")
async def two_factor_page(request: Request, next: FromQuery[str | None] = None) -> Response:
    _pending_session(request, "verify")
    return render(request, "staff/two_factor.html", {"next": safe_next(next), "errors": {}})


@post("/login/2fa")
async def two_factor(request: Request) -> Response:
    session = _pending_session(request, "verify")
    form = (await read_form(request, CODE_FIELDS)).text
    next_url = safe_next(form["next"])
    ip = client_ip(request.scope)
    try:
        await accounts.verify_totp(session.user.id, form["code"], ip)
    except (ValidationFailed, RateLimited) as exc:
        await record("auth.sign_in_failed", actor_id=session.user.id,
                     actor=session.user.username, ip=ip, detail={"step": "totp"})
        message = (_("Too many attempts. Try again later.") if isinstance(exc, RateLimited)
                   else _("Wrong code. Use the newest code from your app."))
        return render(request, "staff/two_factor.html",
                      {"next": next_url, "errors": {"code": message}},
                      status=429 if isinstance(exc, RateLimited) else 200)
    token = await accounts.rotate_session(request_cookies(request.scope)[SESSION_COOKIE], "", ip, _ua(request))
    await record("auth.sign_in", actor_id=session.user.id, actor=session.user.username, ip=ip,
                 detail={"totp": True})
    return _signed_in(next_url, token)


@post("/logout")
async def logout(request: Request) -> Response:
    token = request_cookies(request.scope).get(SESSION_COOKIE)
    session = request.scope.get("auth")
    if token:
        await accounts.end_session(token)
    if session:
        await record("auth.sign_out", actor_id=session.user.id, actor=session.user.username,
                     ip=client_ip(request.scope))
    return Response("", status_code=303,
                    headers={"Location": "/login", "Set-Cookie": cleared_session_cookie(),
                             "Clear-Site-Data": '"cache", "storage"'})


# ---------------------------------------------------------------- two-factor set-up


def _sign_secret(user_id: int, secret: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, f"totp:{user_id}:{secret}".encode(), hashlib.sha256).hexdigest()


def _setup_context(user, secret: str, errors: dict, next_url: str) -> dict:
    uri = accounts.totp_uri(secret, user.username)
    qr = segno.make(uri, error="m").svg_inline(scale=5, dark="#111827", light="#ffffff",
                                               svgclass="qr", lineclass=None)
    return {"secret": secret, "signature": _sign_secret(user.id, secret), "qr_svg": qr,
            "errors": errors, "next": next_url, "nav": "more",
            "required": user.role == "admin" and get_settings().admin_2fa == "required"}


def _any_session(request: Request):
    session = request.scope.get("auth")
    if session is None or session.pending == "verify":
        raise NotSignedIn("/login")
    return session


@get("/account/2fa")
async def two_factor_setup_page(request: Request, next: FromQuery[str | None] = None) -> Response:
    session = _any_session(request)
    if session.user.totp_enabled:
        return render(request, "staff/two_factor_on.html", {"nav": "more"})
    context = _setup_context(session.user, accounts.new_totp_secret(), {}, safe_next(next))
    return render(request, "staff/two_factor_setup.html", context)


@post("/account/2fa")
async def two_factor_setup(request: Request) -> Response:
    session = _any_session(request)
    form = (await read_form(request, SETUP_FIELDS)).text
    secret = form["secret"]
    next_url = safe_next(form["next"])
    if not hmac.compare_digest(form["signature"], _sign_secret(session.user.id, secret)):
        secret = accounts.new_totp_secret()
        errors = {"code": _("The set-up expired. Scan the new code.")}
        return render(request, "staff/two_factor_setup.html",
                      _setup_context(session.user, secret, errors, next_url))
    try:
        await accounts.enable_totp(session.user.id, secret, form["code"])
    except ValidationFailed:
        errors = {"code": _("That code does not match. Try the newest one.")}
        return render(request, "staff/two_factor_setup.html",
                      _setup_context(session.user, secret, errors, next_url))
    ip = client_ip(request.scope)
    await record("auth.2fa_enabled", actor_id=session.user.id, actor=session.user.username, ip=ip)
    if session.pending == "setup":
        token = await accounts.rotate_session(request_cookies(request.scope)[SESSION_COOKIE], "", ip, _ua(request))
        await record("auth.sign_in", actor_id=session.user.id, actor=session.user.username, ip=ip,
                     detail={"totp": True})
        return _signed_in(next_url, token)
    return Redirect("/more?msg=2fa_on", status_code=303)


@post("/account/2fa/disable", guards=[staff_required])
async def two_factor_disable(request: Request) -> Response:
    user = request.scope["auth"].user
    try:
        await accounts.disable_totp(user.id, get_settings().admin_2fa)
    except Forbidden:
        return render(request, "staff/two_factor_on.html",
                      {"nav": "more", "error": _("Admins must keep two-factor sign-in on.")},
                      status=403)
    await record("auth.2fa_disabled", actor_id=user.id, actor=user.username,
                 ip=client_ip(request.scope))
    return Redirect("/more?msg=2fa_off", status_code=303)


# ---------------------------------------------------------------- password and language


@get("/account/password", guards=[staff_required])
async def password_page(request: Request) -> Response:
    return render(request, "staff/password.html", {"errors": {}, "nav": "more"})


@post("/account/password", guards=[staff_required])
async def change_password(request: Request) -> Response:
    user = request.scope["auth"].user
    form = (await read_form(request, PASSWORD_FIELDS)).text
    new, again = form["new_password"], form["new_password_again"]
    errors = {}
    if new != again:
        errors["new_password_again"] = _("The two new passwords differ.")
    else:
        try:
            await accounts.change_password(user.id, form["current_password"], new)
        except ValidationFailed as exc:
            errors = field_errors(exc.errors)
    if errors:
        return render(request, "staff/password.html", {"errors": errors, "nav": "more"})
    ip = client_ip(request.scope)
    await record("auth.password_changed", actor_id=user.id, actor=user.username, ip=ip)
    # Every session of this user has ended; this device gets a fresh one.
    token = await accounts.start_session(user.id, "", ip, _ua(request))
    return _signed_in("/more?msg=password", token)


@post("/account/language", guards=[staff_required])
async def set_language(request: Request) -> Response:
    lang = (await read_form(request, LANGUAGE_FIELDS)).text["lang"]
    value = lang if lang in LANGUAGES else None
    await accounts.set_locale(request.scope["auth"].user.id, value)
    return Redirect("/more?msg=language", status_code=303)


async def _account(request: Request, email: str | None = None, email_error: str | None = None,
                   status: int = 200) -> Response:
    user = request.scope["auth"].user
    return render(request, "staff/account.html", {
        "nav": "more", "devices": await devices(user.id), "flashes": flash_from_query(request),
        "digest_at": await digest_time(user.id), "digest_choices": [(t, t) for t in DIGEST_TIMES],
        "zone_choices": [(z, z) for z in ZONES], "zone": user.timezone or "",
        "shop_zone": get_settings().timezone,
        "email": await accounts.email_of(user.id) if email is None else email, "email_error": email_error,
    }, status=status)


@get("/account", guards=[staff_required])
async def account_page(request: Request) -> Response:
    return await _account(request)


EMAIL_FIELDS = (Field("email", max_length=300),)


@post("/account/email", guards=[staff_required])
async def set_email(request: Request) -> Response:
    """Where scheduled reports are e-mailed (managers and admins receive them)."""
    text = (await read_form(request, EMAIL_FIELDS)).text["email"]
    try:
        await accounts.set_email(request.scope["auth"].user.id, text)
    except ValidationFailed as exc:
        return await _account(request, text, field_errors(exc.errors)["email"], status=422)
    return Redirect("/account?msg=email_saved", status_code=303)


ROUTES = [
    login_page, login, two_factor_page, two_factor, logout, two_factor_setup_page,
    two_factor_setup, two_factor_disable, password_page, change_password, set_language,
    account_page, set_email,
]
