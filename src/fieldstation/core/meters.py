"""What the hub counts for its operators (`GET /metrics`): the core says what happened, an outer module
(`fieldstation.metrics`) keeps the numbers. The core imports no metrics library."""

from __future__ import annotations

from typing import Protocol

from fieldstation.core.errors import RateLimited
from fieldstation.core.ratelimit import RateLimiter


class Meters(Protocol):
    def uplinks(self, stored: int, duplicates: int, failed: int) -> None: ...

    def batch(self, size: int, seconds: float) -> None:
        """A group commit: its uplinks and how long its write took."""

    def refused(self, source: str, reason: str) -> None:
        """An uplink refused before it was stored (authentication, its body, its values)."""

    def rate_limited(self, group: str) -> None: ...

    def subscribers(self, delta: int) -> None:
        """Live subscribers (WebSocket sessions) came or went."""

    def gateway_link(self, gateway: str, up: bool) -> None: ...

    def outbox(self, gateway: str, pending: int) -> None:
        """What a gateway says it has waiting for the hub."""


class NoMeters:
    def uplinks(self, stored: int, duplicates: int, failed: int) -> None:
        pass

    def batch(self, size: int, seconds: float) -> None:
        pass

    def refused(self, source: str, reason: str) -> None:
        pass

    def rate_limited(self, group: str) -> None:
        pass

    def subscribers(self, delta: int) -> None:
        pass

    def gateway_link(self, gateway: str, up: bool) -> None:
        pass

    def outbox(self, gateway: str, pending: int) -> None:
        pass


class MeteredLimiter:
    """A rate limiter that counts what it refuses."""

    def __init__(self, limiter: RateLimiter, meters: Meters) -> None:
        self._limiter = limiter
        self._meters = meters

    async def hit(self, key: str, group: str) -> None:
        try:
            await self._limiter.hit(key, group)
        except RateLimited:
            self._meters.rate_limited(group)
            raise
