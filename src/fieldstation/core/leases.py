"""Work that must happen once across workers (demo data, retention, command expiry) runs in the worker that
holds its lease. Each worker tries to take or renew every lease every `RENEW_S`; a lease lasts `TTL_S`, so
the work moves to another worker within seconds of its holder's death."""

from __future__ import annotations

import logging
import os
import socket
import uuid

from fieldstation.core.clock import MICROS, Clock
from fieldstation.core.errors import StoreUnavailable
from fieldstation.core.ports import LeaseStore

log = logging.getLogger("fieldstation.leases")
RENEW_S = 2.0
TTL_S = 6.0


class Leases:
    def __init__(self, store: LeaseStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._held: set[str] = set()

    def held(self, name: str) -> bool:
        return name in self._held

    async def renew(self, names: tuple[str, ...]) -> None:
        """Take or keep each lease; a store that cannot be reached holds nothing (better idle than twice)."""
        for name in names:
            try:
                holding = await self._store.claim_lease(
                    name, self.holder, self._clock.now_us(), int(TTL_S * MICROS)
                )
            except StoreUnavailable:
                holding = False
            if holding and name not in self._held:
                log.info("this worker now does %s", name)
            elif not holding and name in self._held:
                log.info("another worker does %s now", name)
            (self._held.add if holding else self._held.discard)(name)
