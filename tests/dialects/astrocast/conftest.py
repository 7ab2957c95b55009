from __future__ import annotations

import base64

import pytest

from fieldstation.codecs import astrocast_geo
from fieldstation.core.models import CredentialKind, Device, NewDevice, NewUplink
from fieldstation.core.ports import StoredReading
from fieldstation.core.projects import CreatedProject
from tests.conftest import Harness


def key(created: CreatedProject) -> dict[str, str]:
    return {"x-api-key": created.credentials[CredentialKind.ASTROCAST].api_key}


def astronode(
    harness: Harness, created: CreatedProject, guid: str = "c984ff2b-e4d0-417f-8ea3-11d74a55d251"
) -> Device:

    return harness.run(
        lambda: harness.hub.devices.add(
            created.project,
            NewDevice(name="river", guid=guid, device_type="Astronode", codec=astrocast_geo.NAME),
        )
    )


def send(harness: Harness, device: Device, payload: bytes, *, created_s: int | None = None) -> StoredReading:
    uplink = NewUplink(
        source="astrocast",
        payload=payload,
        received_us=harness.clock.now_us(),
        device_time_us=None if created_s is None else created_s * 1_000_000,
    )
    return harness.run(lambda: harness.hub.ingestor.ingest(device, [uplink]))[0]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def project(harness: Harness) -> CreatedProject:
    return harness.project()
