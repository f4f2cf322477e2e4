"""What a batch of an import is written with: who runs it, what it did, and the set-based SQL
pieces the customer and order writers share."""

from __future__ import annotations

from dataclasses import dataclass, field

from db.customers.scope import Scope
from db.engine import is_sqlite

INSERT_CHUNK = 500  # rows per multi-row INSERT (parameters stay far below both engines' limits)


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0

    def add(self, other: "Counts") -> None:
        for name in ("created", "updated", "unchanged", "rejected"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Importer:
    """Who runs the import: the scope existing customers must be in, and the team new
    customers get (a manager's team; none for an admin or the command line)."""

    scope: Scope
    team_id: int | None
    actor_id: int | None = None
    actor: str = "cli"


@dataclass
class BatchResult:
    counts: Counts = field(default_factory=Counts)
    rejects: list[tuple[list, str]] = field(default_factory=list)  # (cells, reason)
    affected: set[int] = field(default_factory=set)
    order_ids: list[int] = field(default_factory=list)  # orders written or changed


def marks(n: int) -> str:
    return ", ".join("{}" for _ in range(n))


def rows_source(rows: list[list], types: tuple[str, ...]) -> tuple[str, list]:
    """The rows as an INSERT's source: one array per column through unnest() on PostgreSQL
    (a short statement, planned fast, whatever the batch size), VALUES lists on SQLite."""
    if is_sqlite():
        group = "(" + marks(len(types)) + ")"
        return "VALUES " + ", ".join(group for _ in rows), [v for row in rows for v in row]
    arrays = ", ".join(f"{{}}::{t}[]" for t in types)
    return f"SELECT * FROM unnest({arrays})", [list(column) for column in zip(*rows)]
