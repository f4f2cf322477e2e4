"""Security headers on every response, a CSP nonce per request, and request logs that
never carry a phone number, an e-mail address or a search term in clear."""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from urllib.parse import parse_qsl

from litestar.datastructures import MutableScopeHeaders

from web.core.auth import is_trusted_proxy

log = logging.getLogger("crm.request")

PERSONAL_KEYS = {"q", "mobile", "email", "name", "phone", "code", "password", "token", "next"}
_DIGITS = re.compile(r"\d{4,}")
_EMAIL = re.compile(r"[^\s@/?&=]+@[^\s@/?&=]+")


def mask(text: str) -> str:
    """Mask digit runs of four or more (phones, ids in free text) and e-mail addresses."""
    text = _EMAIL.sub("***@***", text)
    return _DIGITS.sub(lambda m: m.group()[:3] + "*" * (len(m.group()) - 3), text)


def masked_query(query: str) -> str:
    parts = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        parts.append(f"{key}={'***' if key.lower() in PERSONAL_KEYS and value else mask(value)}")
    return "&".join(parts)


def csp(nonce: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            f"style-src 'self' 'nonce-{nonce}'",
            "img-src 'self' data: blob:",
            "font-src 'self'",
            "connect-src 'self'",
            "manifest-src 'self'",
            "worker-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def _is_https(scope) -> bool:
    if scope.get("scheme") == "https":
        return True
    client = scope.get("client")
    if is_trusted_proxy(client[0] if client else ""):
        for key, value in scope.get("headers", []):
            if key == b"x-forwarded-proto":
                return value.decode("latin-1").split(",")[0].strip() == "https"
    return False


_FIXED = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
          (b"x-frame-options", b"DENY"), (b"cross-origin-opener-policy", b"same-origin"),
          (b"permissions-policy", b"camera=(self), geolocation=(), microphone=()"))


def _set_fixed(headers: MutableScopeHeaders, message) -> None:
    """The headers every answer carries, replacing any the app set (as `headers[k] = v`
    does), appended in one go when it set none of them (the usual case: 8 searches less)."""
    present = {key.lower() for key, _ in message.get("headers", ())}
    for key, value in _FIXED:
        if key in present:
            headers[key.decode()] = value.decode()
        else:
            headers.headers.append((key, value))


class SecurityMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        started = time.perf_counter()
        status_holder = {"status": 500}
        path = scope["path"]
        https = _is_https(scope)

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = MutableScopeHeaders.from_message(message)
                _set_fixed(headers, message)
                if path.startswith("/api/docs"):
                    # The API reference (no personal data) is a web component that styles itself.
                    headers["Content-Security-Policy"] = DOCS_CSP
                elif "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = csp(nonce)
                if https:
                    headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
                if path.startswith("/static/"):
                    versioned = b"v=" in scope.get("query_string", b"")
                    headers["Cache-Control"] = (
                        "public, max-age=31536000, immutable" if versioned else "public, max-age=3600"
                    )
                elif "cache-control" not in headers:
                    # Pages and API answers carry personal data: never keep them in a cache.
                    headers["Cache-Control"] = "no-store"
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if (not path.startswith("/static/") and path != "/healthz"
                    and log.isEnabledFor(logging.INFO)):
                user = scope.get("user")
                log.info(
                    json.dumps(
                        {
                            "method": scope["method"],
                            # A support sign-in link's token never reaches the log.
                            "path": "/m/login/link/***" if path.startswith("/m/login/link/") else path,
                            "query": masked_query(scope.get("query_string", b"").decode("latin-1")),
                            "status": status_holder["status"],
                            "ms": round((time.perf_counter() - started) * 1000, 1),
                            "user": getattr(user, "id", None) or getattr(user, "name", None),
                        },
                        ensure_ascii=False,
                    )
                )
