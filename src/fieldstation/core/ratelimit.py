"""Rate limits of the "one request every N seconds per key" kind that the vendors' fair-usage tables state.

A policy maps a group name to its interval; endpoints that share a counter share a group. The limiter is
a generic cell rate algorithm (GCRA) with a burst of one, which for such a table is exact: a request is
allowed when the previous allowed request of the same key and group is at least the interval old.

`limits` (named in DESIGN.md) reads `time.time()` inside its storages, so limits cannot be tested with an
injected clock; this limiter takes the hub's clock (docs/decisions.md).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from typing import Protocol

from fieldstation.core.clock import MICROS, Clock
from fieldstation.core.errors import RateLimited


class RateLimiter(Protocol):
    async def hit(self, key: str, group: str) -> None:
        """Count one request of `key` in `group`; raise RateLimited when the policy rejects it."""


class MemoryRateLimiter:
    """For one process. The next allowed time per (key, group) is all the state there is."""

    def __init__(self, policy: Mapping[str, float], clock: Clock) -> None:
        self._intervals_us = {group: int(seconds * MICROS) for group, seconds in policy.items()}
        self._clock = clock
        self._allowed_at: dict[tuple[str, str], int] = {}
        self._lock = asyncio.Lock()

    async def hit(self, key: str, group: str) -> None:
        interval = self._intervals_us.get(group, 0)
        if interval <= 0:
            return
        now = self._clock.now_us()
        cell = (key, group)
        async with self._lock:
            allowed_at = self._allowed_at.get(cell, 0)
            if now < allowed_at:
                raise RateLimited(max(1, math.ceil((allowed_at - now) / MICROS)))
            self._allowed_at[cell] = now + interval
            if len(self._allowed_at) > 100_000:
                self._forget_expired(now)

    def _forget_expired(self, now: int) -> None:
        for cell in [cell for cell, at in self._allowed_at.items() if at <= now]:
            del self._allowed_at[cell]
