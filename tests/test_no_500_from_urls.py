"""No input in a URL produces a 500 (issue 11): every GET route of the app, signed in as an
admin and with an API key, is asked for with odd path ids and odd values in every query
parameter its handler reads. Each answer must be a page or a 4xx, never a server error."""

from __future__ import annotations

import inspect
from urllib.parse import quote

import pytest

from db.actor import Actor
from db.customers.profile import parse_customer
from db.customers.service import upsert_customer
from db.staff.accounts import create_api_key

ODD_IDS = ["0", "99999999999999999999999", "2147483648", "9223372036854775808"]
ODD_VALUES = ["x\x00y", "\x01\x1f", "99999999999999999999999", "-1", "1e1000000", "２",
              "'\"<>", "\u3000", "%ZZ", "a" * 3000, "", "/\t/evil.example", "0001-01-01"]
SKIP = {"/static/{file_path:path}", "/api/docs/{path:str}"}


def _get_routes(app):
    for route in app.routes:
        if "GET" not in getattr(route, "methods", ()) or route.path in SKIP:
            continue
        handler = route.route_handler_map["GET"][0]
        signature = inspect.signature(handler.fn)
        path_params = set(route.path_parameters)
        query = [name for name in signature.parameters
                 if name not in path_params and name not in {"request", "data"}]
        yield route.path, route.path_parameters, query


def _fill(path: str, params: dict, value: str) -> str:
    for name, definition in params.items():
        path = path.replace("{" + definition.full + "}", quote(value, safe=""))
    return path


@pytest.fixture
async def odd_clients(signed_in):
    await upsert_customer(parse_customer({"name": "王芳", "mobile": "13812345678"}), Actor(None, "t"))
    admin = await signed_in("boss", role="admin", team=None)
    key = await create_api_key("fuzz")
    return admin, {"Authorization": f"Bearer {key}"}


async def test_no_odd_url_gives_a_server_error(app, odd_clients, member_page_client):
    admin, api_headers = odd_clients
    member = await member_page_client("李雷", "13900001111")
    failures = []

    async def ask(url: str) -> None:
        headers = api_headers if url.startswith("/api/") else {}
        client = member if url.startswith("/m/") or url == "/m" else admin
        response = await client.get(url, headers=headers, follow_redirects=False)
        if response.status_code >= 500:
            failures.append(f"{response.status_code} {url[:120]}")

    for path, params, query in _get_routes(app):
        for odd_id in ODD_IDS if params else []:
            await ask(_fill(path, params, odd_id))
        base = _fill(path, params, "1")
        for value in ODD_VALUES if query else []:
            await ask(base + "?" + "&".join(f"{name}={quote(value, safe='')}" for name in query))
    assert not failures, "\n".join(failures)
