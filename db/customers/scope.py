"""Who may see which customers: the one place data scopes are decided.

admin (and API keys) see all; a manager sees their team; staff see the customers they own
and the unassigned customers of their team. Every query that touches customers takes a
Scope and adds its clause: an id in a URL is never trusted on its own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    kind: str  # "all" | "team" | "own"
    user_id: int | None = None
    team_id: int | None = None

    @classmethod
    def everything(cls) -> "Scope":
        return cls("all")

    @classmethod
    def for_staff(cls, role: str, user_id: int, team_id: int | None) -> "Scope":
        if role == "admin":
            return cls("all", user_id, team_id)
        if role == "manager":
            return cls("team", user_id, team_id)
        return cls("own", user_id, team_id)

    def clause(self, alias: str = "c") -> tuple[str, list]:
        """A SQL condition with `{}` placeholders (Piccolo QueryString style) and its args."""
        if self.kind == "all":
            return "1 = 1", []
        if self.kind == "team":
            if self.team_id is None:
                return "1 = 0", []
            return f"{alias}.team = {{}}", [self.team_id]
        if self.team_id is None:
            return f"{alias}.owner = {{}}", [self.user_id]
        return (
            f"({alias}.owner = {{}} OR ({alias}.owner IS NULL AND {alias}.team = {{}}))",
            [self.user_id, self.team_id],
        )

    def allows(self, owner_id: int | None, team_id: int | None) -> bool:
        if self.kind == "all":
            return True
        if self.kind == "team":
            return self.team_id is not None and team_id == self.team_id
        return owner_id == self.user_id or (
            owner_id is None and self.team_id is not None and team_id == self.team_id
        )
