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


Limit = float | tuple[float, int]
"""Seconds between requests, or (seconds between requests, burst): a burst of n lets n requests through at
once, then one per interval."""


class MemoryRateLimiter:
    """For one process. The theoretical arrival time per (key, group) is all the state there is."""

    def __init__(self, policy: Mapping[str, Limit], clock: Clock) -> None:
        self._limits: dict[str, tuple[int, int]] = {}
        for group, limit in policy.items():
            seconds, burst = limit if isinstance(limit, tuple) else (limit, 1)
            interval = int(seconds * MICROS)
            self._limits[group] = (interval, interval * (max(1, burst) - 1))
        self._clock = clock
        self._allowed_at: dict[tuple[str, str], int] = {}
        self._lock = asyncio.Lock()

    async def hit(self, key: str, group: str) -> None:
        interval, tolerance = self._limits.get(group, (0, 0))
        if interval <= 0:
            return
        now = self._clock.now_us()
        cell = (key, group)
        async with self._lock:
            arrival = max(self._allowed_at.get(cell, 0), now)
            if arrival - tolerance > now:
                raise RateLimited(max(1, math.ceil((arrival - tolerance - now) / MICROS)))
            self._allowed_at[cell] = arrival + interval
            if len(self._allowed_at) > 100_000:
                self._forget_expired(now)

    def _forget_expired(self, now: int) -> None:
        for cell in [cell for cell, at in self._allowed_at.items() if at <= now]:
            del self._allowed_at[cell]
