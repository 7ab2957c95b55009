"""A small time-to-live cache for what every request needs and rarely changes (credentials, projects,
devices), on the hub's clock. A cache made with a `Freshness` is also emptied whenever a change is
announced anywhere (core/freshness.py): the TTL is a backstop, not the way changes arrive.

Concurrent misses of one key share one load ("single flight"): under a burst, a key that just expired is
read from the store once, not once per request waiting on it. Absent values are not remembered."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from fieldstation.core.clock import MICROS, Clock
from fieldstation.core.freshness import Freshness

BACKSTOP_TTL_S = 60
"""How long credentials, projects and devices are remembered. Changes arrive through the change signals
(core/freshness.py) at once; the TTL only bounds how long a change made outside the hub's services (a
database edited by hand) goes unseen. At 5 s, every device of a busy hub was read again every 5 s."""

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(
        self,
        clock: Clock,
        ttl_s: float,
        max_entries: int = 100_000,
        freshness: tuple[Freshness, str] | None = None,
    ) -> None:
        """`freshness`: the invalidation path and the topic (core/freshness.py) this cache follows."""
        self._clock = clock
        self._freshness = None if freshness is None else freshness[0]
        if freshness is not None:
            freshness[0].register(freshness[1], self)
        self._ttl_us = int(ttl_s * MICROS)
        self._max_entries = max_entries
        self._entries: dict[K, tuple[V, int]] = {}
        self._generation = 0
        self._loading: dict[K, asyncio.Future[V | None]] = {}

    def peek(self, key: K) -> V | None:
        """The value if it is cached and fresh, without a load or an await: a hit on the hot path costs a
        dict look-up (and, once a millisecond at most, a look at the change signals)."""
        if self._freshness is not None:
            self._freshness.check()
        entry = self._entries.get(key)
        if entry is not None and entry[1] > self._clock.now_us():
            return entry[0]
        return None

    async def get(self, key: K, load: Callable[[], Awaitable[V | None]]) -> V | None:
        """The value, loaded (once, however many ask at the same time) if it is not cached. Callers on a hot
        path try `peek` first: a hit then costs no coroutine."""
        value = self.peek(key)
        if value is not None:
            return value
        pending = self._loading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._load(key, load, self._generation))
            self._loading[key] = pending
            pending.add_done_callback(lambda done: self._loaded(key, done))
        return await asyncio.shield(pending)

    def _loaded(self, key: K, done: asyncio.Future[V | None]) -> None:
        if self._loading.get(key) is done:
            del self._loading[key]

    def put(self, key: K, value: V) -> None:
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[key] = (value, self._clock.now_us() + self._ttl_us)

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget everything, and what is being loaded now: a load that read the store before the change
        that cleared the cache must not put its old answer back."""
        self._entries.clear()
        self._loading.clear()
        self._generation += 1

    async def _load(self, key: K, load: Callable[[], Awaitable[V | None]], generation: int) -> V | None:
        value = await load()
        if value is not None and generation == self._generation:
            self.put(key, value)
        return value
