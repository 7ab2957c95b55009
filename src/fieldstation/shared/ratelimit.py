"""The vendors' rate limits across workers: the same GCRA as `core.ratelimit.MemoryRateLimiter`, decided by
one Lua script per request in Redis, so that 50 concurrent calls spread over any number of workers admit
exactly what one process would.

The time is the hub's clock, passed to the script: the workers' clocks agree to within milliseconds (NTP)
where the limits are seconds apart, and a clock the tests control drives this limiter as it drives the
in-process one (the seed's limits are checked on both, with a fake clock)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from redis.asyncio import Redis
from redis.exceptions import RedisError

from fieldstation.core.clock import MICROS, Clock
from fieldstation.core.errors import RateLimited, StoreUnavailable
from fieldstation.core.ratelimit import Limit

PREFIX = "rate:"
"""After the installation's namespace (assembly.py): credential ids of two installations that share a
Redis database are the same numbers."""
GCRA = """
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local arrival = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
if arrival - tolerance > now then
  return arrival - tolerance - now
end
local next_arrival = arrival + interval
local keep_ms = math.ceil((next_arrival - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', next_arrival), 'PX', keep_ms)
return 0
"""
"""Returns 0 when the request is allowed, else the microseconds to wait."""


class RedisRateLimiter:
    def __init__(self, redis: Redis, namespace: str, policy: Mapping[str, Limit], clock: Clock) -> None:
        self._redis = redis
        self._prefix = f"{namespace}{PREFIX}"
        self._clock = clock
        self._limits: dict[str, tuple[int, int]] = {}
        for group, limit in policy.items():
            seconds, burst = limit if isinstance(limit, tuple) else (limit, 1)
            interval = int(seconds * MICROS)
            self._limits[group] = (interval, interval * (max(1, burst) - 1))
        self._script = redis.register_script(GCRA)

    async def hit(self, key: str, group: str) -> None:
        interval, tolerance = self._limits.get(group, (0, 0))
        if interval <= 0:
            return
        try:
            wait_us = int(
                await self._script(
                    keys=[f"{self._prefix}{group}:{key}"], args=[interval, tolerance, self._clock.now_us()]
                )
            )
        except RedisError as exc:
            raise StoreUnavailable(f"the rate limits' Redis cannot be reached: {exc}") from exc
        if wait_us > 0:
            raise RateLimited(max(1, math.ceil(wait_us / MICROS)))
