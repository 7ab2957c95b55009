"""A whole site for the link's tests: a throwaway Mosquitto with TLS and client certificates (configured by
`fieldstation mqtt mosquitto-config`), a hub (`fieldstation serve`) pointed at it, a live project's gateway
with its certificate bundle, the agent (`fieldstation gateway run --bundle`) as a process, and a WebSocket
subscriber collecting the project's events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from fieldstation.link.topics import Address
from tests.conftest import LiveServer, start_server
from tests.services import Mosquitto, free_port

GATEWAY_TYPE = "4023bd5d-9f88-4761-97c2-0e682aef5437"
VIRTUAL_TYPE = "5f0d7b9a-0c1e-4d2f-9a3b-4c5d6e7f8a9b"
SHELLY_TYPE = "01c2fd9f-fb3a-45cf-8be3-97e00b7510c6"
BRIDGE_TYPE = "7e1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7"


def cli(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "fieldstation", *args, "--data-dir", str(data_dir)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    return done.stdout


class Events:
    """Every WebSocket event of the project, as it arrives."""

    def __init__(self, url: str) -> None:
        self.seen: list[dict[str, Any]] = []
        self._socket = connect(url, open_timeout=10)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for message in self._socket:
                self.seen.append(json.loads(message))
        except ConnectionClosed:
            pass

    def wait(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = 20, what: str = ""
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in list(self.seen):
                if match(event):
                    return event
            time.sleep(0.05)
        actions = [e["action"] for e in self.seen]
        raise AssertionError(f"no {what or 'matching'} event within {timeout} s; seen: {actions}")

    def close(self) -> None:
        self._socket.close()


class Site:
    def __init__(
        self,
        root: Path,
        *,
        embedded: bool = False,
        hub_env: dict[str, str] | None = None,
        hub_args: tuple[str, ...] = (),
    ) -> None:
        """With Mosquitto (the production set-up), or with the hub's embedded broker; `hub_env` and
        `hub_args` add to the hub's settings (several workers, say)."""
        self.root = root
        self.data_dir = root / "hub"
        self.data_dir.mkdir(parents=True)
        self.broker_port = free_port()
        self.broker: Mosquitto | None = None
        shared = hub_env or {}  # the hub's database, for the CLI as for the server
        if embedded:
            self.hub_env = {"FIELDSTATION_MQTT_PORT": str(self.broker_port)}
        else:
            config = cli(
                self.data_dir,
                "mqtt",
                "mosquitto-config",
                "--port",
                str(self.broker_port),
                "--host",
                "127.0.0.1",
                env=shared,
            )
            (root / "mosquitto.conf").write_text(config)
            self.broker = Mosquitto(root / "mosquitto.conf", self.broker_port)
            self.broker.start()
            self.hub_env = {"FIELDSTATION_MQTT_URL": f"mqtts://127.0.0.1:{self.broker_port}"}
        self.hub_env |= shared
        self.hub_args = hub_args
        self.server: LiveServer = start_server(self.data_dir, *hub_args, env=self.hub_env)
        cli(self.data_dir, "project", "configure", "demo", "--instathings-env", "live", env=shared)
        token = self.server.instathings_token()
        self.http = httpx.Client(base_url=self.api, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        self.gateway = self.call(
            "POST", "/device/v1/devices", json={"name": "gw", "isGateway": True, "type": GATEWAY_TYPE}
        )
        self.project = self.gateway["projectId"]
        bundle = self.http.post(f"/devices/{self.gateway['id']}/credentials/certificate")
        assert bundle.status_code == 200 and bundle.headers["content-type"] == "application/zip", bundle.text
        self.bundle = root / "gw.zip"
        self.bundle.write_bytes(bundle.content)
        ws = self.server.base.replace("http://", "ws://")
        self.events = Events(f"{ws}/instathings/ws?project={self.project}&access_token={token}")
        self.agent: subprocess.Popen[bytes] | None = None
        self.agent_log = root / "agent.log"

    @property
    def api(self) -> str:
        return f"{self.server.base}/instathings"

    def call(self, method: str, path: str, **kw: Any) -> Any:
        response = self.http.request(method, path, **kw)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def add_device(self, name: str, device_type: str, parameters: dict[str, Any]) -> dict[str, Any]:
        """A device of the gateway, created through the cloud API (which sends it to the gateway to pair)."""
        body = {
            "name": name,
            "type": device_type,
            "parentDevice": self.gateway["id"],
            "parameters": parameters,
        }
        return dict(self.call("POST", "/device/v1/devices", json=body))

    def pair(self, name: str, device_type: str, parameters: dict[str, Any]) -> dict[str, Any]:
        """`add_device`, once the gateway has reported it paired."""
        device = self.add_device(name, device_type, parameters)
        self.events.wait(about("paired", device["id"]), what=f"{name} paired")
        return device

    def start_agent(self, config: Path | None = None, *extra: str) -> None:
        source = ["--bundle", str(self.bundle)] if config is None else ["--config", str(config)]
        data = ["--data-dir", str(self.root / "agent"), "--log-level", "debug", *extra]
        self.agent = subprocess.Popen(
            [sys.executable, "-m", "fieldstation", "gateway", "run", *source, *data],
            stdout=self.agent_log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def restart_hub(self) -> None:
        self.server.process.terminate()
        self.server.process.wait(timeout=15)
        self.server = start_server(self.data_dir, *self.hub_args, env=self.hub_env)
        self.http.base_url = httpx.URL(self.api + "/")

    def stop_agent(self, sig: int = signal.SIGTERM) -> None:
        if self.agent is not None:
            self.agent.send_signal(sig)
            self.agent.wait(timeout=15)
            self.agent = None

    def close(self) -> None:
        self.stop_agent(signal.SIGKILL)
        self.events.close()
        self.server.process.terminate()
        self.server.process.wait(timeout=15)
        if self.broker is not None:
            self.broker.stop()


def about(action: str, device_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda event: event["action"] == action and event["payload"].get("id") == device_id


def exchange_as_gateway(site: Site) -> None:
    """The broker takes the certificate's identity as the user name: the gateway's publications to another gateway's or another project's topics are
    dropped, its own pass."""
    other = site.call(
        "POST", "/device/v1/devices", json={"name": "gw2", "isGateway": True, "type": GATEWAY_TYPE}
    )
    folder = site.bundle.with_suffix("")
    files = site.data_dir / "mqtt"

    async def exchange() -> list[str]:
        def tls(certificate: Path, key: Path) -> ssl.SSLContext:
            context = ssl.create_default_context(cafile=str(files / "ca.pem"))
            context.load_cert_chain(str(certificate), str(key))
            return context

        seen: list[str] = []
        async with (
            aiomqtt.Client(
                "127.0.0.1",
                site.broker_port,
                identifier="observer",
                tls_context=tls(files / "hub.pem", files / "hub.key"),
            ) as hub,
            aiomqtt.Client(
                "127.0.0.1",
                site.broker_port,
                identifier="intruder",
                tls_context=tls(folder / "certificate.pem", folder / "private.key"),
            ) as gateway,
        ):
            await hub.subscribe("probe/#")
            await hub.subscribe("status/#")
            own = Address("live", site.project, site.gateway["id"])
            for target in (
                Address("live", site.project, other["id"]),
                Address("live", "elsewhere", site.gateway["id"]),
                own,
            ):
                await gateway.publish(target.topic("discover", "probe"), b"{}", qos=1)
                await hub.subscribe(target.topic("discover", "probe"))
            await gateway.publish(own.topic("discover", "probe"), b"{}", qos=1)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.5):
                    async for message in hub.messages:
                        seen.append(str(message.topic))
        return seen

    seen = asyncio.run(exchange())
    assert seen == [f"discover/{site.project}/{site.gateway['id']}/probe"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    built = Site(tmp_path_factory.mktemp("site"))
    try:
        built.start_agent()
        yield built
    finally:
        built.close()
