"""The clients against a hub that plays the vendor: in this process on the hub's fake clock (the client's
waits move that clock, so token expiry and rate limits are tested without sleeping), or over HTTP against a
real server process."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from fieldstation.core.clock import MICROS, FakeClock
from fieldstation.core.models import Device, NewDevice, NewUplink
from fieldstation.core.projects import CreatedProject
from tests.conftest import Harness


class HubClock:
    """The client's clock when the hub runs on a `FakeClock`: a client that waits moves the hub's time, so
    what it waited for has happened when it calls again. `real_pause_s` lets other tasks run meanwhile."""

    def __init__(self, clock: FakeClock, real_pause_s: float = 0.0) -> None:
        self.clock = clock
        self.waits: list[float] = []
        self.real_pause_s = real_pause_s

    def time(self) -> float:
        return self.clock.now_us() / MICROS

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds)

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(self.real_pause_s)


class Exchanges:
    """Every response the hub gave the client, as (method, path, status)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, int]] = []

    def __call__(self, response: httpx.Response) -> None:
        self.seen.append((response.request.method, response.request.url.path, response.status_code))

    async def async_hook(self, response: httpx.Response) -> None:
        self(response)

    def statuses(self) -> Counter[int]:
        return Counter(status for _, _, status in self.seen)

    def calls(self, method: str, path: str) -> int:
        return sum(1 for m, p, _ in self.seen if (m, p) == (method, path))


def watch(harness: Harness) -> Exchanges:
    """The harness's HTTP client, watched from now on."""
    seen = Exchanges()
    harness.client.event_hooks = {"request": [], "response": [seen]}
    return seen


@pytest.fixture
def exchanges(limited: Harness) -> Exchanges:
    """The limited harness's HTTP client (the seed's rate limits), watched."""
    return watch(limited)


def meter(harness: Harness, created: CreatedProject, count: int) -> Device:
    """A device of JSON payloads with `count` readings, `{"value": n}`, all received now."""
    device = harness.run(
        lambda: harness.hub.devices.add(created.project, NewDevice(name="meter", codec="json"))
    )
    uplinks = [
        NewUplink(source="test", payload=b'{"value": %d}' % n, received_us=harness.clock.now_us(), f_cnt=n)
        for n in range(count)
    ]
    harness.run(lambda: harness.hub.ingestor.ingest(device, uplinks))
    return device
