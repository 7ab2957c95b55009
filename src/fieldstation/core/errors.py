"""Domain errors. Each dialect maps them to its own status codes and error bodies."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the core raises on purpose."""


class NotFound(DomainError):
    pass


class AlreadyExists(DomainError):
    pass


class InvalidInput(DomainError):
    pass


class Unauthorized(DomainError):
    pass


class RateLimited(DomainError):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"rate limit reached, retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class StoreUnavailable(DomainError):
    """The store cannot be reached (database down, locked past its timeout, disk gone). Each dialect renders
    it in its own words, with a retry hint; nothing of the driver's exception reaches a dialect."""
