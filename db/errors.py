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
