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
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Iterator

from fieldstation.core.meters import Meters, NoMeters
from fieldstation.core.models import Event

log = logging.getLogger("fieldstation.events")
QUEUE_LIMIT = 1_000
"""Events a subscriber may have waiting; past this it is too slow, and is let go."""


class SubscriberTooSlow(Exception):
    """The subscriber fell more than `QUEUE_LIMIT` events behind and was let go."""


class EventBatch(list[Event]):
    """Events of one project published together, in order. Every subscriber that is keeping up is handed the
    same batch, so what a view makes of a whole batch (`rendered`, by view) is made once for all of them."""

    def __init__(self, events: list[Event]) -> None:
        super().__init__(events)
        self.rendered: dict[str, object] = {}


class _Subscription:
    __slots__ = ("overflowed", "size", "waiting", "wake")

    def __init__(self) -> None:
        self.waiting: deque[EventBatch] = deque()
        self.size = 0
        """Events in `waiting`."""
        self.wake = asyncio.Event()
        self.overflowed = False


class EventBus:
    def __init__(self, meters: Meters | None = None) -> None:
        self._subscriptions: dict[int, set[_Subscription]] = defaultdict(set)
        self._meters = meters or NoMeters()

    def publish(self, event: Event) -> None:
        self.publish_many(event.project_id, [event])

    def publish_many(self, project_id: int, published: list[Event]) -> None:
        """Events of one project, in order: each subscriber is handed them at once (one append and one
        wake-up per subscriber, not per event: a batch of uplinks reaches a hundred dashboards in a hundred
        steps, not in thousands)."""
        batch = EventBatch(published)
        for subscription in list(self._subscriptions.get(project_id, ())):
            if subscription.size + len(batch) > QUEUE_LIMIT:
                log.warning(
                    "a subscriber of project %s fell %d events behind and is let go", project_id, QUEUE_LIMIT
                )
                self._forget(project_id, subscription)
                subscription.overflowed = True
                subscription.wake.set()
                continue
            subscription.waiting.append(batch)
            subscription.size += len(batch)
            subscription.wake.set()

    @contextlib.contextmanager
    def subscribe(self, project_id: int) -> Iterator[AsyncIterator[EventBatch]]:
        """The project's events, all those waiting at once, oldest first: the batch as published when one
        is waiting (the common case for a subscriber that keeps up), else the waiting batches joined."""
        subscription = _Subscription()
        self._subscriptions[project_id].add(subscription)
        self._meters.subscribers(1)

        async def events() -> AsyncIterator[EventBatch]:
            while True:
                if not subscription.waiting and not subscription.overflowed:
                    subscription.wake.clear()
                    await subscription.wake.wait()
                if subscription.overflowed:
                    raise SubscriberTooSlow(f"fell more than {QUEUE_LIMIT} events behind")
                waiting = subscription.waiting
                batch = waiting[0] if len(waiting) == 1 else EventBatch([e for b in waiting for e in b])
                waiting.clear()
                subscription.size = 0
                yield batch

        try:
            yield events()
        finally:
            self._forget(project_id, subscription)
            self._meters.subscribers(-1)

    def subscribers(self, project_id: int) -> int:
        return len(self._subscriptions.get(project_id, ()))

    def _forget(self, project_id: int, subscription: _Subscription) -> None:
        subscribers = self._subscriptions.get(project_id)
        if subscribers is None:
            return
        subscribers.discard(subscription)
        if not subscribers:
            del self._subscriptions[project_id]
