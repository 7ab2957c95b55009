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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

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


Sink = Callable[[EventBatch], bool]
"""Takes a batch in the publisher's own call, without waiting (a WebSocket whose frames are written straight
to its connection); returns False when it can take no more (too slow, or closing), and is then let go."""


class Subscription:
    """One subscriber's events, as an async iterator of batches: all those waiting at once, oldest first (the
    batch as published when one is waiting, the common case for a subscriber that keeps up, else the
    waiting batches joined). Or, once handed to a sink, none: each batch goes to the sink as it is published,
    and the iterator only ends, with `SubscriberTooSlow`, when the sink is let go."""

    __slots__ = ("_batches", "_let_go", "overflowed", "sink", "size", "waiting", "wake")

    def __init__(self, let_go: Callable[[Subscription], None]) -> None:
        self.waiting: deque[EventBatch] = deque()
        self.size = 0
        """Events in `waiting`."""
        self.wake = asyncio.Event()
        self.overflowed = False
        self.sink: Sink | None = None
        self._let_go = let_go
        self._batches = self._events()

    def hand_to(self, sink: Sink) -> None:
        """From now on, give each batch to `sink` as it is published, what is waiting first. A hundred
        subscribers so cost a hundred calls a batch, not a hundred tasks woken up and run."""
        if self.waiting:
            waiting = list(self.waiting)
            self.waiting.clear()
            self.size = 0
            if not self.offer(EventBatch([event for batch in waiting for event in batch]), sink):
                return
        self.sink = sink

    def offer(self, batch: EventBatch, sink: Sink) -> bool:
        """Give the batch to the sink; a sink that refuses it or fails is let go."""
        try:
            taken = sink(batch)
        except Exception:
            log.exception("a subscriber failed to take a batch of events and is let go")
            taken = False
        if not taken:
            self.drop()
        return taken

    def drop(self) -> None:
        self._let_go(self)
        self.overflowed = True
        self.wake.set()

    def __aiter__(self) -> Subscription:
        return self

    def __anext__(self) -> Awaitable[EventBatch]:
        return self._batches.__anext__()

    async def _events(self) -> AsyncIterator[EventBatch]:
        while True:
            if not self.waiting and not self.overflowed:
                self.wake.clear()
                await self.wake.wait()
            if self.overflowed:
                raise SubscriberTooSlow(f"fell more than {QUEUE_LIMIT} events behind, or stopped taking them")
            waiting = self.waiting
            batch = waiting[0] if len(waiting) == 1 else EventBatch([e for b in waiting for e in b])
            waiting.clear()
            self.size = 0
            yield batch


class EventBus:
    def __init__(self, meters: Meters | None = None) -> None:
        self._subscriptions: dict[int, set[Subscription]] = defaultdict(set)
        self._meters = meters or NoMeters()

    def publish(self, event: Event) -> None:
        self.publish_many(event.project_id, [event])

    def publish_many(self, project_id: int, published: list[Event]) -> None:
        """Events of one project, in order: each subscriber is handed them at once (one append and one
        wake-up per subscriber, or one call of its sink, not one per event: a batch of uplinks reaches a
        hundred dashboards in a hundred steps, not in thousands)."""
        batch = EventBatch(published)
        for subscription in list(self._subscriptions.get(project_id, ())):
            if subscription.sink is not None:
                subscription.offer(batch, subscription.sink)
                continue
            if subscription.size + len(batch) > QUEUE_LIMIT:
                log.warning(
                    "a subscriber of project %s fell %d events behind and is let go", project_id, QUEUE_LIMIT
                )
                subscription.drop()
                continue
            subscription.waiting.append(batch)
            subscription.size += len(batch)
            subscription.wake.set()

    @contextlib.contextmanager
    def subscribe(self, project_id: int) -> Iterator[Subscription]:
        """The project's events from now on (`Subscription`), until the block ends."""
        subscription = Subscription(lambda gone: self._forget(project_id, gone))
        self._subscriptions[project_id].add(subscription)
        self._meters.subscribers(1)
        try:
            yield subscription
        finally:
            self._forget(project_id, subscription)
            self._meters.subscribers(-1)

    def subscribers(self, project_id: int) -> int:
        return len(self._subscriptions.get(project_id, ()))

    def _forget(self, project_id: int, subscription: Subscription) -> None:
        subscribers = self._subscriptions.get(project_id)
        if subscribers is None:
            return
        subscribers.discard(subscription)
        if not subscribers:
            del self._subscriptions[project_id]
