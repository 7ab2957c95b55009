"""Shared fixtures: an in-process hub driven by a fake clock, and a real server process for the seed's own
examples."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

# Hubs started by tests run no embedded MQTT broker unless a test asks for one (tests/gateway/).
os.environ.setdefault("FIELDSTATION_MQTT_PORT", "0")
from starlette.testclient import TestClient
from typer.testing import CliRunner

from fieldstation import app as app_module
from fieldstation.app import create_app
from fieldstation.cli import app as cli_app
from fieldstation.codecs import awt_frame
from fieldstation.config import Settings
from fieldstation.core.clock import MICROS, FakeClock
from fieldstation.core.hub import Hub
from fieldstation.core.models import CredentialKind, Device, NewDevice, NewUplink, Project
from fieldstation.core.ports import StoredReading
from fieldstation.core.projects import CreatedProject
from fieldstation.dialects.awt.rate_limits import RATE_POLICY
from tests.backends import POSTGRES, SQLITE, Backend, SharedServers, runs_twice
from tests.services import free_port

T = TypeVar("T")
GOLDEN = Path(__file__).parent / "golden"
NO_RATE_LIMITS = dict.fromkeys(RATE_POLICY, 0.0)
START_S = 1_790_000_000  # 2026-09-21


class Harness:
    """A hub in this process: a TestClient for HTTP, and direct calls into the core for setting the scene."""

    def __init__(self, client: TestClient, clock: FakeClock) -> None:
        self.client = client
        self.clock = clock
        self.hub: Hub = client.app.state.hub()  # type: ignore[attr-defined]

    def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run a coroutine on the app's own event loop."""
        return self.client.portal.call(work)  # type: ignore[union-attr]

    def project(self, name: str = "field") -> CreatedProject:
        return self.run(lambda: self.hub.projects.create(name))

    def device(self, project: Project, tag_id: int, eui: str, **kw: Any) -> Device:
        return self.run(
            lambda: self.hub.devices.add(
                project, NewDevice(tag_id=tag_id, eui=eui, **{"name": f"tag {tag_id}", **kw})
            )
        )

    def uplink(self, device: Device, payload: bytes) -> StoredReading:
        received = self.clock.now_us()
        up = NewUplink(source="test", payload=payload, received_us=received, eui=device.eui)
        return self.run(lambda: self.hub.ingestor.ingest(device, [up]))[0]

    def fix(self, device: Device, fix_time: int, **kw: Any) -> StoredReading:
        """Store a well-formed AWT frame taken at `fix_time`, inserted now (the fake clock's now)."""
        fields: dict[str, Any] = {"latitude": -25.730598, "longitude": 28.219429, "voltage": 3.67} | kw
        assert device.tag_id is not None
        return self.uplink(device, awt_frame.encode(tag_id=device.tag_id, fix_time=fix_time, **fields))

    def awt_token(self, created: CreatedProject) -> str:
        response = self.client.post("/awt/v2/token", headers=token_headers(created))
        assert response.status_code == 200, response.text
        return str(response.json()["token"])

    def awt(self, created: CreatedProject) -> dict[str, str]:
        """Headers of a fully authenticated AWT call."""
        key = created.credentials[CredentialKind.AWT].api_key
        return {"X-API-KEY": key, "Authorization": f"Bearer {self.awt_token(created)}"}


def ttn_uplink(eui: str, tag_id: int, n: int) -> bytes:
    """The n-th The Things Stack v3 uplink of a tracker: the golden body with an AWT frame of its own."""
    template = json.loads((Path(__file__).parent / "golden/networks/ttn_v3_uplink.json").read_text())
    frame = awt_frame.encode(
        tag_id=tag_id, fix_time=1_790_000_000 + n, latitude=-24, longitude=31.5, voltage=3.8
    )
    template["end_device_ids"]["dev_eui"] = eui
    template["uplink_message"] |= {"f_cnt": n, "frm_payload": base64.b64encode(frame).decode()}
    return json.dumps(template).encode()


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def token_headers(created: CreatedProject) -> dict[str, str]:
    """Headers of `POST /token` for the project's AWT credential."""
    awt = created.credentials[CredentialKind.AWT]
    assert awt.credential.username is not None and awt.password is not None
    return {"X-API-KEY": awt.api_key, "Authorization": basic(awt.credential.username, awt.password)}


SLOW_FIRST = ("tests/gateway/test_faults.py", "tests/cli/", "tests/workers/", "tests/gateway/")
"""Files that take longest start first: the test processes then finish together, not after the fault
scenario (90 s) began last."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    root = Path(__file__).parent.parent

    def rank(item: pytest.Item) -> int:
        relative = item.path.relative_to(root).as_posix()
        return next(
            (n for n, prefix in enumerate(SLOW_FIRST) if relative.startswith(prefix)), len(SLOW_FIRST)
        )

    items.sort(key=rank)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The dialects' suites run on both backends (tests/backends.py); every other test on SQLite."""
    if "backend" in metafunc.fixturenames:
        both = runs_twice(metafunc.definition.path, Path(__file__).parent.parent)
        backends = [SQLITE, POSTGRES] if both else [SQLITE]
        metafunc.parametrize("backend", backends, indirect=True, scope="session", ids=backends)


@pytest.fixture(scope="session")
def servers() -> Iterator[SharedServers]:
    started = SharedServers()
    try:
        yield started
    finally:
        started.close()


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest, servers: SharedServers) -> Backend:
    """Where a hub started by this test keeps its state; call it for the settings of a fresh one."""
    name = getattr(request, "param", SQLITE)
    return Backend(name, servers)


def _harness(
    tmp_path: Path, rate_limits: dict[str, float], backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Harness]:
    # Tests tick virtual devices themselves, on the fake clock: the hub's own ticker (every second of real
    # time) would race them, adding a record whenever a test had just moved the clock past a period.
    monkeypatch.setattr(app_module, "VIRTUAL_TICK_S", 3_600)
    clock = FakeClock(START_S * MICROS)
    environment = backend.migrated(tmp_path)
    settings = Settings(
        data_dir=tmp_path,
        demo=False,
        rate_limits=rate_limits,
        database_url=environment.get("FIELDSTATION_DATABASE_URL"),
        redis_url=environment.get("FIELDSTATION_REDIS_URL"),
    )
    with TestClient(create_app(settings, clock), raise_server_exceptions=False) as client:
        yield Harness(client, clock)


@pytest.fixture
def harness(tmp_path: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """Rate limits lifted, so that golden tests can call freely; see `limited` for the seed's limits."""
    yield from _harness(tmp_path, NO_RATE_LIMITS, backend, monkeypatch)


@pytest.fixture
def limited(tmp_path: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """The seed's rate limits, on a fake clock."""
    yield from _harness(tmp_path, {}, backend, monkeypatch)


class LiveServer:
    def __init__(
        self, base: str, data_dir: Path, process: subprocess.Popen[bytes], env: dict[str, str], log: Path
    ) -> None:
        self.base = base
        self.data_dir = data_dir
        self.process = process
        self.env = env
        """The server's environment: the CLI reaches its store with the same settings."""
        self.log = log
        """What the server wrote to stdout and stderr."""

    def cli(self, *args: str) -> Any:
        """Run the `fieldstation` command (in this process, with the server's settings) against this server's
        store; parse its JSON output."""
        result = CliRunner().invoke(
            cli_app, [*args, "--json", "--data-dir", str(self.data_dir)], env=self.env
        )
        assert result.exit_code == 0, (args, result.stderr, result.exception)
        return json.loads(result.stdout)

    def demo_credentials(self) -> dict[str, Any]:
        return dict(json.loads((self.data_dir / "demo-credentials.json").read_text()))

    def instathings_token(self) -> str:
        """An access token of the demo project's Instathings client, over HTTP."""
        client = self.demo_credentials()["instathings"]
        response = httpx.post(
            f"{self.base}/instathings/authentication/v1/oauth/token",
            json={"clientId": client["client_id"], "clientSecret": client["client_secret"]},
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


def start_server(data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> LiveServer:
    port = free_port()
    log = (data_dir.parent / f"server-{port}.log").open("wb")
    environment = {**os.environ, "FIELDSTATION_ACCESS_LOG": "0", **(env or {})}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fieldstation",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            *extra,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=environment,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {Path(log.name).read_text()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return LiveServer(base, data_dir, process, environment, Path(log.name))
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not start within 60 s: {Path(log.name).read_text()}")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, backend: Backend) -> Iterator[LiveServer]:
    """A real `fieldstation serve` process on a new data dir (so with the demo project), seed rate limits."""
    server = start_server(tmp_path_factory.mktemp("live") / "data", env=backend.environment())
    yield server
    server.process.terminate()
    server.process.wait(timeout=10)
