"""The 360 card's member section, its quick actions (enrol, adjust points, issue and use a
coupon) and the points history, for staff.

Thin, like the other controllers: parse the form, authorise (the customer scope through
db/customers/service.get_customer, which every route calls first), call db/members, render
through web/customers/card.py, which owns the card. Each quick action is a real form that
works without JavaScript (a page with its sheet open, then Post/Redirect/Get); with HTMX the
sheet's form posts in place and the response carries the refreshed form plus the member
section (and the card's figures) out of band, with a toast.
"""

from __future__ import annotations

from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from db.customers import consent
from db.customers import service as customers
from db.engine import reading
from db.errors import Conflict, Forbidden, NotFound, ValidationFailed
from db.members import catalogue, config, coupons, ledger, membership
from db.customers.tables import CONSENT_CHANNELS
from web.core.auth import actor_of, scope_of, staff_required
from web.core.i18n import field_errors
from web.core.i18n import gettext as _
from web.core.forms import Field, read_form, texts
from web.core.params import parse_id
from web.core.templating import is_fragment_request, render, toast_header
from web.customers import card

# The sheets' forms (the ledger and coupons parse the text themselves).
JOIN_FIELDS = tuple(Field(f"consent_{ch}", kind="checkbox") for ch in CONSENT_CHANNELS)
ADJUST_FIELDS = texts("delta", "reason", "key", "direction")
ISSUE_FIELDS = texts("coupon_type_id")
USE_FIELDS = texts("order_ref")
CONSENT_FIELDS = texts("channel", "granted")


async def _customer(request: Request, customer_id: int) -> dict:
    """The customer, through the scope (NotFound, a 404, for a customer the person may not see)."""
    return await customers.get_customer(scope_of(request), customer_id)


async def _member_of(request: Request, customer_id: int) -> dict:
    await _customer(request, customer_id)
    member = await membership.member_for_customer(customer_id)
    if member is None:
        raise NotFound()
    return member


async def _section(request: Request, customer_id: int, block: str, **extra) -> Response:
    """HTMX: one block of the member section, freshly read."""
    data = await card.section(request, "member_section", customer_id)
    return card.block(request, block, card.context(member_section=data, **extra))


async def _form_error(request: Request, customer_id: int, block: str, values: dict, errors: dict,
                      **extra) -> Response:
    return await _section(request, customer_id, block, values=values, errors=errors, **extra)


async def _refreshed(request: Request, customer_id: int, form_block: str, message: str,
                     header: bool = False, **extra) -> Response:
    """After a change (HTMX): the sheet's fresh form, then the member section and the card's
    figures (and header, when the tier may have changed) out of band, and a toast."""
    page = await card.page(request, customer_id, keys=("member_section",))
    blocks = [form_block, "member_section", "figures"] + (["header"] if header else [])
    return card.refresh(request, card.context(**page, **extra), blocks, headers=toast_header(message))


def parse_delta(text: str) -> int | None:
    text = text.strip().replace(" ", "").replace(",", "")
    if text.startswith("+"):
        text = text[1:]
    body = text[1:] if text.startswith("-") else text
    return int(text) if body.isdecimal() and body.isascii() and len(body) <= 9 else None


class MemberCardController(Controller):
    path = "/customers/{customer_id:int}"
    guards = [staff_required]

    @get("/member")
    async def section(self, request: Request, customer_id: FromPath[int]) -> Response:
        """HTMX: the member section alone; without JavaScript, the card."""
        if not is_fragment_request(request):
            return await card.full(request, customer_id)
        await _customer(request, customer_id)
        return await _section(request, customer_id, "member_section")

    # ------------------------------------------------------------ enrol

    @get("/member/join")
    async def join_form(self, request: Request, customer_id: FromPath[int]) -> Response:
        if not is_fragment_request(request):
            return await card.full(request, customer_id, sheet="join")
        await _customer(request, customer_id)
        return await _section(request, customer_id, "join_form")

    @post("/member/join")
    async def join(self, request: Request, customer_id: FromPath[int]) -> Response:
        await _customer(request, customer_id)
        form = await read_form(request, JOIN_FIELDS)
        consents = {ch: form.values[f"consent_{ch}"] for ch in CONSENT_CHANNELS}
        member = await membership.join(customer_id, "staff", actor_of(request), consents=consents)
        message = _("Enrolled: member no. %(no)s.") % {"no": member["member_no"]}
        if not is_fragment_request(request):
            return Redirect(f"/customers/{customer_id}?saved=member#card-member", status_code=303)
        return await _refreshed(request, customer_id, "member_sheets", message, header=True)

    # ------------------------------------------------------------ consent (any customer)

    @get("/consent")
    async def consent_form(self, request: Request, customer_id: FromPath[int]) -> Response:
        if not is_fragment_request(request):
            return await card.full(request, customer_id, sheet="consent")
        await _customer(request, customer_id)
        return await _section(request, customer_id, "consent_form")

    @post("/consent")
    async def record_consent(self, request: Request, customer_id: FromPath[int]) -> Response:
        """Staff record what the customer said for one channel (source "card"), audited."""
        await _customer(request, customer_id)
        values = (await read_form(request, CONSENT_FIELDS)).text
        errors: dict[str, str] = {}
        if values["channel"] not in CONSENT_CHANNELS:
            errors["channel"] = _("Choose a channel.")
        if values["granted"] not in ("0", "1"):
            errors["granted"] = _("Choose the customer's answer.")
        if errors:
            if not is_fragment_request(request):
                return await card.full(request, customer_id, sheet="consent", values=values, errors=errors)
            return await _form_error(request, customer_id, "consent_form", values, errors)
        granted = values["granted"] == "1"
        await consent.record_by(actor_of(request), customer_id, values["channel"], granted, "card")
        if not is_fragment_request(request):
            return Redirect(f"/customers/{customer_id}?saved=consent#card-consents", status_code=303)
        message = _("Consent recorded.") if granted else _("Withdrawal recorded.")
        return await _refreshed(request, customer_id, "consent_form", message)

    # ------------------------------------------------------------ points: adjust and history

    @get("/points/adjust")
    async def adjust_form(self, request: Request, customer_id: FromPath[int]) -> Response:
        if not is_fragment_request(request):
            return await card.full(request, customer_id, sheet="adjust")
        await _member_of(request, customer_id)
        return await _section(request, customer_id, "adjust_form")

    @post("/points/adjust")
    async def adjust(self, request: Request, customer_id: FromPath[int]) -> Response:
        member = await _member_of(request, customer_id)
        values = (await read_form(request, ADJUST_FIELDS)).text
        user = request.scope["auth"].user
        delta = parse_delta(values["delta"])
        if delta is not None and values["direction"] == "take":
            delta = -abs(delta)  # the number pad has no minus: the toggle says which way
        errors: dict[str, str] = {}
        replayed = False
        try:
            if delta is None:
                errors["delta"] = _("a whole number of points, like 100 or -100")
                if not values["reason"].strip():
                    errors["reason"] = _("required: say why the points change")
            else:
                result = await ledger.adjust(member["id"], delta, values["reason"], values["key"],
                                             actor_of(request), user.role)
                replayed = result.replayed
        except ValidationFailed as exc:
            errors = field_errors(exc.errors)
            if "idempotency_key" in errors:
                errors["form"] = errors.pop("idempotency_key")
        except Forbidden:
            cfg = await config.load()
            errors["delta"] = _("Adjustments over %(n)s points need a manager. Ask a manager to make this one.") % {
                "n": f"{cfg.manager_above:,}"}
        except ledger.InsufficientPoints as exc:
            errors["delta"] = _("Not enough points: the balance is %(n)s.") % {"n": f"{exc.balance:,}"}
        except ledger.KeyReused:
            values["key"] = ""
            errors["form"] = _("This form was already used for another change. Check the history, then try again.")
        if errors:
            if not is_fragment_request(request):
                return await card.full(request, customer_id, sheet="adjust", values=values, errors=errors)
            return await _form_error(request, customer_id, "adjust_form", values, errors)
        if not is_fragment_request(request):
            return Redirect(f"/customers/{customer_id}?saved=points#card-member", status_code=303)
        message = (_("Already saved.") if replayed else
                   _("Points adjusted: %(delta)s.") % {"delta": f"{delta:+,}"})
        return await _refreshed(request, customer_id, "adjust_form", message)

    @get("/points")
    async def history(self, request: Request, customer_id: FromPath[int],
                      before: FromQuery[str | None] = None) -> Response:
        """Every points entry, newest first, 20 a page (the cursor is the last entry's id)."""
        customer = await _customer(request, customer_id)
        member = await membership.member_for_customer(customer_id)
        if member is None:
            raise NotFound()
        cursor = parse_id(before)
        async with reading():
            entries, next_cursor = await ledger.history(member["id"], before=cursor, limit=20)
            summary = None if cursor and is_fragment_request(request) else await membership.summary(member["id"])
        more_url = f"/customers/{customer_id}/points?{urlencode({'before': next_cursor})}" if next_cursor else None
        return render(request, "members/points.html", {
            "nav": "customers", "customer": customer, "member": member, "summary": summary,
            "entries": entries, "more_url": more_url, "older": bool(cursor)}, block="rows")

    # ------------------------------------------------------------ coupons: issue and use

    @get("/coupons/issue")
    async def issue_form(self, request: Request, customer_id: FromPath[int]) -> Response:
        if not is_fragment_request(request):
            return await card.full(request, customer_id, sheet="issue")
        await _member_of(request, customer_id)
        return await _section(request, customer_id, "issue_form")

    @post("/coupons/issue")
    async def issue(self, request: Request, customer_id: FromPath[int]) -> Response:
        member = await _member_of(request, customer_id)
        values = (await read_form(request, ISSUE_FIELDS)).text
        type_id = parse_id(values["coupon_type_id"])
        actives = {t["id"] for t in await catalogue.list_coupon_types(active_only=True)}
        errors: dict[str, str] = {}
        coupon = None
        if type_id not in actives:
            errors["coupon_type_id"] = _("Choose a coupon type.")
        else:
            try:
                coupon = await coupons.issue(member["id"], type_id, source="staff",
                                             actor_label=actor_of(request).label)
            except NotFound:  # switched off meanwhile
                errors["coupon_type_id"] = _("This coupon type was switched off. Choose another.")
        if errors:
            if not is_fragment_request(request):
                return await card.full(request, customer_id, sheet="issue", values=values, errors=errors)
            return await _form_error(request, customer_id, "issue_form", values, errors)
        if not is_fragment_request(request):
            return Redirect(f"/customers/{customer_id}?saved=coupon#card-member", status_code=303)
        return await _refreshed(request, customer_id, "issue_form",
                                _("Coupon issued: %(code)s.") % {"code": coupon["code"]})

    async def _open_coupon(self, member: dict, coupon_id: int) -> dict:
        found = next((c for c in await coupons.for_member(member["id"], limit=200) if c["id"] == coupon_id), None)
        if found is None:
            raise NotFound()
        return found

    @get("/coupons/{coupon_id:int}/use")
    async def use_form(self, request: Request, customer_id: FromPath[int], coupon_id: FromPath[int]) -> Response:
        member = await _member_of(request, customer_id)
        coupon = await self._open_coupon(member, coupon_id)
        if not is_fragment_request(request):
            return await card.full(request, customer_id, sheet="use", coupon=coupon)
        return await _section(request, customer_id, "use_form", sheet="use", coupon=coupon)

    @post("/coupons/{coupon_id:int}/use")
    async def use(self, request: Request, customer_id: FromPath[int], coupon_id: FromPath[int]) -> Response:
        member = await _member_of(request, customer_id)
        values = (await read_form(request, USE_FIELDS)).text
        values["order_ref"] = values["order_ref"].strip()[:64]
        coupon = next((c for c in await coupons.for_member(member["id"], include_used=True, limit=500)
                       if c["id"] == coupon_id), None)
        if coupon is None:
            raise NotFound()
        errors: dict[str, str] = {}
        try:
            await coupons.use(coupon["code"], values["order_ref"], actor_of(request).label, member_id=member["id"])
        except Conflict:
            errors["form"] = (_("This coupon was already used.") if coupon["used_at"] or coupon["state"] == "used"
                              else _("This coupon is not valid now."))
        if errors:
            if not is_fragment_request(request):
                return await card.full(request, customer_id, sheet="use", coupon=coupon, values=values, errors=errors)
            return await _form_error(request, customer_id, "use_form", values, errors,
                               sheet="use", coupon=coupon)
        if not is_fragment_request(request):
            return Redirect(f"/customers/{customer_id}?saved=coupon_used#card-member", status_code=303)
        return await _refreshed(request, customer_id, "use_form", _("Coupon %(code)s marked as used.") % {
            "code": coupon["code"]}, sheet="use", coupon=coupon)
