"""The event bus: what happens in a project (data ingested, a device answered, a gateway logged), for live
subscribers such as the Instathings WebSocket. In one process it is a set of queues; the Redis variant for
several workers keeps this interface.

Publishing never waits for a subscriber. Each subscriber has a bounded queue; one that falls further behind
than its queue is dropped from the bus (its stream raises `SubscriberTooSlow`, so its session can close and
say why) rather than slowing ingest or the other subscribers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator

from fieldstation.core.models import Event

log = logging.getLogger("fieldstation.events")
QUEUE_LIMIT = 1_000
"""Events a subscriber may have waiting; past this it is too slow, and is let go."""


class SubscriberTooSlow(Exception):
    """The subscriber fell more than `QUEUE_LIMIT` events behind and was let go."""


class _Subscription:
    __slots__ = ("overflowed", "queue")

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_LIMIT)
        self.overflowed = False
        """Set only while the queue is full, so never while its reader waits on an empty queue."""


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: dict[int, set[_Subscription]] = defaultdict(set)

    def publish(self, event: Event) -> None:
        for subscription in list(self._subscriptions.get(event.project_id, ())):
            if subscription.queue.full():
                log.warning(
                    "a subscriber of project %s fell %d events behind and is let go",
                    event.project_id,
                    QUEUE_LIMIT,
                )
                self._forget(event.project_id, subscription)
                subscription.overflowed = True
                continue
            subscription.queue.put_nowait(event)

    @contextlib.contextmanager
    def subscribe(self, project_id: int) -> Iterator[AsyncIterator[Event]]:
        subscription = _Subscription()
        self._subscriptions[project_id].add(subscription)

        async def events() -> AsyncIterator[Event]:
            while not subscription.overflowed:
                yield await subscription.queue.get()
            raise SubscriberTooSlow(f"fell more than {QUEUE_LIMIT} events behind")

        try:
            yield events()
        finally:
            self._forget(project_id, subscription)

    def subscribers(self, project_id: int) -> int:
        return len(self._subscriptions.get(project_id, ()))

    def _forget(self, project_id: int, subscription: _Subscription) -> None:
        subscribers = self._subscriptions.get(project_id)
        if subscribers is None:
            return
        subscribers.discard(subscription)
        if not subscribers:
            del self._subscriptions[project_id]
