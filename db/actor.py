"""Who is making a change: every domain's writes take one, for the audit log."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Actor:
    """Who is making a change, for the audit log."""

    id: int | None
    label: str
    ip: str = ""
