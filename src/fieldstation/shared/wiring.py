"""The workers' shared services over one Redis client: rate limits, the event bus, the caches' change
announcements. Imported only when `FIELDSTATION_REDIS_URL` is set: the Redis client library takes an eighth
of a second to import, which every `fieldstation` command would otherwise pay."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis

from fieldstation.core.clock import Clock
from fieldstation.core.freshness import SignalFor
from fieldstation.core.meters import Meters
from fieldstation.core.ratelimit import Limit
from fieldstation.shared.changes import RedisChanges
from fieldstation.shared.events import RedisEventBus
from fieldstation.shared.ratelimit import RedisRateLimiter

REDIS_CONNECTIONS = 64
REDIS_WAIT_S = 5.0


def over_redis(
    url: str, namespace: str, meters: Meters, policy: dict[str, Limit], clock: Clock, changes: SignalFor
) -> tuple[dict[str, Any], SignalFor, Callable[[], Awaitable[None]]]:
    """The hub's shared services (for `build_hub`), the change signals that also listen to other machines,
    and what closes them."""
    # Blocking: a burst of requests waits for a connection (redis-py's default pool refuses past 100, which a
    # burst of 300 new clients made into 503s).
    pool = BlockingConnectionPool.from_url(url, max_connections=REDIS_CONNECTIONS, timeout=REDIS_WAIT_S)
    redis = Redis(connection_pool=pool)
    bus = RedisEventBus(redis, namespace, meters)
    across_machines = RedisChanges(redis, namespace, changes)
    shared = {
        "limiter": RedisRateLimiter(redis, namespace, policy, clock),
        "events": bus,
        "background": (bus.run, across_machines.run),
        "readiness": (("redis", redis.ping),),
    }

    async def close() -> None:
        await across_machines.flush()
        await redis.aclose()

    return shared, across_machines.signal, close
