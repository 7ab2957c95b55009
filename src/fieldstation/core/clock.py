"""Time as the hub sees it: UTC epoch microseconds, from a clock that tests can drive."""

from __future__ import annotations

import time
from typing import Protocol

MICROS = 1_000_000
MILLIS_PER_SECOND = 1_000


class Clock(Protocol):
    def now_us(self) -> int: ...


class SystemClock:
    def now_us(self) -> int:
        return time.time_ns() // 1_000


class FakeClock:
    """A clock that only moves when told to: rate limits and token expiry are tested with it, not sleeps."""

    def __init__(self, start_us: int = 1_700_000_000 * MICROS) -> None:
        self._now_us = start_us

    def now_us(self) -> int:
        return self._now_us

    def advance(self, seconds: float) -> None:
        self._now_us += int(seconds * MICROS)

    def set(self, epoch_seconds: float) -> None:
        self._now_us = int(epoch_seconds * MICROS)


def us_to_seconds(value_us: int) -> int:
    return value_us // MICROS


def seconds_to_us(value_s: float) -> int:
    return int(value_s * MICROS)


def us_to_millis(value_us: int) -> int:
    return value_us // 1_000
