"""The JSON API under /api/v1, for shop platforms and other systems (Bearer API keys): one
controller per domain, in the order the OpenAPI docs list them."""

from __future__ import annotations

from web.api.customers import ConsentsApi, CustomersApi
from web.api.followups import FollowUpsApi
from web.api.members import MembersApi
from web.api.orders import OrdersApi

API_CONTROLLERS = [CustomersApi, OrdersApi, MembersApi, ConsentsApi, FollowUpsApi]
