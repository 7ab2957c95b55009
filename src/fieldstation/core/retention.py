"""Retention: each project keeps its readings for `retention_days` (a project setting), then a purge job
deletes them with their uplinks. The Instathings `ttl` of a record is when that happens."""

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
    """Delete what every project's retention has passed; returns how many readings went."""
    now = clock.now_us()
    return sum([await store.purge_readings(p.id, now - retention_us(p)) for p in await store.projects()])
