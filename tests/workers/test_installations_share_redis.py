"""Two installations may share a Redis server (each its own database number, or even the same): Redis's
pub/sub channels ignore the database, so each installation's channels and keys carry its own namespace.
Project 1 of one never sees the events of project 1 of the other, nor spends its rate limits."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from redis.asyncio import Redis

from fieldstation.core.clock import SystemClock
from fieldstation.core.errors import RateLimited
from fieldstation.core.models import Event
from fieldstation.shared.events import RedisEventBus
from fieldstation.shared.ratelimit import RedisRateLimiter
from tests.backends import SharedServers


@pytest.fixture
def redis_url(servers: SharedServers) -> str:
    return servers.environment()["FIELDSTATION_REDIS_URL"]


def test_events_stay_in_their_installation(redis_url: str) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        redis = Redis.from_url(redis_url)
        ours, same_install, theirs = (
            RedisEventBus(redis, "fieldstation:a:"),
            RedisEventBus(redis, "fieldstation:a:"),
            RedisEventBus(redis, "fieldstation:b:"),
        )
        running = [asyncio.create_task(bus.run()) for bus in (ours, same_install, theirs)]
        received: list[str] = []
        try:
            await asyncio.sleep(0.3)  # subscribed
            with ours.subscribe(1) as events:

                async def listen() -> None:
                    async for batch in events:
                        received.extend(str(event.payload["n"]) for event in batch)

                listener = asyncio.create_task(listen())
                theirs.publish_many(1, [Event(1, "data", {"n": "theirs"})])
                same_install.publish_many(1, [Event(1, "data", {"n": "ours"})])
                await asyncio.sleep(0.5)
                listener.cancel()
            return received, ["ours"]
        finally:
            for task in running:
                task.cancel()
            with contextlib.suppress(Exception):
                await redis.aclose()

    received, expected = asyncio.run(scenario())
    assert received == expected


def test_rate_limits_stay_in_their_installation(redis_url: str) -> None:
    async def scenario() -> None:
        redis = Redis.from_url(redis_url)
        try:
            policy = {"group": 60.0}
            ours = RedisRateLimiter(redis, "fieldstation:a:", policy, SystemClock())
            theirs = RedisRateLimiter(redis, "fieldstation:b:", policy, SystemClock())
            await ours.hit("1", "group")
            await theirs.hit("1", "group")  # credential 1 of another installation: its own budget
            with pytest.raises(RateLimited):
                await ours.hit("1", "group")
        finally:
            await redis.aclose()

    asyncio.run(scenario())
