"""Customer pages: the searchable list, a new customer, and the 360 card's routes: the card, its
timeline and its quick actions. The card itself is assembled in web/customers/card.py.

Every quick action (log, tag, edit) is a real form that works without JavaScript (a page
with that bottom sheet open, then Post/Redirect/Get). With HTMX the sheet's form posts in
place and the response carries the refreshed form plus out-of-band swaps for the parts of
the card the change touched (header, timeline, profile), so the card updates without a
reload.
"""

from __future__ import annotations

from typing import Annotated

from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect

from db.customers import card as card_reads
from db.customers import profile, search, service, tags, timeline
from db.followups import interactions
from db.members import membership
from db.customers.tables import LIFECYCLE_STAGES
from db.engine import reading
from db.errors import ValidationFailed
from db.figures import drill as drill_reads
from db.figures.filters import make_filter
from db.figures.period import Period
from web.core.auth import actor_of, scope_of, staff_required
from web.core.forms import read, read_form, texts
from web.core.i18n import current_zone, field_errors
from web.core.params import parse_id
from web.core.i18n import gettext as _
from web.core.templating import is_fragment_request, render, toast_header
from web.customers import card
from web.customers import rows as rows_view

# The forms' fields, read as text: the customer service parses and checks them.
NEW_FIELDS = texts("name", "mobile", "email", "gender", "birthday", "province", "city")
INTERACTION_FIELDS = texts("kind", "body", "outcome", "next_follow_up_on", "follow_up_in", max_length=4000)
TAG_FIELDS = texts("name", max_length=200)
PROFILE_FIELDS = texts(*service.PROFILE_FIELDS, max_length=400)


async def _drill(scope, figure, start, end, channel, team, tier) -> dict | None:
    """The figure filter of a dashboard link, or None when the URL names none: the filter,
    the SQL condition, the URL parameters that keep it, and a message if the URL is wrong."""
    tier_id = parse_id(tier)
    if not (figure or start or end or channel or team or tier):
        return None
    figure = figure if figure in drill_reads.CUSTOMER_FIGURES else None
    out = {"figure": figure, "tier": tier_id, "error": "", "count": None, "extra": None}
    try:
        filt = make_filter(scope, channel, team)
        period = Period.parse(start, end) if figure else None
    except ValidationFailed as exc:
        out["error"] = "; ".join(_(m) for m in exc.errors.values())
        return out
    out["filter"], out["period"] = filt, period
    out["extra"] = drill_reads.customer_condition(filt, figure=figure, period=period, tier=tier_id)
    out["params"] = {**filt.query(), **(period.query() if period else {}),
                     **({"figure": figure} if figure else {}),
                     **({"tier": tier_id} if tier_id else {})}
    out["tier_name"] = next((t["name"] for t in await membership.tiers() if t["id"] == tier_id),
                            "") if tier_id else ""
    return out


def _flash(key: str | None) -> list[tuple[str, str]]:
    messages = {
        "logged": _("Saved to the timeline."),
        "tags": _("Tags saved."),
        "profile": _("Profile saved."),
        "merged": _("Merged. Everything from the other profile is now here."),
        "member": _("Enrolled as a member."),
        "points": _("Points adjusted."),
        "coupon": _("Coupon issued."),
        "coupon_used": _("Coupon marked as used."),
        "consent": _("Consent recorded."),
    }
    return [("success", messages[key])] if key in messages else []


class CustomerController(Controller):
    path = "/customers"
    guards = [staff_required]

    @get("/")
    async def list_customers(
        self,
        request: Request,
        q: FromQuery[str] = "",
        tag: FromQuery[str | None] = None,
        lifecycle: FromQuery[str | None] = None,
        before: FromQuery[str | None] = None,
        figure: FromQuery[str | None] = None,
        from_: Annotated[str | None, QueryParameter(name="from")] = None,
        to: FromQuery[str | None] = None,
        channel: FromQuery[str | None] = None,
        team: FromQuery[str | None] = None,
        tier: FromQuery[str | None] = None,
    ) -> Response:
        q = search.clean_query(q)
        tag_id, before_id = parse_id(tag), parse_id(before)
        stage = lifecycle if lifecycle in LIFECYCLE_STAGES else None
        scope = scope_of(request)
        # The dashboard's drill-down: the customers a figure counts (db/figures/drill.py), in
        # the figure's scope (a manager asking for another team gets the 403 page).
        drill = await _drill(scope, figure, from_, to, channel, team, tier)
        async with reading():  # the rows and the filter's tags on one connection
            if drill and not drill["error"]:
                scope = drill["filter"].customer_scope
                if not before_id:
                    drill["count"] = await search.count_customers(
                        scope, q, tag_id, stage, drill["extra"])
            rows, next_cursor = await search.search_customers(
                scope, q, tag_id, before_id, lifecycle=stage,
                extra=drill["extra"] if drill and not drill["error"] else None)
            tags = None if is_fragment_request(request) else await service.all_tags()
        for row in rows:
            row["badges"] = [(t["name"], t["color"]) for t in row["tags"][:2]]
            row["html"] = rows_view.row_html(row)
        params = {k: v for k, v in {"q": q, "tag": tag_id, "lifecycle": stage}.items() if v}
        if drill and not drill["error"]:
            params.update(drill["params"])
        more_url = (f"/customers?{urlencode({**params, 'before': next_cursor})}"
                    if next_cursor else None)
        context = {
            "nav": "customers", "q": q, "tag_id": tag_id, "lifecycle": stage, "stages": LIFECYCLE_STAGES,
            "rows": rows, "more_url": more_url, "drill": drill,
            "short_digits": q.strip().isdigit() and len(q.strip()) < 4,
        }
        if tags is not None:  # the filters are outside the HTMX blocks
            context["tags"] = tags
        block = "rows" if before_id else "results"
        return render(request, "customers/list.html", context, block=block)

    @get("/new")
    async def new_customer_page(self, request: Request) -> Response:
        return render(request, "customers/new.html", {"nav": "customers", "values": {}, "errors": {}})

    @post("/new")
    async def create_customer(self, request: Request) -> Response:
        values = (await read_form(request, NEW_FIELDS)).text
        try:
            data = profile.parse_customer(values)
            user = request.scope["auth"].user
            customer_id = await service.create_customer(data, actor_of(request), user.team_id)
        except ValidationFailed as exc:
            errors = field_errors(exc.errors)
            return render(request, "customers/new.html",
                          {"nav": "customers", "values": values, "errors": errors})
        return Redirect(f"/customers/{customer_id}", status_code=303)

    # ------------------------------------------------------------ the card and its timeline

    @get("/{customer_id:int}")
    async def customer_page(self, request: Request, customer_id: FromPath[int],
                            saved: FromQuery[str | None] = None) -> Response:
        return await card.full(request, customer_id, flashes=_flash(saved))

    @get("/{customer_id:int}/timeline")
    async def timeline_page(self, request: Request, customer_id: FromPath[int],
                            after: FromQuery[str | None] = None) -> Response:
        """HTMX: the next page of entries and the next sentinel. Without JavaScript the
        'Show older' link lands here: the card with the timeline from that point on."""
        scope = scope_of(request)
        entries, more = await timeline.timeline_page(scope, customer_id, (after or "")[:40])
        if is_fragment_request(request):
            return card.block(request, "timeline_page", {"customer_id": customer_id, "timeline": entries,
                                                         "timeline_next": more})
        page = await card_reads.customer_page(scope, customer_id, request.scope["auth"].user.id)
        page.update(timeline=entries, timeline_next=more, timeline_older=True)
        return render(request, card.CARD, card.context(**page))

    # ------------------------------------------------------------ log a call, visit, message, note

    @get("/{customer_id:int}/log")
    async def log_form(self, request: Request, customer_id: FromPath[int]) -> Response:
        if is_fragment_request(request):
            customer = await service.get_customer(scope_of(request), customer_id)
            return card.block(request, "log_form", card.context(customer=customer, last_kind=card_reads.FIRST_KIND))
        return await card.full(request, customer_id, sheet="log")

    @post("/{customer_id:int}/interactions")
    async def add_interaction(self, request: Request, customer_id: FromPath[int]) -> Response:
        values = (await read_form(request, INTERACTION_FIELDS)).text
        scope = scope_of(request)
        try:
            await interactions.add_interaction(
                scope, customer_id, values["kind"], values["body"], actor_of(request),
                outcome=values["outcome"], next_follow_up=values["next_follow_up_on"],
                follow_up_in=values["follow_up_in"], today=card.today(),
                follow_up_title=_("Follow up"), zone=current_zone(),
            )
        except ValidationFailed as exc:
            if not is_fragment_request(request):
                return await card.full(request, customer_id, sheet="log", values=values,
                                        errors=field_errors(exc.errors))
            customer = await service.get_customer(scope, customer_id)
            return card.block(request, "log_form", card.context(
                customer=customer, values=values, errors=field_errors(exc.errors), last_kind=values["kind"]))
        if not is_fragment_request(request):
            return Redirect(f"/customers/{customer_id}?saved=logged#timeline", status_code=303)
        fresh = await card_reads.customer_activity(scope, customer_id)
        fresh["follow_ups"] = await card.section(request, "follow_ups", customer_id)
        return card.refresh(request, card.context(**fresh, last_kind=values["kind"]),
                              ["log_form", "follow_up", "follow_ups", "timeline"],
                              headers=toast_header(_("Saved to the timeline.")))

    # ------------------------------------------------------------ tags

    @get("/{customer_id:int}/tags")
    async def tags_form(self, request: Request, customer_id: FromPath[int],
                        saved: FromQuery[str | None] = None) -> Response:
        if is_fragment_request(request):
            found = await card_reads.customer_tags(scope_of(request), customer_id, True)
            return card.block(request, "tag_form", card.context(**found))
        return await card.full(request, customer_id, sheet="tags", flashes=_flash(saved))

    async def _tags_changed(self, request: Request, customer_id: int, error: ValidationFailed | None,
                            values: dict) -> Response:
        scope = scope_of(request)
        errors = field_errors(error.errors) if error else {}
        if not is_fragment_request(request):
            if error:
                return await card.full(request, customer_id, sheet="tags", values=values, errors=errors)
            return Redirect(f"/customers/{customer_id}/tags?saved=tags", status_code=303)
        found = await card_reads.customer_tags(scope, customer_id, True)
        context = card.context(**found, values=values, errors=errors)
        return card.refresh(request, context, ["tag_form"] if error else ["tag_form", "header_tags"])

    @post("/{customer_id:int}/tags")
    async def add_tag(self, request: Request, customer_id: FromPath[int]) -> Response:
        values = (await read_form(request, TAG_FIELDS)).text
        try:
            await tags.add_tag(scope_of(request), customer_id, values["name"], actor_of(request))
        except ValidationFailed as exc:
            return await self._tags_changed(request, customer_id, exc, values)
        return await self._tags_changed(request, customer_id, None, {})

    @post("/{customer_id:int}/tags/{tag_id:int}/remove")
    async def remove_tag(self, request: Request, customer_id: FromPath[int], tag_id: FromPath[int]) -> Response:
        try:
            await tags.remove_tag(scope_of(request), customer_id, tag_id, actor_of(request))
        except ValidationFailed as exc:  # shown above the list, not by the add field
            return await self._tags_changed(request, customer_id, ValidationFailed(
                {"remove": message for message in exc.errors.values()}), {})
        return await self._tags_changed(request, customer_id, None, {})

    # ------------------------------------------------------------ profile edit

    @get("/{customer_id:int}/edit")
    async def edit_form(self, request: Request, customer_id: FromPath[int]) -> Response:
        if is_fragment_request(request):
            found = await card_reads.customer_edit(scope_of(request), customer_id)
            return card.block(request, "edit_form", card.context(**found))
        return await card.full(request, customer_id, sheet="edit")

    @post("/{customer_id:int}/edit")
    async def edit(self, request: Request, customer_id: FromPath[int]) -> Response:
        form = await request.form()
        values = read(form, PROFILE_FIELDS).text
        # Not for the reader: custom fields arrive under names only known per shop, and an
        # absent owner or team (a staff member may not change them) differs from an empty one.
        custom = {str(k)[7:]: str(v)[:1000] for k, v in form.items() if str(k).startswith("custom.")}
        owner = str(form["owner"]) if "owner" in form else None
        team = str(form["team"]) if "team" in form else None
        scope = scope_of(request)
        try:
            await service.update_customer(scope, customer_id, values, actor_of(request),
                                          custom=custom, owner=owner, team=team)
        except ValidationFailed as exc:
            errors = field_errors(exc.errors)
            keep = {**values, **{f"custom.{k}": v for k, v in custom.items()},
                    "owner": owner, "team": team}
            if not is_fragment_request(request):
                return await card.full(request, customer_id, sheet="edit", values=keep, errors=errors)
            found = await card_reads.customer_edit(scope, customer_id)
            return card.block(request, "edit_form", card.context(**found, values=keep, errors=errors))
        if not is_fragment_request(request):
            return Redirect(f"/customers/{customer_id}?saved=profile", status_code=303)
        page = await card_reads.customer_page(scope, customer_id, request.scope["auth"].user.id)
        context = card.context(**page, **await service.assignable(scope))
        return card.refresh(request, context, ["edit_form", "header", "profile"],
                              headers=toast_header(_("Profile saved.")))
