"""Whose figures a report or the dashboard shows: the viewer's data scope, narrowed by an
optional channel and team. The one place a manager of team A is refused team B."""

from __future__ import annotations

from dataclasses import dataclass

from db.customers.scope import Scope
from db.errors import Forbidden, Message, ValidationFailed
from db.orders.tables import CHANNELS


@dataclass(frozen=True)
class ReportFilter:
    scope: Scope  # whose customers (and, for staff, whose work) the figures cover
    channel: str | None = None  # one of db.orders.tables.CHANNELS
    team_id: int | None = None  # narrows "all" to one team; for a manager it is their own

    def query(self) -> dict[str, str]:
        """The URL parameters that name the filter (`channel`, `team`)."""
        out = {}
        if self.channel:
            out["channel"] = self.channel
        if self.team_id is not None:
            out["team"] = str(self.team_id)
        return out

    @property
    def customer_scope(self) -> Scope:
        """The scope with the team narrowing applied: what customer queries filter on."""
        if self.team_id is not None and self.scope.kind == "all":
            return Scope("team", self.scope.user_id, self.team_id)
        return self.scope


def make_filter(scope: Scope, channel: str | None = None, team: str | int | None = None
                ) -> ReportFilter:
    """Validates the URL's or the CLI's `channel` and `team`. Raises ValidationFailed for a
    value that is not a channel or a team id, and Forbidden when the viewer's scope does not
    cover the team asked for (a manager or staff member asking for another team)."""
    errors: dict[str, str] = {}
    channel = (channel or "").strip() or None
    if channel is not None and channel not in CHANNELS:
        errors["channel"] = Message("one of %(channels)s", channels=", ".join(CHANNELS))
    team_id = None
    if team is not None and str(team).strip():
        text = str(team).strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 12:  # "²" is a digit to str
            errors["team"] = Message("a team's number")
        else:
            team_id = int(text)
    if errors:
        raise ValidationFailed(errors)
    if team_id is not None and scope.kind != "all" and team_id != scope.team_id:
        raise Forbidden("that team's figures are not yours to see")
    if scope.kind == "team" and team_id is None:
        team_id = scope.team_id
    return ReportFilter(scope, channel, team_id if scope.kind != "own" else None)
