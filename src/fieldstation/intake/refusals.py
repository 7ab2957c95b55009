"""Why a way in refused a delivery, in no API's words: the API that serves it renders a `Refused`."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from starlette.responses import Response


class Refusal(StrEnum):
    MALFORMED = "malformed"
    """The body is not what the sender sends (400); `detail` says what is wrong."""
    UNAUTHORIZED = "unauthorized"
    """Missing or wrong credentials (401)."""
    BAD_SIGNATURE = "bad_signature"
    """A delivery that must be signed is not, or wrongly (401); `detail` says which."""
    RATE_LIMITED = "rate_limited"
    """Too many password guesses (429); `retry_after_s` says when to try again."""
    UNKNOWN_DEVICE = "unknown_device"
    """The device is not the project's, and the project does not register devices itself (404)."""
    NOT_FOUND = "not_found"
    """What the delivery refers to (a command) does not exist (404)."""
    UNAVAILABLE = "unavailable"
    """The store cannot be reached (503): nothing was acknowledged, the sender should retry."""


class Refused(Exception):
    def __init__(self, why: Refusal, detail: str = "", *, retry_after_s: int = 0) -> None:
        super().__init__(f"{why}: {detail}")
        self.why = why
        self.detail = detail
        self.retry_after_s = retry_after_s


RefusalRenderer = Callable[[Refused], Response]
