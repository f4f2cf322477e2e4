"""Health, the service worker, the manifest and the offline page."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.response import File, Redirect

from db.engine import raw
from web.core.templating import STATIC_DIR, render


@get("/healthz", include_in_schema=False)
async def healthz() -> Response:
    try:
        await raw("SELECT 1")
    except Exception:
        return Response({"status": "error", "database": "unreachable"}, status_code=503)
    return Response({"status": "ok"})


@get("/sw.js", include_in_schema=False)
async def service_worker() -> File:
    return File(
        STATIC_DIR / "sw.js",
        content_disposition_type="inline",
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


@get("/manifest.webmanifest", include_in_schema=False)
async def manifest() -> File:
    return File(
        STATIC_DIR / "manifest.webmanifest",
        content_disposition_type="inline",
        media_type="application/manifest+json",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@get("/favicon.ico", include_in_schema=False)
async def favicon() -> Redirect:
    return Redirect("/static/icons/favicon-32.png", status_code=301)


@get("/offline", include_in_schema=False)
async def offline(request: Request) -> Response:
    response = render(request, "offline.html")
    response.headers["Cache-Control"] = "no-cache"
    return response


@get("/", include_in_schema=False)
async def home() -> Redirect:
    return Redirect("/today", status_code=303)


ROUTES = [healthz, service_worker, manifest, favicon, offline, home]
