"""Domain and HTTP errors mapped to responses in one place: JSON with field errors for the
API, a clear page (never a stack trace) for people, and redirects for sign-in steps."""

from __future__ import annotations

import logging
from urllib.parse import quote, urlsplit

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.htmx import ClientRedirect

from db.errors import Conflict, Forbidden, NotFound, RateLimited, ValidationFailed
from web.core.auth import CsrfFailed, NotAllowed, NotSignedIn
from web.core.i18n import gettext as _
from web.core.params import FormRefused
from web.core.templating import htmx_of, is_fragment_request, render

log = logging.getLogger("crm.errors")


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _json(status: int, body: dict, headers: dict | None = None) -> Response:
    return Response(body, status_code=status, media_type=MediaType.JSON, headers=headers)


def _page(request: Request, status: int, title: str, message: str) -> Response:
    return render(
        request, "error.html", {"status": status, "title": title, "message": message},
        status=status,
    )


def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
    if _is_api(request):
        return _json(401, {"detail": "missing or unknown API key"},
                     {"WWW-Authenticate": "Bearer"})
    location = exc.location
    htmx = bool(htmx_of(request))
    # Come back to the page the person was on: for HTMX, the page, not the fragment's URL.
    url = urlsplit(htmx_of(request).current_url or "") if htmx else request.url
    target = url.path + (f"?{url.query}" if url.query else "")
    if location == "/login" and (htmx or request.method == "GET") and url.path not in ("", "/", "/login"):
        location = f"/login?next={quote(target, safe='')}"
    if htmx:
        response = ClientRedirect(location)  # the whole page goes to sign in, not a fragment
        response.status_code, response.content = 401, b""
        return response
    return Response("", status_code=303, headers={"Location": location})


def csrf_failed(request: Request, _exc: CsrfFailed) -> Response:
    if _is_api(request):
        return _json(403, {"detail": "CSRF token missing or wrong"})
    return _page(request, 403, _("This form has expired"),
                 _("Reload the page and try again. Nothing was changed."))


def not_allowed(request: Request, _exc: Exception) -> Response:
    if _is_api(request):
        return _json(403, {"detail": "not allowed"})
    return _page(request, 403, _("Not allowed"), _("Your role does not allow this."))


def not_found(request: Request, _exc: Exception) -> Response:
    if _is_api(request):
        return _json(404, {"detail": "not found"})
    return _page(request, 404, _("Not found"),
                 _("This page does not exist, or you do not have access to it."))


def validation_failed(request: Request, exc: ValidationFailed) -> Response:
    if _is_api(request) or not is_fragment_request(request):
        return _json(422, {"detail": "invalid input", "errors": exc.errors})
    return _page(request, 422, _("Please check the form"), "; ".join(_(m) for m in exc.errors.values()))


def form_refused(request: Request, exc: FormRefused) -> Response:
    """A form with control characters in a field (not something a person types): refused
    before any handler read it, with a page naming the fields, full page or fragment."""
    if _is_api(request):
        return _json(422, {"detail": "invalid input", "errors": exc.errors})
    message = "; ".join(f"{field}: {_(m)}" for field, m in exc.errors.items())
    return _page(request, 422, _("Please check the form"), message)


def conflict(request: Request, exc: Conflict) -> Response:
    """A change that lost a race (completed from another phone meanwhile)."""
    if _is_api(request):
        return _json(409, {"detail": str(exc) or "conflict"})
    return _page(request, 409, _("Already changed"),
                 _("Someone changed this meanwhile. Reload the page to see it as it is now."))


def request_invalid(request: Request, exc: ValidationException) -> Response:
    """Litestar's own parsing errors (bad JSON, wrong types) become 422 with field messages."""
    errors: dict[str, str] = {}
    for item in exc.extra or []:
        if isinstance(item, dict):
            errors[str(item.get("key") or "body")] = str(item.get("message", "invalid"))
    if not errors:
        errors["body"] = str(exc.detail)
    if _is_api(request):
        return _json(422, {"detail": "invalid input", "errors": errors})
    return _page(request, 400, _("Bad request"), _("The request could not be read."))


def rate_limited(request: Request, exc: RateLimited) -> Response:
    headers = {"Retry-After": str(exc.retry_after)}
    if _is_api(request):
        return _json(429, {"detail": "too many requests"}, headers)
    return _page(request, 429, _("Too many attempts"),
                 _("Please wait %(minutes)d minutes and try again.")
                 % {"minutes": max(1, round(exc.retry_after / 60))})


def http_error(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if _is_api(request):
        return _json(status, {"detail": exc.detail}, getattr(exc, "headers", None))
    titles = {
        404: (_("Not found"), _("This page does not exist, or you do not have access to it.")),
        405: (_("Not allowed"), _("This action is not available here.")),
        413: (_("Too large"), _("What you sent is too large.")),
    }
    title, message = titles.get(status, (_("Something went wrong"), _("Please try again.")))
    return _page(request, status, title, message)


def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if _is_api(request):
        return _json(500, {"detail": "internal error"})
    return _page(request, 500, _("Something went wrong"),
                 _("The error has been logged. Please try again in a moment."))


HANDLERS = {
    NotSignedIn: not_signed_in,
    CsrfFailed: csrf_failed,
    NotAllowed: not_allowed,
    Forbidden: not_allowed,
    NotFound: not_found,
    FormRefused: form_refused,
    ValidationFailed: validation_failed,
    Conflict: conflict,
    ValidationException: request_invalid,
    RateLimited: rate_limited,
    HTTPException: http_error,
    Exception: server_error,
}
