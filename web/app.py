"""create_app(): routes, middleware, guards, error handlers and the database lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
import warnings
from contextlib import asynccontextmanager

from litestar import Litestar, Router
from litestar.config.compression import CompressionConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import RapidocRenderPlugin
from litestar.plugins.htmx import HTMXPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router

from db.engine import engine
from db.settings import get_settings
from web.admin import audit, jobs
from web.api.routes import API_CONTROLLERS
from web.core import system
from web.core.auth import AuthMiddleware, csrf_guard
from web.core.errors import HANDLERS
from web.core.params import CrmRequest, ids_in_range
from web.core.security import SecurityMiddleware
from web.core.templating import STATIC_DIR
from web.customers.duplicates import DuplicatesController
from web.dashboard import pages as dashboard
from web.customers.export import ExportController
from web.customers.pages import CustomerController
from web.customers.settings import ROUTERS as FIELD_SETTINGS, SettingsController
from web.customers.shop_profile import ShopProfileController
from web.reports.files import FilesController
from web.reports.schedules import SchedulesController
from web.customers.tags import TagController
from web.followups.pages import FollowUpController
from web.imports.pages import import_controller
from web.member_centre import pages as member_centre
from web.members import home as members_home
from web.members.card_section import MemberCardController
from web.members.scan import MemberScanController
from web.members.settings import ROUTERS as MEMBER_SETTINGS, MemberSettingsController
from web.pipeline.pages import SETTINGS_ROUTERS as STAGE_SETTINGS, PipelineController
from web.push import pages as push
from web.reports.pages import ReportController
from web.staff import account, menu
from db.jobs import kinds, queue
from web.followups.reminders import compose_digest, compose_reminder
from reports import jobs as report_jobs


async def every_route(connection, handler) -> None:
    """The guards every route runs, in order: ids in range (web/core/params.py), then CSRF
    (web/core/auth.py). One guard, not two: Litestar copies the route handler for each guard
    it calls (about 20 µs a copy, on every request)."""
    await ids_in_range(connection, handler)
    await csrf_guard(connection, handler)


def _configure_logging(level: str) -> None:
    root = logging.getLogger("crm")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False


@asynccontextmanager
async def _database(app: Litestar):
    eng = engine()
    size = get_settings().db_pool_size
    pooled = eng.engine_type == "postgres" and size > 0
    if pooled:
        await eng.start_connection_pool(min_size=1, max_size=size)
    try:
        yield
    finally:
        if pooled:
            await eng.close_connection_pool()


@asynccontextmanager
async def _background(app: Litestar):
    """The one background loop of this process: the job worker (db/jobs) for the kinds this
    process runs (CRM_NIGHTLY_AT, CRM_REMINDERS and CRM_PUSH_SENDER may turn some off), the
    report kinds (reports/jobs.py) among them."""
    runs = kinds.install(compose_reminder, compose_digest) + report_jobs.install()
    try:
        await kinds.schedule(runs)
        await report_jobs.start(runs)
    except Exception:  # the database may be starting: the worker still runs what is queued
        logging.getLogger("crm.jobs").exception("scheduling the recurring jobs failed")
    task = asyncio.create_task(queue.run_worker(runs), name="job-worker")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def create_app() -> Litestar:
    settings = get_settings()
    if settings.nightly_at != "off" and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", settings.nightly_at):
        raise ValueError("CRM_NIGHTLY_AT must be HH:MM (24-hour, shop time) or 'off'")
    # Litestar guesses that a negative look-ahead excludes every path; it excludes all but /static/.
    warnings.filterwarnings("ignore", message=".*greedily matches all paths.*")
    _configure_logging(settings.log_level)
    openapi = OpenAPIConfig(
        title="Shop CRM API",
        version="1.0.0",
        description="Customers and orders for shop platforms and integrations. "
        "Send `Authorization: Bearer KEY` (create a key with `crm apikey create NAME`). "
        "Amounts are strings of ASCII digits with at most two decimals (`\"1299.50\"`) in "
        "`CNY`, the only accepted `currency`; dates and times must fall in the years "
        "2000–2100. Invalid input, malformed JSON included, is a 422 with "
        "`{\"detail\": \"invalid input\", \"errors\": {field: message}}`.",
        path="/api/docs",
        render_plugins=[RapidocRenderPlugin(
            js_url="/static/vendor/rapidoc-min.js", path="/",
            favicon='<link rel="icon" href="/static/icons/favicon.svg" type="image/svg+xml">',
        )],
        components=Components(
            security_schemes={"apiKey": SecurityScheme(type="http", scheme="bearer")}
        ),
        security=[{"apiKey": []}],
    )
    app = Litestar(
        route_handlers=[
            # Pages for people stay out of the API reference.
            Router(path="/", include_in_schema=False, route_handlers=[
                # /members, /campaigns, /more, /admin/audit: in the order they had before
                *system.ROUTES, *account.ROUTES, members_home.members, *menu.ROUTES, audit.audit_log,
                *jobs.ROUTES, *push.ROUTES, *member_centre.ROUTES, *dashboard.ROUTES,
                CustomerController, FollowUpController,
                TagController, SettingsController, *FIELD_SETTINGS, ShopProfileController,
                DuplicatesController, ExportController, import_controller(),
                PipelineController, *STAGE_SETTINGS,
                MemberSettingsController, *MEMBER_SETTINGS, MemberCardController, MemberScanController,
                FilesController, SchedulesController,
                ReportController,
            ]),
            *API_CONTROLLERS,
            create_static_files_router(
                path="/static",
                directories=[STATIC_DIR],
                cache_control=None,
                include_in_schema=False,
                name="static",
            ),
        ],
        guards=[every_route],
        exception_handlers=HANDLERS,
        request_class=CrmRequest,  # an HTMXRequest (request.htmx); HTMXPlugin keeps it
        plugins=[HTMXPlugin()],
        lifespan=[_database, _background],
        openapi_config=openapi,
        request_max_body_size=settings.max_body_bytes,
        # Static files only: pages echo input beside the CSRF token (BREACH).
        compression_config=CompressionConfig(
            backend="gzip", gzip_compress_level=6, minimum_size=1024, exclude=[r"^/(?!static/)"]
        ),
        debug=False,
        logging_config=None,
    )
    # Wrap the whole app, not each route: Litestar runs route middleware only for matched
    # routes, and a 404 or 405 must carry the security headers and know who is asking too.
    app.asgi_handler = SecurityMiddleware(AuthMiddleware(app.asgi_handler))
    return app
