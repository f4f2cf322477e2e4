"""Who is asking, what they may do, and CSRF: enforced here, never in templates.

The middleware resolves the session cookie (staff pages) or the Bearer key (API) into
`scope["user"]` and `scope["auth"]`, picks the language, and sets the CSRF token. Guards
then decide; `scope_of(request)` turns the user into the data scope domain code applies.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import timedelta
from http.cookies import SimpleCookie

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.handlers import BaseRouteHandler
from litestar.plugins.htmx import HTMXDetails

from db.customers.scope import Scope
from db.actor import Actor
from db.engine import reading
from db.staff import accounts
from web.core import i18n
from db.settings import get_settings
from db.members.signin import load_session as load_member_session
from db.followups.lists import badge_count
from db.customers.shop_profile import refresh_name as refresh_shop_name

SESSION_COOKIE = "crm_session"
ANON_COOKIE = "crm_anon"
MEMBER_COOKIE = "crm_member"  # the member page's session (Path=/m): never a staff session
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
NO_COOKIE_PATHS = {"/healthz", "/sw.js", "/manifest.webmanifest", "/favicon.ico",
                   "/m/sw.js", "/m/manifest.webmanifest"}


def is_member_path(path: str) -> bool:
    """The member page (/m/…): its own sign-in; staff sessions mean nothing there."""
    return path == "/m" or path.startswith("/m/")


@dataclass(frozen=True)
class ApiClient:
    name: str
    id: None = None


class NotSignedIn(Exception):
    """Raised by guards; the error handler sends browsers to the right sign-in step."""

    def __init__(self, location: str = "/login"):
        self.location = location


class CsrfFailed(Exception):
    pass


class NotAllowed(Exception):
    pass


def _address(text: str):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def is_trusted_proxy(address: str) -> bool:
    """A peer whose forwarding headers we believe: only with CRM_BEHIND_HTTPS_PROXY on, and
    only from an address in CRM_TRUSTED_PROXIES."""
    settings = get_settings()
    ip = _address(address) if settings.behind_https_proxy else None
    return ip is not None and any(ip in net for net in settings.trusted_networks)


def client_ip(scope) -> str:
    """The address of whoever is asking, for rate limits and the audit log. Behind trusted
    proxies it is the last X-Forwarded-For entry a trusted proxy added: entries are read from
    the right, past our own proxies, and the first other address is the client's (whatever
    the client wrote further left is its own claim). Without a trusted peer the header is
    ignored, so nobody can pick the address their guesses count against."""
    client = scope.get("client")
    peer = client[0] if client else ""
    if not is_trusted_proxy(peer):
        return peer
    hops = [part for key, value in scope.get("headers", []) if key == b"x-forwarded-for"
            for part in value.decode("latin-1").split(",")]
    for hop in reversed(hops):
        ip = _address(hop)
        if ip is None:
            return peer  # a mangled header: count the proxy, never a made-up address
        if not is_trusted_proxy(str(ip)):
            return str(ip)
    return peer


def request_cookies(scope) -> dict[str, str]:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            jar = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:
                return {}
            return {k: m.value for k, m in jar.items()}
    return {}


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


def cookie_header(name: str, value: str, max_age: int | None) -> str:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if get_settings().cookie_secure:
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts)


def session_cookie(token: str) -> str:
    return cookie_header(SESSION_COOKIE, token, get_settings().session_max_hours * 3600)


def cleared_session_cookie() -> str:
    return cookie_header(SESSION_COOKIE, "", 0)


def member_cookie(token: str) -> str:
    """The member session cookie, sent only to /m/ pages (and never read anywhere else)."""
    settings = get_settings()
    parts = [f"{MEMBER_COOKIE}={token}", "Path=/m", "HttpOnly", "SameSite=Lax"]
    if settings.cookie_secure:
        parts.append("Secure")
    parts.append(f"Max-Age={0 if not token else settings.member_session_max_days * 86400}")
    return "; ".join(parts)


def _anon_csrf(anon: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, b"csrf:" + anon.encode(), hashlib.sha256).hexdigest()


def _is_page(scope) -> bool:
    """Not an HTMX fragment (a boosted request wants the whole page)."""
    htmx = HTMXDetails(Request(scope))
    return not htmx or bool(htmx.boosted)


def _wants_page(scope) -> bool:
    """A full page (not an HTMX fragment, not an asset): the one place the tab bar is drawn.
    Today counts its own badge from the lists it reads anyway."""
    htmx = HTMXDetails(Request(scope))
    fragment = bool(htmx) and not htmx.boosted
    return scope["method"] == "GET" and not fragment and scope["path"] != "/today"


class AuthMiddleware:
    def __init__(self, app):
        self.app = app

    @staticmethod
    def _language(scope, state, user, settings) -> None:
        lang = i18n.choose(getattr(user, "locale", None), _header(scope, b"accept-language"))
        state["lang"] = lang
        i18n.activate(lang)
        i18n.activate_zone(getattr(user, "timezone", None), settings.timezone)

    async def _badge(self, scope, state, session, settings) -> None:
        """The language and zone of a signed-in staff member, and the Today tab's badge
        (overdue + due today) on every page they open."""
        self._language(scope, state, session.user, settings)
        if not session.pending and _wants_page(scope):
            state["badge_counts"] = {"today": await badge_count(session.user.id,
                                                                i18n.current_zone())}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        settings = get_settings()
        state = scope.setdefault("state", {})
        scope["user"], scope["auth"], scope["member"] = None, None, None
        set_cookie = None
        cookies = None
        if scope["path"].startswith("/api/"):
            auth = _header(scope, b"authorization")
            if auth.lower().startswith("bearer "):
                name = await accounts.api_key_name(auth[7:].strip())
                if name:
                    scope["user"] = ApiClient(name)
        elif is_member_path(scope["path"]):
            # Only the member cookie counts here: a staff session opens nothing under /m/.
            cookies = request_cookies(scope)
            member = await load_member_session(
                cookies.get(MEMBER_COOKIE, ""),
                idle=timedelta(days=settings.member_session_idle_days),
                absolute=timedelta(days=settings.member_session_max_days),
            )
            if member:
                scope["member"] = member
                state["csrf_token"] = member.csrf_token
        else:
            # Staff pages never read the member cookie (it is not even sent outside /m).
            cookies = request_cookies(scope)
            async with reading():  # the session and the Today badge on one connection
                session = await accounts.load_session(
                    cookies.get(SESSION_COOKIE, ""),
                    idle=timedelta(minutes=settings.session_idle_minutes),
                    absolute=timedelta(hours=settings.session_max_hours),
                )
                if session:
                    scope["auth"] = session
                    scope["user"] = session.user
                    state["csrf_token"] = session.csrf_token
                    await self._badge(scope, state, session, settings)
                if scope["method"] == "GET" and _is_page(scope):
                    # The brand's shop name: one small row, at most every 5 s per process.
                    await refresh_shop_name()
        if cookies is not None and "csrf_token" not in state:
            anon = cookies.get(ANON_COOKIE, "")
            if (len(anon) < 20 or len(anon) > 64) and scope["path"] not in NO_COOKIE_PATHS:
                anon = secrets.token_urlsafe(24)
                set_cookie = cookie_header(ANON_COOKIE, anon, None)
            state["csrf_token"] = _anon_csrf(anon)
        user = scope["user"]
        if scope["auth"] is None:
            self._language(scope, state, user, settings)

        async def send_wrapper(message):
            if set_cookie and message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message).add("Set-Cookie", set_cookie)
            await send(message)

        await self.app(scope, receive, send_wrapper)


# ---------------------------------------------------------------- guards


async def csrf_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Every unsafe browser request carries the token: header (HTMX) or form field."""
    if connection.scope["method"] in SAFE_METHODS or connection.scope["path"].startswith("/api/"):
        return
    expected = connection.scope.get("state", {}).get("csrf_token", "")
    sent = connection.headers.get("x-csrftoken", "")
    if not sent and isinstance(connection, Request):
        content_type = connection.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            sent = (await connection.form()).get("_csrf_token", "")
    if not expected or not sent or not hmac.compare_digest(str(sent), expected):
        raise CsrfFailed()


def _pending_location(pending: str) -> str:
    return "/login/2fa" if pending == "verify" else "/account/2fa"


async def staff_required(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    session = connection.scope.get("auth")
    if session is None:
        raise NotSignedIn("/login")
    if session.pending:
        raise NotSignedIn(_pending_location(session.pending))


def role_required(*roles: str):
    async def guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
        await staff_required(connection, handler)
        if connection.scope["auth"].user.role not in roles:
            raise NotAllowed()

    return guard


async def member_required(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """A member signed in on the member page (scope["member"]); staff sessions do not count."""
    if connection.scope.get("member") is None:
        raise NotSignedIn("/m/login")


async def api_key_required(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    if not isinstance(connection.scope.get("user"), ApiClient):
        raise NotSignedIn("api")


# ---------------------------------------------------------------- helpers for handlers


def scope_of(request: Request) -> Scope:
    user = request.scope.get("user")
    if isinstance(user, ApiClient):
        return Scope.everything()
    return Scope.for_staff(user.role, user.id, user.team_id)


def actor_of(request: Request) -> Actor:
    user = request.scope.get("user")
    ip = client_ip(request.scope)
    if isinstance(user, ApiClient):
        return Actor(None, f"api:{user.name}", ip)
    return Actor(user.id, user.username, ip)
