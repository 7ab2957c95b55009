"""One invalidation path for everything the hub remembers (credentials, projects, devices).

A change made anywhere (an API call in this worker, the CLI in another process, another worker) is
announced on the change signal of what it changed (its topic); every cache checks the signals before it
answers, so the next request of every process sees the change, with no TTL to wait out. Live sessions that
must react to a change with no request of their own (a WebSocket opened with a credential that was just
revoked) wait on `changed(topic)`.

Signals are cheap to read (a `stat` of a file on one machine; see `store.change_signal`) and are read at
most once a millisecond, however many cache reads a request makes; the caches' TTLs remain as a backstop
only. Topics keep a device that reports a new software version from flushing every credential."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Protocol

CHECK_EVERY_NS = 1_000_000
"""Another process's change is seen within a millisecond; this process's own at once."""
CREDENTIALS, PROJECTS, DEVICES = "credentials", "projects", "devices"
TOPICS = (CREDENTIALS, PROJECTS, DEVICES)


class ChangeSignal(Protocol):
    def stamp(self) -> object:
        """A value that differs after every announcement, from any process that shares the signal."""

    def announce(self) -> None:
        """Tell every process sharing the signal that something changed."""


SignalFor = Callable[[str], ChangeSignal]
"""The signal of a topic."""


class Forgetful(Protocol):
    def clear(self) -> None: ...


class InProcessSignal:
    """For a hub alone in its process (tests, a one-off CLI command)."""

    def __init__(self) -> None:
        self._counter = itertools.count()
        self._stamp = next(self._counter)

    def stamp(self) -> object:
        return self._stamp

    def announce(self) -> None:
        self._stamp = next(self._counter)


def in_process(_topic: str) -> ChangeSignal:
    return InProcessSignal()


class Freshness:
    def __init__(self, signal_for: SignalFor = in_process) -> None:
        self._signals = {topic: signal_for(topic) for topic in TOPICS}
        self._seen = {topic: signal.stamp() for topic, signal in self._signals.items()}
        self._checked_ns = 0
        self._generations = dict.fromkeys(TOPICS, 0)
        self._caches: dict[str, list[Forgetful]] = defaultdict(list)
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)

    def register(self, topic: str, cache: Forgetful) -> None:
        self._caches[topic].append(cache)

    def check(self) -> None:
        """Forget what is remembered of every topic with a change announced since the last check."""
        now = time.monotonic_ns()
        if now - self._checked_ns < CHECK_EVERY_NS:
            return
        self._checked_ns = now
        for topic, signal in self._signals.items():
            stamp = signal.stamp()
            if stamp == self._seen[topic]:
                continue
            self._seen[topic] = stamp
            self._generations[topic] += 1
            for cache in self._caches[topic]:
                cache.clear()
            for waiter in self._waiters[topic]:
                waiter.set()

    def announce(self, topic: str) -> None:
        """Something this process wrote changes what others may have remembered of `topic`."""
        self._signals[topic].announce()
        self._checked_ns = 0
        self.check()

    def generation(self, topic: str) -> int:
        """How many changes of `topic` this process has seen."""
        return self._generations[topic]

    async def changed(self, topic: str, since: int) -> None:
        """Return once `topic` has changed since `generation(topic)` was `since` (at once if it already
        has); changes are seen by `check`, which requests and the hub's watcher run."""
        if self._generations[topic] != since:
            return
        waiter = asyncio.Event()
        self._waiters[topic].add(waiter)
        try:
            await waiter.wait()
        finally:
            self._waiters[topic].discard(waiter)
