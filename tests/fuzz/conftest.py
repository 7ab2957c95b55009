"""A hub with one of everything, every rate limit lifted, and what a fuzzer checks of every answer."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from fieldstation.app import create_app
from fieldstation.assembly import DIALECTS, rate_policy
from fieldstation.config import Settings
from fieldstation.core.clock import MICROS, FakeClock
from fieldstation.core.hashing import key_digest
from fieldstation.core.models import CredentialKind, NewDevice
from tests.conftest import START_S, Harness, basic

EUI = "04C46100008F2C4F"
GUID = "c984ff2b-e4d0-417f-8ea3-11d74a55d251"
CALLBACK_SECRET = "callback-secret"


@dataclass
class Scene:
    harness: Harness
    headers: dict[str, dict[str, str]]
    """Per API mount: the headers of a fully authenticated call."""
    uplink_headers: dict[str, str]
    ids: dict[str, str]
    """Ids of things that exist: tag, guid, gateway, virtual device, command, operation, project."""

    @property
    def client(self) -> TestClient:
        return self.harness.client


def _all_limits_lifted() -> dict[str, float]:
    return dict.fromkeys(rate_policy(Settings(demo=False)), 0.0)


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    clock = FakeClock(START_S * MICROS)
    settings = Settings(data_dir=tmp_path, demo=False, rate_limits=_all_limits_lifted())
    with TestClient(create_app(settings, clock), raise_server_exceptions=False) as client:
        harness = Harness(client, clock)
        created = harness.project("fuzz")
        project = created.project
        harness.run(
            lambda: harness.hub.projects.configure(
                project, auto_register=True, astrocast_callback_secret_sha256=key_digest(CALLBACK_SECRET)
            )
        )
        device = harness.device(project, 1337, EUI)
        harness.fix(device, START_S - 60)
        astronode = harness.run(
            lambda: harness.hub.devices.add(
                project, NewDevice(name="modem", guid=GUID, device_type="Astronode", codec="passthrough")
            )
        )
        awt = created.credentials[CredentialKind.AWT]
        astrocast = created.credentials[CredentialKind.ASTROCAST]
        instathings = created.credentials[CredentialKind.INSTATHINGS]
        token = client.post(
            "/instathings/authentication/v1/oauth/token",
            json={"clientId": instathings.credential.username, "clientSecret": instathings.api_key},
        ).json()["access_token"]
        it_headers = {"Authorization": f"Bearer {token}"}
        gateway = client.post(
            "/instathings/device/v1/devices", json={"name": "gw", "isGateway": True}, headers=it_headers
        ).json()
        virtual = client.post(
            "/instathings/device/v1/devices",
            json={"name": "v", "isVirtual": True, "demoActive": True, "parentDevice": gateway["id"]},
            headers=it_headers,
        ).json()
        command = client.post(
            "/astrocast/v1/commands",
            json={"deviceGuid": GUID, "data": base64.b64encode(b"12345678").decode()},
            headers={"x-api-key": astrocast.api_key},
        ).json()
        status = client.post(f"/instathings/device/v1/control/{virtual['id']}/status", headers=it_headers)
        assert awt.credential.username is not None and awt.password is not None
        yield Scene(
            harness=harness,
            headers={
                "/awt/v2": {
                    "X-API-KEY": awt.api_key,
                    "Authorization": f"Bearer {harness.awt_token(created)}",
                },
                "/astrocast/v1": {"x-api-key": astrocast.api_key},
                "/instathings": it_headers,
                "": {},
            },
            uplink_headers={
                "X-API-KEY": awt.api_key,
                "Authorization": basic(awt.credential.username, awt.password),
            },
            ids={
                "tag": "1337",
                "guid": GUID,
                "astronode": astronode.short_id,
                "gateway": gateway["id"],
                "virtual": virtual["id"],
                "command": command["commandGuid"],
                "operation": status.headers["location"].rsplit("/", 2)[-2],
                "project": project.name,
            },
        )


def mount_of(path: str) -> str:
    return next((d.mount for d in DIALECTS if path == d.mount or path.startswith(d.mount + "/")), "")


def check_answer(response: httpx.Response, path: str) -> None:
    """No 5xx; every error in the shape of the API the path belongs to."""
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code < 400:
        return
    body: Any = response.json()
    assert isinstance(body, dict), body
    mount = mount_of(path)
    if mount in ("/awt/v2", ""):
        assert set(body) == {"error"}, body
    elif mount == "/astrocast/v1":
        assert "message" in body and set(body) <= {"message", "retryAfter"}, body
    else:
        assert set(body) == {"message"}, body
    text = next(iter(body.values()))
    assert isinstance(text, str) and text, body


def check_views_still_work(scene: Scene) -> None:
    """After whatever the fuzzer sent, every listing of the project still answers."""
    calls = [
        ("/awt/v2", "/awt/v2/data"),
        ("/awt/v2", "/awt/v2/data/latest"),
        ("/awt/v2", "/awt/v2/data/archive"),
        ("/awt/v2", "/awt/v2/devices"),
        ("/astrocast/v1", "/astrocast/v1/messages"),
        ("/astrocast/v1", "/astrocast/v1/devices"),
        ("/astrocast/v1", "/astrocast/v1/devices/summary"),
        ("/astrocast/v1", "/astrocast/v1/commands"),
        ("/instathings", "/instathings/device/v1/devices"),
        ("/instathings", f"/instathings/device/v1/devices/{scene.ids['virtual']}/data"),
    ]
    for mount, path in calls:
        response = scene.client.get(path, headers=scene.headers[mount])
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        response.json()
