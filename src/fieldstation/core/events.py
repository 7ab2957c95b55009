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

from fieldstation.core.models import Event

log = logging.getLogger("fieldstation.events")
QUEUE_LIMIT = 1_000
"""Events a subscriber may have waiting; past this it is too slow, and is let go."""


class SubscriberTooSlow(Exception):
    """The subscriber fell more than `QUEUE_LIMIT` events behind and was let go."""


class _Subscription:
    __slots__ = ("overflowed", "waiting", "wake")

    def __init__(self) -> None:
        self.waiting: deque[Event] = deque()
        self.wake = asyncio.Event()
        self.overflowed = False


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: dict[int, set[_Subscription]] = defaultdict(set)

    def publish(self, event: Event) -> None:
        self.publish_many(event.project_id, [event])

    def publish_many(self, project_id: int, published: list[Event]) -> None:
        """Events of one project, in order: each subscriber is handed them at once (one append and one
        wake-up per subscriber, not per event: a batch of uplinks reaches a hundred dashboards in a hundred
        steps, not in thousands)."""
        for subscription in list(self._subscriptions.get(project_id, ())):
            if len(subscription.waiting) + len(published) > QUEUE_LIMIT:
                log.warning(
                    "a subscriber of project %s fell %d events behind and is let go", project_id, QUEUE_LIMIT
                )
                self._forget(project_id, subscription)
                subscription.overflowed = True
                subscription.wake.set()
                continue
            subscription.waiting.extend(published)
            subscription.wake.set()

    @contextlib.contextmanager
    def subscribe(self, project_id: int) -> Iterator[AsyncIterator[list[Event]]]:
        """The project's events, as lists of all those waiting, oldest first."""
        subscription = _Subscription()
        self._subscriptions[project_id].add(subscription)

        async def events() -> AsyncIterator[list[Event]]:
            while True:
                if not subscription.waiting and not subscription.overflowed:
                    subscription.wake.clear()
                    await subscription.wake.wait()
                if subscription.overflowed:
                    raise SubscriberTooSlow(f"fell more than {QUEUE_LIMIT} events behind")
                waiting = list(subscription.waiting)
                subscription.waiting.clear()
                yield waiting

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
