"""Web Push for staff: subscribe this browser, forget it, send a test (the account page in
web/staff/account.py lists the devices). The browser posts its PushSubscription as JSON with
the X-CSRFToken header."""

from __future__ import annotations

from litestar import Request, Response, delete, post
from litestar.response import Redirect

from db.errors import ValidationFailed
from db.push.outbox import enqueue, wake
from db.push.subscriptions import devices, remove_subscription, save_subscription
from web.core.auth import staff_required
from web.core.params import json_body
from web.core.i18n import field_errors
from web.core.i18n import gettext as _

TEST_TTL_S = 600  # a test nobody sees within ten minutes is no longer worth showing


def _invalid(errors: dict[str, str]) -> Response:
    # The API's 422 shape, with the messages in the person's language (the page shows them).
    return Response({"detail": "invalid input", "errors": field_errors(errors)}, status_code=422)


@post("/push/subscriptions", guards=[staff_required])
async def subscribe(request: Request) -> Response:
    user = request.scope["auth"].user
    try:
        data = await json_body(request)
        sub_id = await save_subscription(user.id, data, request.headers.get("user-agent", ""))
    except ValidationFailed as exc:
        return _invalid(exc.errors)
    count = len(await devices(user.id))
    return Response({"id": sub_id, "devices": count}, status_code=201)


@delete("/push/subscriptions", guards=[staff_required], status_code=200)  # 204 or 422, set below
async def unsubscribe(request: Request) -> Response:
    """Body {"endpoint": …}: forget that device; no body: all of this person's devices."""
    user = request.scope["auth"].user
    try:
        endpoint = (await json_body(request, required=False)).get("endpoint")
        if endpoint is not None and not isinstance(endpoint, str):
            raise ValidationFailed({"endpoint": "must be text"})
    except ValidationFailed as exc:
        return _invalid(exc.errors)
    await remove_subscription(user.id, endpoint)
    count = len(await devices(user.id))
    return Response(b"", status_code=204, headers={"X-Push-Devices": str(count)})


@post("/push/test", guards=[staff_required])
async def send_test(request: Request) -> Response:
    """A notification to every device of the caller. A form post comes back to the account
    page with a message; a script asking for JSON gets the count."""
    user = request.scope["auth"].user
    payload = {"title": _("Test notification"),
               "body": _("Reminders will look like this on your phone."), "url": "/account"}
    queued = await enqueue(user.id, payload, urgency="high", ttl=TEST_TTL_S,
                           ref=f"test:{user.id}")
    wake()  # enqueue committed on its own: send now, not at the next poll
    if "application/json" in request.headers.get("accept", ""):
        return Response({"queued": queued}, status_code=202)
    return Redirect(f"/account?msg={'push_test' if queued else 'push_none'}", status_code=303)


ROUTES = [subscribe, unsubscribe, send_test]
