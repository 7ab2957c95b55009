"""Retention: each project keeps its readings for `retention_days` (a project setting), then a purge job
deletes them with their uplinks. The Instathings `ttl` of a record is when that happens. The same job keeps
the store's monthly partitions made ahead of time."""

from __future__ import annotations

from typing import Protocol

from fieldstation.core.clock import MICROS, Clock
from fieldstation.core.models import Project
from fieldstation.core.ports import ProjectStore, ReadingStore

SETTING = "retention_days"
DEFAULT_DAYS = 3650
"""Ten years, unless the operator says otherwise: tracking data is kept, not aged out, by default."""
DAY_US = 86_400 * MICROS


class RetentionStore(ProjectStore, ReadingStore, Protocol):
    """The parts of the store this service uses."""


def retention_us(project: Project) -> int:
    days = project.settings.get(SETTING, DEFAULT_DAYS)
    return int(days * DAY_US)


def expires_s(project: Project, inserted_us: int) -> int:
    """Epoch seconds at which a record inserted at `inserted_us` is purged."""
    return (inserted_us + retention_us(project)) // MICROS


async def purge(store: RetentionStore, clock: Clock) -> int:
    """Delete what every project's retention has passed; returns how many readings went. Partitions past
    the longest retention go whole first (PostgreSQL): projects share them."""
    now = clock.now_us()
    projects = await store.projects()
    longest = max((retention_us(p) for p in projects), default=DEFAULT_DAYS * DAY_US)
    dropped = await store.drop_partitions(now - longest)
    return dropped + sum([await store.purge_readings(p.id, now - retention_us(p)) for p in projects])


async def keep_partitions(store: RetentionStore, clock: Clock) -> list[str]:
    """Make the store's partitions for the months around now, ahead of the data (PostgreSQL; SQLite has
    none); returns the names of those made."""
    return await store.prepare_partitions(clock.now_us())
