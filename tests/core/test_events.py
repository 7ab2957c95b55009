"""The event bus never waits for a subscriber: one that falls behind is let go, the others go on."""

from __future__ import annotations

import asyncio

import pytest

from fieldstation.core import events
from fieldstation.core.events import EventBatch, EventBus, SubscriberTooSlow
from fieldstation.core.models import Event


def test_a_subscriber_that_falls_behind_is_let_go_and_the_others_go_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events, "QUEUE_LIMIT", 3)

    async def main() -> None:
        bus = EventBus()
        with bus.subscribe(1) as slow, bus.subscribe(1) as keen:
            received = []
            for n in range(5):
                bus.publish(Event(1, "data", {"n": n}))  # never blocks, whoever is behind
                received += [event.payload["n"] for event in await anext(keen)]
            assert received == [0, 1, 2, 3, 4]
            assert bus.subscribers(1) == 1  # the slow one was let go at its fourth waiting event
            with pytest.raises(SubscriberTooSlow):
                await anext(slow)

    asyncio.run(main())


def test_another_projects_events_are_not_delivered() -> None:
    async def main() -> None:
        bus = EventBus()
        with bus.subscribe(1) as mine:
            bus.publish(Event(2, "data", {}))
            bus.publish(Event(1, "data", {"mine": True}))
            assert [event.payload for event in await anext(mine)] == [{"mine": True}]

    asyncio.run(main())


def test_a_subscriber_gets_all_that_waits_at_once_in_order() -> None:
    async def main() -> None:
        bus = EventBus()
        with bus.subscribe(1) as stream:
            bus.publish_many(1, [Event(1, "data", {"n": n}) for n in range(3)])
            bus.publish(Event(1, "data", {"n": 3}))
            assert [event.payload["n"] for event in await anext(stream)] == [0, 1, 2, 3]
            bus.publish(Event(1, "data", {"n": 4}))
            assert [event.payload["n"] for event in await anext(stream)] == [4]

    asyncio.run(main())


def test_a_sink_takes_what_waited_then_each_batch_as_it_is_published() -> None:
    async def main() -> None:
        bus = EventBus()
        taken: list[list[int]] = []

        def sink(batch: EventBatch) -> bool:
            taken.append([event.payload["n"] for event in batch])
            return True

        with bus.subscribe(1) as stream:
            bus.publish_many(1, [Event(1, "data", {"n": n}) for n in range(2)])
            bus.publish(Event(1, "data", {"n": 2}))
            stream.hand_to(sink)
            assert taken == [[0, 1, 2]]  # what waited, joined, before anything newer
            bus.publish_many(1, [Event(1, "data", {"n": 3}), Event(1, "data", {"n": 4})])
            assert taken == [[0, 1, 2], [3, 4]]  # in the publisher's own call: no task had to run
            assert bus.subscribers(1) == 1
            waiting = asyncio.ensure_future(anext(stream))  # with a sink, the stream yields nothing
            await asyncio.sleep(0.01)
            assert not waiting.done()
            waiting.cancel()

    asyncio.run(main())


@pytest.mark.parametrize("refusal", ["returns False", "raises"])
def test_a_sink_that_refuses_is_let_go_and_the_others_go_on(refusal: str) -> None:
    async def main() -> None:
        bus = EventBus()
        kept: list[int] = []

        def refusing(batch: EventBatch) -> bool:
            if refusal == "raises":
                raise RuntimeError("the connection broke")
            return False

        def keen(batch: EventBatch) -> bool:
            kept.extend(event.payload["n"] for event in batch)
            return True

        with bus.subscribe(1) as failing, bus.subscribe(1) as other:
            failing.hand_to(refusing)
            other.hand_to(keen)
            bus.publish(Event(1, "data", {"n": 0}))
            bus.publish(Event(1, "data", {"n": 1}))
            assert kept == [0, 1]
            assert bus.subscribers(1) == 1
            with pytest.raises(SubscriberTooSlow):
                await anext(failing)

    asyncio.run(main())
