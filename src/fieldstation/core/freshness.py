"""One invalidation path for everything the hub remembers (credentials, projects, devices).

A change made anywhere (an API call in this worker, the CLI in another process, another worker) is
announced on a `ChangeSignal`; every cache checks the signal before it answers, so the next request of
every worker sees the change, with no TTL to wait out. Live sessions that must react to a change with no
request of their own (a WebSocket opened with a credential that was just revoked) wait on `changed()`.

The signal is cheap to read (a `stat` of a file on one machine; see `store.change_signal`), so checking it
on every cache read costs microseconds; the caches' TTLs remain as a backstop only."""

from __future__ import annotations

import asyncio
import itertools
from typing import Protocol


class ChangeSignal(Protocol):
    def stamp(self) -> object:
        """A value that differs after every announcement, from any process that shares the signal."""

    def announce(self) -> None:
        """Tell every process sharing the signal that something changed."""


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


class Freshness:
    def __init__(self, signal: ChangeSignal) -> None:
        self._signal = signal
        self._seen = signal.stamp()
        self._caches: list[Forgetful] = []
        self._waiters: set[asyncio.Event] = set()

    def register(self, cache: Forgetful) -> None:
        self._caches.append(cache)

    def check(self) -> None:
        """Forget everything remembered if a change was announced since the last check."""
        stamp = self._signal.stamp()
        if stamp == self._seen:
            return
        self._seen = stamp
        for cache in self._caches:
            cache.clear()
        for waiter in self._waiters:
            waiter.set()

    def announce(self) -> None:
        """Something this process wrote changes what others may have remembered."""
        self._signal.announce()
        self.check()

    async def changed(self) -> None:
        """Return at the next change (seen by `check`, which a request or the hub's watcher runs)."""
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        try:
            await waiter.wait()
        finally:
            self._waiters.discard(waiter)
