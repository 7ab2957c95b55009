"""The gateway's on-premise API, with the cloud switched off (no hub at all): the seed's REST curl line,
paging and sorting, the seed's Node example with socket.io-client 4 and 2 over every transport, the seed's
raw EIO=3 WebSocket line, local control and status of the Shelly plug, and local data kept across a restart."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.gateway.shelly import ShellyPlug
from tests.services import free_port

NODE = Path(__file__).parent / "node"


class LocalGateway:
    def __init__(self, root: Path, plug: ShellyPlug) -> None:
        self.root, self.port = root, free_port()
        self.env = root / ".env"
        self.env.write_text(
            "PROJECT_ID=local\nPARENT_DEVICE_ID=gw00001\nCLOUD_ENABLED=false\nON_PREMISE_ENABLED=true\n"
            f"ON_PREMISE_PORT={self.port}\nON_PREMISE_HOST=127.0.0.1\n"
        )
        self.cli(
            "device", "add", "--id", "probe01", "--type", "virtual", "--parameters", '{"frequency": 0.5}'
        )
        self.cli("device", "add", "--id", "plug0001", "--type", "http", "--parameters",
                 json.dumps({"host": plug.host, "frequency": 0}))  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None
        self.base = f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "fieldstation", "gateway", *args, "--config", str(self.env)],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fieldstation", "gateway", "run", "--config", str(self.env)],
            stdout=(self.root / "agent.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/device/v1/devices/probe01/data").status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError((self.root / "agent.log").read_text()[-3000:])

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=15)
            self.process = None

    def page(self, **query: Any) -> httpx.Response:
        return httpx.get(f"{self.base}/device/v1/devices/probe01/data", params=query)


@pytest.fixture(scope="module")
def plug() -> Iterator[ShellyPlug]:
    shelly = ShellyPlug()
    yield shelly
    shelly.close()


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory, plug: ShellyPlug) -> Iterator[LocalGateway]:
    gateway = LocalGateway(tmp_path_factory.mktemp("on-premise"), plug)
    gateway.start()
    deadline = time.monotonic() + 20
    while gateway.page().json()["totalItems"] < 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    yield gateway
    gateway.stop()


def test_the_seeds_curl_line(local: LocalGateway) -> None:
    # curl "http://YourGatewayIpAddress:PORT/device/v1/devices/:deviceId/data?page=1&perPage=1&sort=-ts"
    done = subprocess.run(
        ["curl", "-s", f"{local.base}/device/v1/devices/probe01/data?page=1&perPage=1&sort=-ts"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    body = json.loads(done.stdout)
    assert set(body) == {"data", "totalItems"} and body["totalItems"] >= 4
    [record] = body["data"]
    assert set(record) == {"_id", "data", "deviceId", "ts"}
    assert len(record["_id"]) == 24 and int(record["_id"], 16) >= 0
    assert record["data"]["type"] == "data" and "value" in record["data"]["message"]["data"]
    assert record["deviceId"] == "probe01"
    assert len(record["ts"]) == 24 and record["ts"].endswith("Z") and record["ts"][19] == "."


def test_paging_and_sorting(local: LocalGateway) -> None:
    total = local.page().json()["totalItems"]
    ascending = local.page(perPage=100).json()["data"]
    assert [r["ts"] for r in ascending] == sorted(r["ts"] for r in ascending)
    assert local.page(sort="+ts", perPage=100).json()["data"][:3] == ascending[:3]
    newest = local.page(sort="-ts", perPage=2).json()["data"]
    assert newest[0]["ts"] >= ascending[-1]["ts"] and newest[0]["ts"] > newest[1]["ts"]
    default = local.page().json()  # records keep arriving: compare with the total of the same answer
    assert len(default["data"]) == min(10, default["totalItems"])  # perPage defaults to 10
    second = local.page(page=2, perPage=2).json()["data"]
    assert second == ascending[2:4]
    beyond = local.page(page=10**6).json()  # past the end: no records, the total still told
    assert beyond["data"] == [] and beyond["totalItems"] >= total
    first_ms = (
        int(time.mktime(time.strptime(ascending[0]["ts"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone) * 1000
    )
    window = local.page(start=first_ms, end=first_ms + 999, perPage=100).json()
    assert window["data"] and all(r["ts"].startswith(ascending[0]["ts"][:19]) for r in window["data"])


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"perPage": "0"}, "perPage must be a whole number from 1 to 100"),
        ({"perPage": "101"}, "perPage must be a whole number from 1 to 100"),
        ({"page": "0"}, "page must be a whole number from 1"),
        ({"page": "²"}, "page must be a whole number"),
        ({"sort": "value"}, "sort must be ts, +ts or -ts"),
        ({"start": "1"}, "start and end must be given together"),
        ({"start": "5", "end": "1"}, "start must not be after end"),
        ({"end": "-1", "start": "0"}, "end must be a whole number"),
    ],
)
def test_bad_parameters_get_a_400_that_says_what_is_wrong(
    local: LocalGateway, query: dict[str, str], says: str
) -> None:
    response = local.page(**query)
    assert response.status_code == 400 and says in response.json()["message"]


def test_an_unknown_device_is_a_404_and_a_malformed_id_a_400(local: LocalGateway) -> None:
    assert httpx.get(f"{local.base}/device/v1/devices/nosuch01/data").status_code == 404
    assert httpx.get(f"{local.base}/device/v1/devices/short/data").status_code == 400


def _node(version: str, base: str, transport: str) -> list[dict[str, Any]]:
    if shutil.which("node") is None or not (NODE / "node_modules").exists():
        if os.environ.get("CI") == "true":
            pytest.fail("Node.js and the socket.io clients (scripts/setup installs them) are needed under CI")
        pytest.skip("Node.js or the socket.io test clients are missing (scripts/setup installs them)")
    done = subprocess.run(
        ["node", str(NODE / "listen.js"), version, base, "probe01", transport],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0, (done.stdout, done.stderr)
    return events


@pytest.mark.parametrize("transport", ["default", "polling", "websocket"])
@pytest.mark.parametrize("version", ["4", "2"])
def test_the_seeds_node_example_receives_every_event(
    local: LocalGateway, version: str, transport: str
) -> None:
    events = _node(version, local.base, transport)
    by_name = {event["event"]: event for event in events}
    assert "connect" in by_name
    data = by_name["data"]["payload"]
    assert data["deviceId"] == "probe01" and "value" in data["payload"] and data["ts"].endswith("Z")
    assert (
        by_name["data_probe01"]["payload"] == data["payload"] or "value" in by_name["data_probe01"]["payload"]
    )
    device = by_name["probe01"]["payload"]
    assert device["action"] == "data" and "value" in device["payload"]
    if transport != "default":
        assert {e["transport"] for e in events if "transport" in e} == {transport}


def test_the_seeds_raw_eio3_websocket_line(local: LocalGateway) -> None:
    # wscat -c 'ws://localhost:1234/socket.io/?EIO=3&transport=websocket'
    with connect(f"ws://127.0.0.1:{local.port}/socket.io/?EIO=3&transport=websocket") as ws:
        opened = ws.recv(timeout=5)
        assert isinstance(opened, str) and opened.startswith("0")
        assert {"sid", "upgrades", "pingInterval", "pingTimeout"} <= set(json.loads(opened[1:]))
        assert ws.recv(timeout=5) == "40"
        ws.send("2")  # an EIO3 client pings; the server answers
        seen: set[str] = set()
        deadline = time.monotonic() + 10
        while len(seen) < 4 and time.monotonic() < deadline:
            message = ws.recv(timeout=5)
            assert isinstance(message, str)
            if message == "3":
                seen.add("pong")
            elif message.startswith("42"):
                seen.add(json.loads(message[2:])[0])
        assert seen == {"pong", "data", "data_probe01", "probe01"}


def test_control_and_status_without_the_cloud(local: LocalGateway, plug: ShellyPlug) -> None:
    answer = httpx.post(
        f"{local.base}/device/v1/control/plug0001/set",
        params={"turn": "on"},
        headers={"instathings-path": "/relay/0", "instathings-method": "GET"},
    )
    assert answer.status_code == 200 and plug.on
    with connect(f"ws://127.0.0.1:{local.port}/socket.io/?EIO=4&transport=websocket") as ws:
        assert str(ws.recv(timeout=5)).startswith("0")
        ws.send("40")
        assert str(ws.recv(timeout=5)).startswith("40{")
        asked = httpx.post(
            f"{local.base}/device/v1/control/plug0001/status", headers={"instathings-path": "/status"}
        )
        assert asked.status_code == 202
        fetched = httpx.get(f"{local.base}{asked.headers['Location']}").json()
        assert fetched["response"] == {"type": "data", "message": {"data": plug.status()}}
        events: dict[str, Any] = {}
        deadline = time.monotonic() + 10
        while len(events) < 3 and time.monotonic() < deadline:
            message = str(ws.recv(timeout=5))
            if message.startswith("42"):
                name, payload = json.loads(message[2:])
                if name in ("status", "status_plug0001") or (
                    name == "plug0001" and payload["action"] == "status"
                ):
                    events[name] = payload
    assert events["status"]["deviceId"] == "plug0001" and events["status"]["payload"] == plug.status()
    assert events["status_plug0001"] == plug.status()
    assert events["plug0001"]["payload"] == plug.status()


def test_local_data_survives_a_restart(local: LocalGateway) -> None:
    before = local.page(perPage=100).json()
    local.stop()
    local.start()
    after = local.page(perPage=100).json()
    assert after["totalItems"] >= before["totalItems"]
    assert after["data"][: len(before["data"])] == before["data"]


@pytest.mark.parametrize(
    "body",
    [b"not a payload", b"99999:40", b"\xff\xfe", b"3:abc" * 300_000],
)
def test_a_bad_polling_body_is_refused_and_the_session_goes_on(local: LocalGateway, body: bytes) -> None:
    opened = httpx.get(f"{local.base}/socket.io/", params={"EIO": "3", "transport": "polling"}).text
    sid = json.loads(opened[opened.index("{") : opened.index("}") + 1])["sid"]
    target = f"{local.base}/socket.io/?EIO=3&transport=polling&sid={sid}"
    assert httpx.post(target, content=body).status_code == 400
    assert httpx.post(target, content=b"1:2").text == "ok"  # a ping, answered with a pong
    assert "3" in httpx.get(target, timeout=30).text


def test_a_chunked_body_past_the_limit_is_refused_as_it_comes(local: LocalGateway, plug: ShellyPlug) -> None:
    """A chunked body declares no length: it was read whole (300 MB took the agent to 477 MB) before its
    JSON was looked at."""

    def body() -> Iterator[bytes]:
        for _ in range(64):  # 4 MiB in all, 64 KiB at a time
            yield b" " * 65_536

    was = plug.on  # the plug is the module's: another test may have switched it
    refused = httpx.post(f"{local.base}/device/v1/control/plug0001/set", content=body())
    assert refused.status_code == 413
    assert plug.on == was  # nothing reached it
