"""Wiring: which dialects exist, and how a Hub is opened from settings. Shared by the server and the CLI."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fieldstation.codecs import CODECS
from fieldstation.config import Settings
from fieldstation.core.auth import AUTH_POLICY
from fieldstation.core.clock import Clock, SystemClock
from fieldstation.core.freshness import ChangeSignal, SignalFor
from fieldstation.core.hub import Hub, build_hub
from fieldstation.core.operators import SIGN_IN_POLICY
from fieldstation.core.ratelimit import Limit
from fieldstation.dialects import Dialect, astrocast, awt, instathings
from fieldstation.metrics import PrometheusMeters
from fieldstation.store.change_signal import FileChangeSignal
from fieldstation.store.database import connect, migrate
from fieldstation.store.repository import Store

DIALECTS: tuple[Dialect, ...] = (awt.DIALECT, astrocast.DIALECT, instathings.DIALECT)
INSTALLATION_SETTING = "installation_id"
CHANGES_FILE = "changes"
"""In the data dir, `changes.credentials`, `changes.projects`, `changes.devices`: where the processes of one
installation announce their changes (core/freshness.py)."""


def rate_policy(settings: Settings) -> dict[str, Limit]:
    policy: dict[str, Limit] = {**AUTH_POLICY, **SIGN_IN_POLICY}
    for dialect in DIALECTS:
        policy.update(dialect.rate_policy)
    unknown = sorted(set(settings.rate_limits) - set(policy))
    if unknown:
        raise ValueError(
            f"unknown rate limit group(s) {', '.join(unknown)}; known: {', '.join(sorted(policy))}"
        )
    policy.update(settings.rate_limits)
    return policy


async def open_hub(settings: Settings, clock: Clock | None = None) -> Hub:
    """Connect, bring the schema up to date and wire the services; with Redis, the rate limits, the event
    bus and the caches' change announcements are the workers' shared ones."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(settings.database())
    await migrate(engine)
    policy = rate_policy(settings)
    meters = PrometheusMeters()
    clock = clock or SystemClock()
    shared: dict[str, Any] = {}

    def file_signal(topic: str) -> ChangeSignal:
        return FileChangeSignal(settings.data_dir / f"{CHANGES_FILE}.{topic}")

    changes: SignalFor = file_signal
    store = Store(engine)
    if settings.redis_url:
        # Every worker of the installation reads the same id from its database; installations sharing a
        # Redis server keep apart by it.
        installation = await store.setting_or_create(INSTALLATION_SETTING, uuid.uuid4().hex)
        namespace = f"fieldstation:{installation}:"
        from fieldstation.shared.wiring import over_redis  # only with Redis: see its docstring

        shared, changes, close = over_redis(settings.redis_url, namespace, meters, policy, clock, changes)
        _redis_closers[id(shared["events"])] = close
    return await build_hub(
        store,
        clock,
        renderer=awt.RENDERER,
        codecs=CODECS,
        rate_policy=policy,
        changes=changes,
        meters=meters,
        **shared,
    )


_redis_closers: dict[int, Callable[[], Awaitable[None]]] = {}


async def close_hub(hub: Hub) -> None:
    if isinstance(hub.store, Store):
        await hub.store.close()
    close = _redis_closers.pop(id(hub.events), None)
    if close is not None:
        await close()
