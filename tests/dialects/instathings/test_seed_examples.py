"""Every curl line of the Instathings seed's cloud part, run against a live server with only the host,
the token and the `:placeholders` filled in."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import GOLDEN, LiveServer

pytestmark = pytest.mark.live

SEED = (GOLDEN / "seeds" / "002_8429c5392d8771e4.txt").read_text()
HUE = "4023br5d-9f88-4f31-97c2-0e682aef543f"


def seed_curls() -> list[str]:
    """The cloud part's curl commands as written; a line that the seed breaks without a backslash is joined."""
    lines = SEED[: SEED.index("On-premise REST API")].splitlines()
    commands = []
    for start, line in enumerate(lines):
        if not line.startswith("curl "):
            continue
        block = [line]
        for follow in lines[start + 1 :]:
            open_quote = "\n".join(block).count("'") % 2 == 1
            if open_quote or block[-1].endswith("\\"):
                block.append(follow)
            elif follow.lstrip().startswith("-"):
                block[-1] += " \\"
                block.append(follow)
            else:
                break
        commands.append("\n".join(block))
    return commands


def run(command: str, values: dict[str, str]) -> tuple[int, str, dict[str, str]]:
    for placeholder, value in values.items():
        command = command.replace(placeholder, value)
    command = re.sub(r"https?://yourProjectName\.instathings\.io", values["BASE"], command)
    done = subprocess.run(["bash", "-c", command + " -s -D /dev/stderr -w '\\n%{http_code}'"],
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    body, status = done.stdout.rsplit("\n", 1)
    headers = dict(line.split(": ", 1) for line in done.stderr.splitlines() if ": " in line)
    return int(status), body, {k.lower(): v for k, v in headers.items()}


def test_every_cloud_curl_of_the_seed(live_server: LiveServer) -> None:
    credentials = live_server.demo_credentials()["instathings"]
    base = f"{live_server.base}/instathings"
    curls = seed_curls()
    assert len(curls) == 15, [c.splitlines()[0] for c in curls]
    values: dict[str, Any] = {"BASE": base, "yourClientId": credentials["client_id"],
                              "yourClientSecret": credentials["client_secret"]}  # fmt: skip
    status, body, _ = run(curls[0], values)
    assert status == 200, body
    token = httpx.Response(200, content=body).json()["access_token"]
    values["abc.def.ghi"] = token
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
    gateway = api.post("/device/v1/devices", json={"name": "doctest", "isGateway": True}).json()["id"]
    child = api.post("/device/v1/devices", json={"name": "doc", "isVirtual": True, "demoActive": True,
                                                  "frequency": 30, "parentDevice": gateway}).json()["id"]  # fmt: skip
    spare = api.post("/device/v1/devices", json={"name": "spare", "isVirtual": True}).json()["id"]
    other_child = api.post("/device/v1/devices", json={"name": "gone", "parentDevice": gateway}).json()["id"]

    def with_ids(device: str) -> dict[str, str]:
        return values | {":parentDeviceId": gateway, ":deviceId": device, ":containerId": "gate",
                         ":protocolId": "vRy6GTde", ":typeId": HUE}  # fmt: skip

    by_path = {c.splitlines()[0] + c: c for c in curls}

    def is_device_list(body: Any) -> bool:
        return {child, gateway} <= {d["id"] for d in body} and all("projectId" in d for d in body)

    def is_gateway(body: Any) -> bool:
        return body["id"] == gateway and child in [d["id"] for d in body["subDevices"]]

    def is_certificate(body: Any) -> bool:
        return body["id"] == gateway and set(body["credentials"]) == {
            "certificatePem",
            "privateKey",
            "publicKey",
        }

    def is_data_page(body: Any) -> bool:
        return set(body) == {"data", "totalItems"} and body["totalItems"] == len(body["data"]) >= 1

    expected: list[tuple[str, str, Callable[[Any], bool]]] = [
        ('/device/v1/devices"', child, is_device_list),
        ('/device/v1/devices/:deviceId"', gateway, is_gateway),
        ("/credentials/certificate", gateway, is_certificate),
        ('/data"', child, is_data_page),
        ("-XPATCH", child, lambda body: body == {}),
        (
            "-XDELETE -H 'Authorization: Bearer abc.def.ghi' 'http://yourProjectName.instathings.io/device/v1/devices/:deviceId'",
            spare,
            lambda body: body == {},
        ),
        ("/subDevice/subDevices/", other_child, lambda body: body == {}),
        ("/set'", child, lambda body: body == {}),
        ("/logs", gateway, lambda body: body == []),
        ("/protocols/", child, lambda body: body == {"id": "vRy6GTde", "name": "Zigbee", "slug": "zigbee"}),
        ('/device/v1/types"', child, lambda body: HUE in [t["id"] for t in body]),
        ("/types/:typeId", child, lambda body: body["id"] == HUE),
    ]
    deadline = time.monotonic() + 10  # the virtual device's first record comes with the hub's next tick
    while (
        api.get(f"/device/v1/devices/{child}/data").json()["totalItems"] == 0 and time.monotonic() < deadline
    ):
        time.sleep(0.2)
    for marker, device, answers_as_the_seed_says in expected:
        [command] = [c for key, c in by_path.items() if marker in key]
        status, body, _ = run(command, with_ids(device))
        assert status == 200, (marker, body)
        assert answers_as_the_seed_says(httpx.Response(200, content=body).json()), (marker, body)
    # What the PATCH and the DELETEs did is visible.
    assert api.get(f"/device/v1/devices/{child}").json()["name"] == "New name"
    assert api.get(f"/device/v1/devices/{spare}").status_code == 404
    assert api.get(f"/device/v1/devices/{other_child}").status_code == 404
    [status_curl] = [c for c in curls if "/status'" in c]
    status, body, headers = run(status_curl, with_ids(child))
    assert status == 202
    request_id = headers["location"].rstrip("\r").split("/")[-2]
    [fetch_curl] = [c for c in curls if "/fetch'" in c]
    status, body, _ = run(fetch_curl, with_ids(child) | {":requestId": request_id})
    assert status == 200, body
    assert httpx.Response(200, content=body).json()["deviceId"] == child
