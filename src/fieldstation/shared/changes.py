"""Change announcements across machines: the caches' invalidation (core/freshness.py) over Redis.

The processes of one machine share a file signal (store/change_signal.py), read with one `stat`. Workers on
several machines do not share a disk, so each announcement is also published on a Redis channel, and every
worker counts what it hears per topic. A stamp is the pair (the file's stamp, that count): reading it costs
a dict access, and either kind of change makes it differ.

A worker that loses Redis may miss announcements: when it listens again it counts one change on every
topic, so that its caches are emptied once rather than trusted."""

from __future__ import annotations

import asyncio
import logging
import os
from collections import defaultdict

from redis.asyncio import Redis
from redis.exceptions import RedisError

from fieldstation.core.freshness import TOPICS, ChangeSignal, SignalFor

log = logging.getLogger("fieldstation.changes")
CHANNEL = "changes"
"""After the installation's namespace, as the event bus's channels (shared/events.py)."""
RECONNECT_S = 1.0


class RedisChanges:
    def __init__(self, redis: Redis, namespace: str, local: SignalFor) -> None:
        self._redis = redis
        self._channel = f"{namespace}{CHANNEL}"
        self._local = local
        self._heard: dict[str, int] = defaultdict(int)
        self._sending: set[asyncio.Task[None]] = set()

    def signal(self, topic: str) -> ChangeSignal:
        return _Signal(self, topic, self._local(topic))

    def heard(self, topic: str) -> int:
        return self._heard[topic]

    def publish(self, topic: str) -> None:
        """Send the announcement without making the announcer wait for Redis; `flush` waits for it."""
        try:
            task = asyncio.get_running_loop().create_task(self._send(topic))
        except RuntimeError:  # no loop: nobody on another machine can be told; this machine's file is
            return
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, topic: str) -> None:
        try:
            await self._redis.publish(self._channel, f"{topic}:{os.getpid()}")
        except RedisError as exc:
            log.warning("a change of %s could not be announced to other machines: %s", topic, exc)

    async def flush(self) -> None:
        """Wait for the announcements still being sent (a CLI command before it exits)."""
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)

    async def run(self) -> None:
        """Listen to every worker's announcements, this one's included (one cache clear more, harmless)."""
        first = True
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    if not first:  # what was announced while this worker was not listening is unknown
                        for topic in TOPICS:
                            self._heard[topic] += 1
                    first = False
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._received(message["data"])
            except RedisError as exc:
                log.warning("change announcements lost Redis (%s); listening again in %s s", exc, RECONNECT_S)
                await asyncio.sleep(RECONNECT_S)

    def _received(self, data: bytes | str) -> None:
        text = data.decode(errors="replace") if isinstance(data, bytes) else data
        topic = text.partition(":")[0]
        if topic in TOPICS:
            self._heard[topic] += 1


class _Signal:
    def __init__(self, changes: RedisChanges, topic: str, local: ChangeSignal) -> None:
        self._changes = changes
        self._topic = topic
        self._local = local

    def stamp(self) -> object:
        return self._local.stamp(), self._changes.heard(self._topic)

    def announce(self) -> None:
        self._local.announce()
        self._changes.publish(self._topic)
