"""Customer pages: the searchable list, the customer page and adding an interaction."""

from __future__ import annotations

from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from db.customers import service
from db.customers.tables import INTERACTION_KINDS
from db.errors import ValidationFailed
from web.auth import actor_of, scope_of, staff_required
from web.i18n import gettext as _
from web.templating import is_fragment_request, render

def _clean_int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 12 else None


class CustomerController(Controller):
    path = "/customers"
    guards = [staff_required]

    @get("/")
    async def list_customers(
        self,
        request: Request,
        q: FromQuery[str] = "",
        tag: FromQuery[str | None] = None,
        before: FromQuery[str | None] = None,
    ) -> Response:
        q = q[:100]
        tag_id, before_id = _clean_int(tag), _clean_int(before)
        rows, next_cursor = await service.search_customers(scope_of(request), q, tag_id, before_id)
        for row in rows:
            row["badges"] = [(t["name"], t["color"]) for t in row["tags"][:2]]
        params = {k: v for k, v in {"q": q, "tag": tag_id}.items() if v}
        more_url = (f"/customers?{urlencode({**params, 'before': next_cursor})}"
                    if next_cursor else None)
        context = {
            "nav": "customers", "q": q, "tag_id": tag_id, "rows": rows, "more_url": more_url,
            "short_digits": q.strip().isdigit() and len(q.strip()) < 4,
        }
        if not is_fragment_request(request):  # the tag filter is outside the HTMX blocks
            context["tags"] = await service.all_tags()
        block = "rows" if before_id else "results"
        return render(request, "customers/list.html", context, block=block)

    @get("/new")
    async def new_customer_page(self, request: Request) -> Response:
        return render(request, "customers/new.html", {"nav": "customers", "values": {}, "errors": {}})

    @post("/new")
    async def create_customer(self, request: Request) -> Response:
        form = await request.form()
        values = {k: str(form.get(k, "")) for k in
                  ("name", "mobile", "email", "gender", "birthday", "province", "city")}
        try:
            data = service.parse_customer(values)
            user = request.scope["auth"].user
            customer_id = await service.create_customer(data, actor_of(request), user.team_id)
        except ValidationFailed as exc:
            errors = {k: _(v) for k, v in exc.errors.items()}
            return render(request, "customers/new.html",
                          {"nav": "customers", "values": values, "errors": errors})
        return Redirect(f"/customers/{customer_id}", status_code=303)

    @get("/{customer_id:int}")
    async def customer_page(self, request: Request, customer_id: FromPath[int]) -> Response:
        page = await service.customer_page(scope_of(request), customer_id)
        return render(request, "customers/detail.html",
                      {**page, "nav": "customers", "kinds": INTERACTION_KINDS,
                       "errors": {}, "values": {}})

    @post("/{customer_id:int}/interactions")
    async def add_interaction(self, request: Request, customer_id: FromPath[int]) -> Response:
        form = await request.form()
        values = {"kind": str(form.get("kind", "")), "body": str(form.get("body", ""))[:4000]}
        scope = scope_of(request)
        errors = {}
        try:
            await service.add_interaction(scope, customer_id, values["kind"], values["body"],
                                          actor_of(request))
            values = {}
        except ValidationFailed as exc:
            errors = {k: _(v) for k, v in exc.errors.items()}
        if not is_fragment_request(request) and not errors:
            return Redirect(f"/customers/{customer_id}#activity", status_code=303)
        # Without HTMX only an invalid form gets here: it needs the whole page around it.
        load = service.customer_activity if is_fragment_request(request) else service.customer_page
        return render(request, "customers/detail.html",
                      {**await load(scope, customer_id), "nav": "customers",
                       "kinds": INTERACTION_KINDS, "errors": errors, "values": values},
                      block="activity")
