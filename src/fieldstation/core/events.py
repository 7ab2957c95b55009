"""The event bus: what happens in a project (data ingested, a device answered, a gateway logged), for live
subscribers such as the Instathings WebSocket. In one process it is a set of queues; the Redis variant for
several workers keeps this interface."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator

from fieldstation.core.models import Event

log = logging.getLogger("fieldstation.events")
QUEUE_LIMIT = 1_000
"""A subscriber that falls this far behind loses the oldest events, not the hub its memory."""


class EventBus:
    def __init__(self) -> None:
        self._queues: dict[int, set[asyncio.Queue[Event]]] = defaultdict(set)

    def publish(self, event: Event) -> None:
        for queue in self._queues.get(event.project_id, ()):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                log.warning("a subscriber of project %s is slow: an event was dropped", event.project_id)
            queue.put_nowait(event)

    @contextlib.contextmanager
    def subscribe(self, project_id: int) -> Iterator[AsyncIterator[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_LIMIT)
        self._queues[project_id].add(queue)

        async def events() -> AsyncIterator[Event]:
            while True:
                yield await queue.get()

        try:
            yield events()
        finally:
            self._queues[project_id].discard(queue)
            if not self._queues[project_id]:
                del self._queues[project_id]

    def subscribers(self, project_id: int) -> int:
        return len(self._queues.get(project_id, ()))
