"""The member self-service page (/m/): its own sign-in by SMS code, the member's points,
rewards, coupons, card and settings. Members only ever see their own records: every id in a
URL is looked up together with the session's member (db/members/own_records.py), never read from
the request. Staff sessions mean nothing here (web/core/auth.py)."""

from __future__ import annotations

import secrets

from litestar import Request, Response, delete, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import File, Redirect

import segno

from db.audit.log import record
from db.customers.identity import mask_mobile
from db.errors import NotFound, ValidationFailed
from db.members import coupons, ledger, membership, own_records, qr_card, signin
from db.push.subscriptions import (
    member_device_count,
    remove_member_subscription,
    save_subscription,
)
from web.core.auth import MEMBER_COOKIE, client_ip, member_cookie, member_required, request_cookies
from web.core.forms import Field, read_form
from web.core.i18n import field_errors
from web.core.i18n import gettext as _
from web.core.params import json_body
from web.core.templating import STATIC_DIR, is_fragment_request, render, toast_header

HISTORY_PAGE = 20
CHANNELS = ("push", "sms", "email")
MOBILE = Field("mobile", max_length=30)
VERIFY_FIELDS = (MOBILE, Field("code", max_length=20))
JOIN_FIELDS = (Field("token", max_length=100), Field("name", max_length=100),
               *(Field(f"consent_{c}", kind="checkbox") for c in CHANNELS))
REDEEM_FIELDS = (Field("key", max_length=64),)
CONSENT_FIELDS = (Field("channel", max_length=20), Field("granted", kind="checkbox"))


def _ua(request: Request) -> str:
    return request.headers.get("user-agent", "")


def _member(request: Request) -> signin.MemberSession:
    return request.scope["member"]


def _page(request: Request, template: str, context: dict | None = None, **kwargs) -> Response:
    ctx = {"member": request.scope.get("member")} | (context or {})
    return render(request, template, ctx, **kwargs)


async def _signed_in(request: Request, member_id: int, location: str = "/m/") -> Response:
    """A fresh session (a new id every time) replacing any this browser had."""
    old = request_cookies(request.scope).get(MEMBER_COOKIE)
    if old:
        await signin.end_session(old)
    token = await signin.start_session(member_id, client_ip(request.scope), _ua(request))
    return Response("", status_code=303, headers={"Location": location,
                                                  "Set-Cookie": member_cookie(token)})


def _sms_text(code: str) -> str:
    return _("Your member sign-in code is %(code)s. It works for 5 minutes. Never tell it to anyone.") % {"code": code}


def _limit_message(exc: signin.SignInLimited) -> str:
    minutes = max(1, -(-exc.retry_after // 60))
    if exc.reason == "locked":
        return _("Too many wrong codes. This number is locked for %(minutes)d minutes.") % {"minutes": minutes}
    if exc.reason == "cooldown":
        return _("A code was sent a moment ago. You can ask for a new one in %(seconds)d seconds.") % {
            "seconds": exc.retry_after}
    if exc.reason == "busy":
        return _("Many sign-ins at once. Try again in a few seconds.")
    if exc.reason == "hourly":
        return _("Too many codes for this number. Try again in %(minutes)d minutes.") % {"minutes": minutes}
    return _("Too many attempts from this network. Try again in %(minutes)d minutes.") % {"minutes": minutes}


# ---------------------------------------------------------------- sign-in


@get("/m/login")
async def login_page(request: Request) -> Response:
    if request.scope.get("member"):
        return Redirect("/m/", status_code=303)
    return _page(request, "member_centre/login.html", {"step": "mobile", "mobile": "", "errors": {}})


@post("/m/login")
async def send_code(request: Request) -> Response:
    """Send a code (a first one, or again): the same answer for members and others."""
    typed = (await read_form(request, (MOBILE,))).text["mobile"]
    ip = client_ip(request.scope)
    try:
        sent = await signin.request_code(typed, ip, _sms_text)
    except ValidationFailed as exc:
        return _page(request, "member_centre/login.html",
                     {"step": "mobile", "mobile": typed, "errors": field_errors(exc.errors)})
    except signin.SignInLimited as exc:
        step = "code" if exc.reason == "cooldown" else "mobile"
        return _page(request, "member_centre/login.html",
                     {"step": step, "mobile": typed, "errors": {"mobile" if step == "mobile" else "code": _limit_message(exc)},
                      "masked": _masked(typed)},
                     status=429, headers={"Retry-After": str(exc.retry_after)})
    except signin.SmsNotSent:
        return _page(request, "member_centre/login.html",
                     {"step": "mobile", "mobile": typed,
                      "errors": {"mobile": _("Could not send the code. Please try again.")}}, status=503)
    return _page(request, "member_centre/login.html",
                 {"step": "code", "mobile": sent.mobile, "masked": mask_mobile(sent.mobile),
                  "errors": {}, "sent": True, "resend_after": sent.resend_after})


def _masked(typed: str) -> str:
    try:
        return mask_mobile(signin.parse_mobile(typed))
    except ValidationFailed:
        return ""


@post("/m/login/verify")
async def verify(request: Request) -> Response:
    form = (await read_form(request, VERIFY_FIELDS)).text
    typed = form["mobile"]
    ip = client_ip(request.scope)
    context = {"step": "code", "mobile": typed, "masked": _masked(typed), "errors": {}}
    try:
        result = await signin.verify_code(typed, form["code"], ip)
    except signin.WrongCode as exc:
        context["errors"] = {"code": _("Wrong code. %(n)d tries left.") % {"n": exc.tries_left}}
        return _page(request, "member_centre/login.html", context)
    except ValidationFailed as exc:
        if "mobile" in exc.errors:
            return _page(request, "member_centre/login.html",
                         {"step": "mobile", "mobile": typed, "errors": field_errors(exc.errors)})
        context["errors"] = {"code": _("This code has expired. Ask for a new one.")}
        return _page(request, "member_centre/login.html", context)
    except signin.SignInLimited as exc:
        context["errors"] = {"code": _limit_message(exc)}
        context["locked"] = exc.reason == "locked"
        return _page(request, "member_centre/login.html", context, status=429,
                     headers={"Retry-After": str(exc.retry_after)})
    if result.member_id is not None:
        await record("member.sign_in", actor=f"member:{result.member_id}", ip=ip,
                     target_type="member", target_id=result.member_id, detail={"by": "sms"})
        return await _signed_in(request, result.member_id)
    return _page(request, "member_centre/join.html", {
        "token": result.join_token, "masked": mask_mobile(result.mobile),
        "needs_name": not result.is_customer, "errors": {}, "name": "", "consents": {}})


@post("/m/join")
async def join(request: Request) -> Response:
    form = await read_form(request, JOIN_FIELDS)
    token, name = form.text["token"], form.text["name"]
    consents = {c: form.values[f"consent_{c}"] for c in CHANNELS}
    ip = client_ip(request.scope)
    try:
        member_id = await signin.join(token, name, ip, consents={c: v for c, v in consents.items() if v})
    except NotFound:
        return _page(request, "member_centre/login.html", {
            "step": "mobile", "mobile": "", "errors": {
                "mobile": _("That took too long. Enter your number again for a new code.")}})
    except ValidationFailed as exc:
        proved = await signin.join_mobile(token)
        return _page(request, "member_centre/join.html", {
            "token": token, "masked": mask_mobile(proved[0]) if proved else "",
            "needs_name": not (proved and proved[1]), "errors": field_errors(exc.errors),
            "name": name, "consents": consents})
    await record("member.sign_in", actor=f"member:{member_id}", ip=ip, target_type="member",
                 target_id=member_id, detail={"by": "signup"})
    return await _signed_in(request, member_id, "/m/?welcome=1")


@get("/m/login/link/{token:str}")
async def link_page(request: Request, token: FromPath[str]) -> Response:
    """A support link: opening it only shows a button (link previews must not spend it)."""
    live = await signin.link_is_live(token[:100])
    return _page(request, "member_centre/link.html", {"token": token[:100], "live": live},
                 status=200 if live else 410)


@post("/m/login/link/{token:str}")
async def use_link(request: Request, token: FromPath[str]) -> Response:
    try:
        member_id = await signin.use_login_link(token[:100])
    except NotFound:
        return _page(request, "member_centre/link.html", {"token": "", "live": False}, status=410)
    await record("member.sign_in", actor=f"member:{member_id}", ip=client_ip(request.scope),
                 target_type="member", target_id=member_id, detail={"by": "link"})
    return await _signed_in(request, member_id)


@post("/m/logout")
async def logout(request: Request) -> Response:
    await signin.end_session(request_cookies(request.scope).get(MEMBER_COOKIE))
    return Response("", status_code=303, headers={"Location": "/m/login",
                                                  "Set-Cookie": member_cookie("")})


# ---------------------------------------------------------------- the member's pages


@get("/m/", guards=[member_required])
async def home(request: Request, welcome: FromQuery[str | None] = None) -> Response:
    summary = await membership.summary(_member(request).member_id)
    return _page(request, "member_centre/home.html", {"s": summary, "nav": "home",
                                               "welcome": welcome == "1"})


@get("/m/points", guards=[member_required])
async def points(request: Request, before: FromQuery[int | None] = None) -> Response:
    rows, cursor = await ledger.history(_member(request).member_id, before=before, limit=HISTORY_PAGE)
    return _page(request, "member_centre/points.html", {"rows": rows, "cursor": cursor, "nav": "home"},
                 block="rows")


@get("/m/rewards", guards=[member_required])
async def rewards(request: Request) -> Response:
    member_id = _member(request).member_id
    items = await coupons.rewards_for(member_id)
    balance = (await membership.get(member_id))["points_balance"]
    return _page(request, "member_centre/rewards.html", {"rewards": items, "nav": "rewards",
                                                  "balance": balance})


@get("/m/rewards/{reward_id:int}", guards=[member_required])
async def reward(request: Request, reward_id: FromPath[int]) -> Response:
    """The confirm sheet (HTMX into #sheet-slot) or, without JavaScript, a page with it open."""
    item = await own_records.reward(reward_id)
    member = await membership.get(_member(request).member_id)
    return _page(request, "member_centre/reward.html", {
        "r": item, "balance": member["points_balance"], "key": secrets.token_urlsafe(16),
        "nav": "rewards", "error": None}, block="sheet")


@post("/m/rewards/{reward_id:int}/redeem", guards=[member_required])
async def redeem(request: Request, reward_id: FromPath[int]) -> Response:
    member = _member(request)
    key = (await read_form(request, REDEEM_FIELDS)).text["key"]
    error = None
    try:
        result = await ledger.redeem(member.member_id, reward_id, key, f"member:{member.member_no}")
    except ledger.OutOfStock:
        error = _("Sorry, this reward has just run out. No points were taken.")
    except ledger.InsufficientPoints:
        error = _("You do not have enough points for this reward yet. No points were taken.")
    except ValidationFailed:
        error = _("Something went wrong. Please try again. No points were taken.")
    if error:
        item = await own_records.reward(reward_id)
        balance = (await membership.get(member.member_id))["points_balance"]
        return _page(request, "member_centre/reward.html", {
            "r": item, "balance": balance, "key": secrets.token_urlsafe(16), "nav": "rewards",
            "error": error}, block="sheet", status=409)
    redemption_id = await own_records.redemption_for_entry(member.member_id, result.entry["id"])
    return Redirect(f"/m/redemptions/{redemption_id}?done=1", status_code=303)


@get("/m/redemptions/{redemption_id:int}", guards=[member_required])
async def redemption(request: Request, redemption_id: FromPath[int],
                     done: FromQuery[str | None] = None) -> Response:
    row = await own_records.redemption(_member(request).member_id, redemption_id)
    coupon = await own_records.coupon(_member(request).member_id, row["coupon_id"]) if row["coupon_id"] else None
    return _page(request, "member_centre/redemption.html", {"r": row, "coupon": coupon, "nav": "rewards",
                                                     "done": done == "1"})


@get("/m/coupons", guards=[member_required])
async def coupon_list(request: Request) -> Response:
    items = await coupons.for_member(_member(request).member_id, include_used=True)
    return _page(request, "member_centre/coupons.html", {"coupons": items, "nav": "home"})


@get("/m/coupons/{coupon_id:int}", guards=[member_required])
async def coupon_detail(request: Request, coupon_id: FromPath[int]) -> Response:
    row = await own_records.coupon(_member(request).member_id, coupon_id)
    return _page(request, "member_centre/coupon.html", {"c": row, "nav": "home"})


def _qr(text: str) -> str:
    return segno.make(text, error="m").svg_inline(scale=6, dark="#1c1917", light="#ffffff",
                                                  svgclass="m-qr", lineclass=None, border=2,
                                                  omitsize=True)


@get("/m/card", guards=[member_required])
async def member_card_page(request: Request) -> Response:
    member = _member(request)
    return _page(request, "member_centre/qr_card.html", {
        "qr_svg": _qr(qr_card.card_payload(member.member_no)), "nav": "card"})


# ---------------------------------------------------------------- settings and push


async def _settings_context(request: Request, saved: str | None = None) -> dict:
    member = _member(request)
    return {"consents": await membership.consents(member.member_id), "channels": CHANNELS,
            "devices": await member_device_count(member.member_id), "nav": "me", "saved": saved}


@get("/m/settings", guards=[member_required])
async def settings_page(request: Request) -> Response:
    return _page(request, "member_centre/settings.html", await _settings_context(request))


@post("/m/settings/consent", guards=[member_required])
async def set_consent(request: Request) -> Response:
    member = _member(request)
    form = await read_form(request, CONSENT_FIELDS)
    channel = form.text["channel"]
    if channel not in CHANNELS:
        raise ValidationFailed({"channel": "one of push, sms, email"})
    granted = form.values["granted"]
    await membership.set_consent(member.member_id, channel, granted, "member_page",
                                 f"member:{member.member_no}")
    if not is_fragment_request(request):
        return Redirect("/m/settings", status_code=303)
    return _page(request, "member_centre/settings.html", await _settings_context(request, channel),
                 block="consents", headers=toast_header(_("Saved.")))


@post("/m/push/subscriptions", guards=[member_required])
async def push_subscribe(request: Request) -> Response:
    member = _member(request)
    try:
        sub_id = await save_subscription(None, await json_body(request), _ua(request),
                                         member_id=member.member_id)
    except ValidationFailed as exc:
        return Response({"detail": "invalid input", "errors": field_errors(exc.errors)}, status_code=422)
    return Response({"id": sub_id, "devices": await member_device_count(member.member_id)},
                    status_code=201)


@delete("/m/push/subscriptions", guards=[member_required], status_code=200)
async def push_unsubscribe(request: Request) -> Response:
    member = _member(request)
    try:
        endpoint = (await json_body(request, required=False)).get("endpoint")
        if endpoint is not None and not isinstance(endpoint, str):
            raise ValidationFailed({"endpoint": "must be text"})
    except ValidationFailed as exc:
        return Response({"detail": "invalid input", "errors": field_errors(exc.errors)}, status_code=422)
    await remove_member_subscription(member.member_id, endpoint)
    return Response(b"", status_code=204,
                    headers={"X-Push-Devices": str(await member_device_count(member.member_id))})


# ---------------------------------------------------------------- PWA


@get("/m/offline", include_in_schema=False)
async def offline(request: Request) -> Response:
    """Precached by the service worker: what a member sees when a /m/ page cannot load."""
    response = render(request, "member_centre/offline.html", {"member": None})
    response.headers["Cache-Control"] = "no-cache"
    return response


@get("/m/manifest.webmanifest", include_in_schema=False)
async def manifest() -> File:
    return File(STATIC_DIR / "member" / "manifest.webmanifest", content_disposition_type="inline",
                media_type="application/manifest+json",
                headers={"Cache-Control": "public, max-age=3600"})


ROUTES = [
    login_page, send_code, verify, join, link_page, use_link, logout, home, points, rewards,
    reward, redeem, redemption, coupon_list, coupon_detail, member_card_page, settings_page,
    set_consent, push_subscribe, push_unsubscribe, offline, manifest,
]
