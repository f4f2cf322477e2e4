"""Export of the filtered customer list (managers and admins): GET /customers/export with the
list's filters and format=csv|xlsx streams the file; without a format it shows the choice."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get
from litestar.params import FromQuery
from litestar.response import Stream

from db.customers import export, service
from db.customers.tables import LIFECYCLE_STAGES
from db.errors import ValidationFailed
from web.core.auth import actor_of, role_required, scope_of
from db.settings import get_settings
from web.core.templating import render

MEDIA_TYPES = {
    "csv": "text/csv",  # Litestar adds "; charset=utf-8" to text/ types
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class ExportController(Controller):
    path = "/customers/export"
    guards = [role_required("manager", "admin")]

    @get("/")
    async def export_customers(
        self,
        request: Request,
        format: FromQuery[str | None] = None,
        q: FromQuery[str] = "",
        tag: FromQuery[str | None] = None,
        lifecycle: FromQuery[str | None] = None,
    ) -> Response:
        filters = export.parse_filters(q, tag, lifecycle)
        if not format:
            return render(request, "customers/export/customers.html", {
                "nav": "customers", "filters": filters, "tags": await service.all_tags(),
                "stages": LIFECYCLE_STAGES if export.lifecycle_filter_available() else (),
            })
        if format not in export.FORMATS:
            raise ValidationFailed({"format": "one of csv, xlsx"})
        tz = ZoneInfo(get_settings().timezone)
        stamp = dt.datetime.now(tz).strftime("%Y%m%d-%H%M")
        make = export.export_csv if format == "csv" else export.export_xlsx
        return Stream(
            make(scope_of(request), filters, actor_of(request), tz),
            media_type=MEDIA_TYPES[format],
            headers={"Content-Disposition": f'attachment; filename="customers-{stamp}.{format}"'},
        )
