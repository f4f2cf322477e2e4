"""How values arrive: ids in URLs, query strings and form fields, and the one place request
bodies (forms and JSON) are read (a form's fields are then read by web/core/forms.py), which refuses text with control characters and answers a
malformed, too deeply nested or out-of-range JSON body with a 422 and field errors."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers import BaseRouteHandler
from litestar.plugins.htmx import HTMXRequest
from litestar.datastructures import FormMultiDict
from litestar.types import Empty

from db.engine import parse_id
from db.errors import ValidationFailed
from db.text import CONTROL_MESSAGE, control_paths, depth, has_control

__all__ = ["CrmRequest", "FormRefused", "MAX_JSON_DEPTH", "ids_in_range", "parse_id"]

MAX_JSON_DEPTH = 32  # our bodies nest three levels; anything deeper is not for us
_JSON = msgspec.json.Decoder()


async def ids_in_range(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """A guard on every route: `{name:int}` path parameters are ids, and one no id column
    can hold (40 digits, 2147483648, which the database driver would refuse with an error)
    is a 404 like any id that does not exist."""
    for value in connection.path_params.values():
        if type(value) is int and parse_id(str(value)) is None:
            raise NotFoundException()


class FormRefused(ValidationFailed):
    """A form field held control characters: nothing was read, so nothing is stored."""


def check_form(form: FormMultiDict) -> None:
    bad = {str(key): CONTROL_MESSAGE for key, value in form.multi_items()
           if has_control(str(key)) or (isinstance(value, str) and has_control(value))}
    if bad:
        raise FormRefused(bad)


def decode_json(body: bytes) -> Any:
    """A JSON body, or ValidationFailed({"body" or a field: message}) (422 in the API)."""
    try:
        value = _JSON.decode(body or b"null")
    except RecursionError:
        raise ValidationFailed({"body": "JSON nested too deeply"}) from None
    except msgspec.ValidationError:  # an integer beyond 64 bits or a number beyond a double
        raise ValidationFailed({"body": "a number out of range"}) from None
    except msgspec.DecodeError:
        raise ValidationFailed({"body": "not valid JSON"}) from None
    if depth(value) > MAX_JSON_DEPTH:
        raise ValidationFailed({"body": "JSON nested too deeply"})
    paths = control_paths(value)
    if paths:
        raise ValidationFailed({path: CONTROL_MESSAGE for path in paths})
    return value


class CrmRequest(HTMXRequest):
    """The app's request class (Litestar(request_class=...)): every handler, guard and
    `data: JSONBody[...]` reads forms and JSON through these two methods. An HTMXRequest
    (litestar-htmx): `request.htmx` says what the HTMX client sent (HX-* headers)."""

    async def form(self) -> FormMultiDict:
        form = await super().form()
        check_form(form)
        return form

    async def json(self) -> Any:
        if self._json is Empty:
            state = self._connection_state
            if state.json is not Empty:
                self._json = state.json
            else:
                self._json = state.json = decode_json(await self.body())
        return self._json


async def json_body(request: Request, required: bool = True) -> dict:
    """A JSON object from the request body (ValidationFailed otherwise); {} for an empty
    optional body. The staff and the member push endpoints share it."""
    body = await request.body()
    if not body.strip() and not required:
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed({"body": "must be JSON"}) from None
    if not isinstance(data, dict):
        raise ValidationFailed({"body": "must be JSON"})
    return data
