"""Errors the domain raises; the web layer maps each to a response in one place."""

from __future__ import annotations


class DomainError(Exception):
    pass


class NotFound(DomainError):
    """The record does not exist or the caller may not see it (both look the same)."""


class ValidationFailed(DomainError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class Conflict(DomainError):
    pass


class Forbidden(DomainError):
    pass


class RateLimited(DomainError):
    def __init__(self, retry_after: int):
        super().__init__(f"too many attempts; try again in {retry_after} s")
        self.retry_after = retry_after


class Message(str):
    """A message with values filled in: str() is the English text; `template` and `values`
    let the web layer translate the template and fill the values in again (db/ never
    translates). Built with %(name)s placeholders: Message("line %(line)s …", line="5")."""

    template: str
    values: dict

    def __new__(cls, template: str, **values):
        text = template % values if values else template
        obj = super().__new__(cls, text)
        obj.template = template
        obj.values = values
        return obj
