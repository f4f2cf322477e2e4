"""The 360 card: the one place that knows its sections, reads them and renders them.

The card (customers/detail.html) is the customer's own part (header, figures, profile,
timeline and the log / tags / edit sheets, read by db/customers/card.customer_page) plus
the sections in SECTIONS, each with the context key its template reads, the template that holds
its blocks and how it is read. Every way the card is shown goes through here: the whole card
(`full`), one block for an HTMX request (`block`), and the refresh after an action (`refresh`:
the swap target and the parts the change touched, out of band). Controllers of other domains
(web/members/card_section.py) use these; this module imports none of them, only db/ (each
section's reader is in its domain), so there is no cycle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from itertools import groupby
from zoneinfo import ZoneInfo

from jinja2_fragments import render_blocks
from litestar import MediaType, Request, Response

from db.customers import card as card_reads
from db.customers import service
from db.customers.scope import Scope
from db.engine import reading
from db.customers.tables import INTERACTION_KINDS, INTERACTION_OUTCOMES
from db.followups import interactions
from db.followups import lists as followup_lists
from db.members import card_section as member_section
from db.pipeline import board as pipeline_board
from db.settings import get_settings
from web.core.auth import scope_of
from web.core.templating import VARY, base_context, env, render

CARD = "customers/detail.html"
FOLLOW_UP_CHIPS = interactions.FOLLOW_UP_CHIPS


@dataclass(frozen=True)
class Section:
    key: str  # the context key its template reads
    template: str  # where its blocks are
    blocks: tuple[str, ...]  # the blocks an HTMX request may render or refresh
    read: Callable[[Scope, int], Awaitable[object]]  # (scope, customer_id) -> its data


SECTIONS = (
    Section("follow_ups", CARD, ("follow_ups",),
            lambda scope, customer_id: followup_lists.for_customer(customer_id)),
    Section("pipeline_section", "pipeline/_card_section.html", (),  # customer_page checked it
            lambda scope, customer_id: pipeline_board.card_section(
                scope, customer_id, customer_checked=True)),
    # The blocks HTMX requests render or refresh alone (see the template's header).
    Section("member_section", "members/_card_section.html",
            ("member_section", "member_sheets", "adjust_form", "issue_form", "use_form", "join_form",
             "consent_form"),
            lambda scope, customer_id: member_section.read(customer_id)),
)
_BY_KEY = {s.key: s for s in SECTIONS}
_TEMPLATE_OF = {block: s.template for s in SECTIONS for block in s.blocks}


def today() -> dt.date:
    """Today in the shop's time zone: "tomorrow" means the shop's tomorrow."""
    return dt.datetime.now(ZoneInfo(get_settings().timezone)).date()


def context(**extra) -> dict:
    """What every part of the card template may use, with empty forms by default."""
    day = today()
    return {
        "nav": "customers",
        "kinds": INTERACTION_KINDS,
        "outcomes": [o for o in INTERACTION_OUTCOMES if o],
        "chips": [(n, day + dt.timedelta(days=n)) for n in FOLLOW_UP_CHIPS],  # (days, date)
        "today": day,
        "errors": {},
        "values": {},
        "sheet": None,  # the sheet rendered open: "log" | "tags" | "edit" | "join" | "adjust" | …
        "tag_choices": [],
        "coupon": None,  # the coupon the "use" sheet is for
        "oob": [],
        **extra,
    }


async def section(request: Request, key: str, customer_id: int) -> object:
    """One section's data, read as the card reads it."""
    return await _BY_KEY[key].read(scope_of(request), customer_id)


def _with_section(page: dict, key: str, data: object) -> None:
    page[key] = data
    if key == "member_section" and data["member"]:  # a member's points and tier fill the figures
        page["figures"] = {**page["figures"], "points_balance": data["summary"].balance,
                           "tier": data["summary"].tier}


async def page(request: Request, customer_id: int, keys: tuple[str, ...] | None = None) -> dict:
    """The customer's part of the card and its sections (all, or those in `keys`)."""
    scope = scope_of(request)
    async with reading():  # every section on one connection (one transaction on PostgreSQL)
        found = await card_reads.customer_page(scope, customer_id, request.scope["auth"].user.id)
        for s in SECTIONS:
            if keys is None or s.key in keys:
                _with_section(found, s.key, await s.read(scope, customer_id))
    return found


async def full(request: Request, customer_id: int, **extra) -> Response:
    """The whole card, optionally with one sheet open and its form's values and errors."""
    found = await page(request, customer_id)
    sheet = extra.get("sheet")
    if sheet == "tags":
        scope = scope_of(request)
        found["tag_choices"] = (await card_reads.customer_tags(scope, customer_id, True))["tag_choices"]
    if sheet == "edit":
        found.update(await service.assignable(scope_of(request)))
    return render(request, CARD, context(**{**found, **extra}))


def block(request: Request, name: str, ctx: dict, status: int = 200) -> Response:
    """One block of the card for an HTMX request (the whole template otherwise), from the
    template that holds it."""
    return render(request, _TEMPLATE_OF.get(name, CARD), ctx, block=name, status=status)


def refresh(request: Request, ctx: dict, blocks: list[str], headers: dict | None = None) -> Response:
    """Several blocks in one HTMX response: the first is the swap target, the others carry
    hx-swap-oob and land where their ids are on the card. Each comes from its own template."""
    full_ctx = base_context(request) | ctx | {"oob": blocks[1:]}
    html = "".join(
        render_blocks(env, template, list(names), full_ctx)
        for template, names in groupby(blocks, key=lambda b: _TEMPLATE_OF.get(b, CARD)))
    return Response(html, status_code=200, media_type=MediaType.HTML,
                    headers={**VARY, **(headers or {})})
