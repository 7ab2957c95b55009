"""The event bus across workers: every batch of events is handed to this worker's subscribers and published
on Redis, where every other worker hands it to its own. A WebSocket connected to one worker so receives the
events of an uplink another worker ingested, and of a gateway whose link another worker holds.

Each worker publishes whatever it has (it cannot know cheaply whether another worker has a subscriber of the
project): one Redis message per batch of a project, not per event."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from fieldstation.core.events import EventBus
from fieldstation.core.meters import Meters
from fieldstation.core.models import Event

log = logging.getLogger("fieldstation.events")
CHANNEL = "events:"
"""After the installation's namespace (assembly.py): Redis's channels are one space for the whole server,
whatever database number a client selected, so two installations sharing a Redis would otherwise hand
each other's project 1 events to their project 1 subscribers."""
RECONNECT_S = 1.0


class RedisEventBus(EventBus):
    def __init__(self, redis: Redis, namespace: str, meters: Meters | None = None) -> None:
        super().__init__(meters)
        self._redis = redis
        self._channel = f"{namespace}{CHANNEL}"
        self._origin = uuid.uuid4().hex
        self._outgoing: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue(maxsize=10_000)

    def subscribers(self, project_id: int) -> int:
        """Any worker may have some: events are always made."""
        return max(1, super().subscribers(project_id))

    def publish_many(self, project_id: int, published: list[Event]) -> None:
        super().publish_many(project_id, published)
        message = orjson.dumps(
            {"origin": self._origin, "events": [[e.action, e.payload] for e in published]}, default=str
        )
        try:
            self._outgoing.put_nowait((project_id, message))
        except asyncio.QueueFull:
            log.warning(
                "the shared event bus is behind: %d events of project %s not shared",
                len(published),
                project_id,
            )

    async def run(self) -> None:
        """Send this worker's events to the others, and hand theirs to this worker's subscribers."""
        await asyncio.gather(self._send(), self._receive())

    async def _send(self) -> None:
        while True:
            project_id, message = await self._outgoing.get()
            try:
                await self._redis.publish(f"{self._channel}{project_id}", message)
            except RedisError as exc:
                log.warning("events of project %s could not be shared: %s", project_id, exc)

    async def _receive(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.psubscribe(f"{self._channel}*")
                    async for message in pubsub.listen():
                        if message.get("type") == "pmessage":
                            self._received(message)
            except RedisError as exc:
                log.warning("the shared event bus lost Redis (%s); listening again in %s s", exc, RECONNECT_S)
                await asyncio.sleep(RECONNECT_S)

    def _received(self, message: dict[str, Any]) -> None:
        try:
            body = orjson.loads(message["data"])
            if body["origin"] == self._origin:
                return
            channel = message["channel"]
            project_id = int(
                (channel.decode() if isinstance(channel, bytes) else channel).removeprefix(self._channel)
            )
            events = [Event(project_id, action, payload) for action, payload in body["events"]]
        except (KeyError, ValueError, TypeError, orjson.JSONDecodeError):
            log.warning("a malformed message on the shared event bus was dropped")
            return
        EventBus.publish_many(self, project_id, events)
