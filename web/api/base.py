"""What every JSON API controller under /api/v1 shares: the path, the API-key guard, the tag of
the OpenAPI docs, and reading a request body into only the fields the caller sent.

Request bodies are described with msgspec structs for the OpenAPI docs; types are kept
loose on purpose so that every field's problem is reported by the domain's validation as a
422 with a message per field, never as a half-written record.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller

from web.core.auth import api_key_required


def plain(struct: msgspec.Struct) -> dict[str, Any]:
    """Only the fields the caller sent (unset optional fields keep the stored value)."""
    return {k: v for k, v in msgspec.to_builtins(struct).items() if v is not None}


class ApiController(Controller):
    """The base of the API's controllers (one per domain, web/api/routes.py lists them)."""

    path = "/api/v1"
    guards = [api_key_required]
    tags = ["v1"]
