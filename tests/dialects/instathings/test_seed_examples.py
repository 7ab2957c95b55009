"""Every curl line of the Instathings seed's cloud part, run against a live server with only the host,
the token and the `:placeholders` filled in."""

from __future__ import annotations

import re
import subprocess
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
    expected = [
        ('/device/v1/devices"', child, 200),
        ('/device/v1/devices/:deviceId"', gateway, 200),
        ("/credentials/certificate", gateway, 200),
        ('/data"', child, 200),
        ("-XPATCH", child, 200),
        (
            "-XDELETE -H 'Authorization: Bearer abc.def.ghi' 'http://yourProjectName.instathings.io/device/v1/devices/:deviceId'",
            spare,
            200,
        ),
        ("/subDevice/subDevices/", other_child, 200),
        ("/set'", child, 200),
        ("/logs", gateway, 200),
        ("/protocols/", child, 200),
        ('/device/v1/types"', child, 200),
        ("/types/:typeId", child, 200),
    ]
    for marker, device, wanted in expected:
        [command] = [c for key, c in by_path.items() if marker in key]
        status, body, _ = run(command, with_ids(device))
        assert status == wanted, (marker, body)
        assert httpx.Response(200, content=body).json() is not None
    [status_curl] = [c for c in curls if "/status'" in c]
    status, body, headers = run(status_curl, with_ids(child))
    assert status == 202
    request_id = headers["location"].rstrip("\r").split("/")[-2]
    [fetch_curl] = [c for c in curls if "/fetch'" in c]
    status, body, _ = run(fetch_curl, with_ids(child) | {":requestId": request_id})
    assert status == 200, body
    assert httpx.Response(200, content=body).json()["deviceId"] == child
