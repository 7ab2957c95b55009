"""`fieldstation device edit` and `device remove` against a running hub: the next request of every API sees
the change, the readings already stored included."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fieldstation.codecs import awt_frame
from tests.cli.test_cli import Ran, fieldstation
from tests.conftest import START_S, LiveServer, basic, start_server

pytestmark = pytest.mark.live
EUI = "04C46100008F2C4F"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("edit") / "data", "--no-demo")
    yield live
    live.process.terminate()
    live.process.wait(timeout=10)


def _cli(server: LiveServer, *args: str) -> Ran:
    return fieldstation(server.data_dir, *args, check=False, env=server.env)


def _awt(server: LiveServer, awt: dict[str, str]) -> httpx.Client:
    token = httpx.post(
        f"{server.base}/awt/v2/token",
        headers={"X-API-KEY": awt["api_key"], "Authorization": basic(awt["username"], awt["password"])},
    ).json()["token"]
    return httpx.Client(
        base_url=f"{server.base}/awt/v2",
        headers={"X-API-KEY": awt["api_key"], "Authorization": f"Bearer {token}"},
    )


def test_a_new_tag_id_shows_in_the_next_request(server: LiveServer) -> None:
    awt: dict[str, Any] = server.cli("project", "create", "edited")["awt"]
    server.cli("device", "add", "--project", "edited", "--tag-id", "1337", "--eui", EUI, "--name", "Tembo")
    frame = awt_frame.encode(tag_id=1337, fix_time=START_S, latitude=-24.0, longitude=31.5, voltage=3.8)
    body = {
        "end_device_ids": {"dev_eui": EUI},
        "uplink_message": {"frm_payload": base64.b64encode(frame).decode()},
    }
    uplink = httpx.post(
        f"{server.base}/awt/v2/ttn-webhook",
        json=body,
        headers={"X-API-KEY": awt["api_key"], "Authorization": basic(awt["username"], awt["password"])},
    )
    assert uplink.status_code == 201, uplink.text
    api = _awt(server, awt)
    assert [r["tagId"] for r in api.get("/data").json()] == [1337]

    edited = _cli(
        server,
        "device",
        "edit",
        "1337",
        "--project",
        "edited",
        "--tag-id",
        "42",
        "--name",
        "Tembo II",
        "--json",
    )
    assert edited.returncode == 0, edited.stderr

    assert [r["tagId"] for r in api.get("/data/archive", params={"start": START_S - 10}).json()] == [42]
    assert [d["tag_id"] for d in api.get("/devices").json()] == ["42"]
    assert api.get("/data/1337").status_code == 404
    shown = server.cli("device", "show", "--project", "edited", "--tag-id", "42")
    assert (shown["name"], shown["eui"]) == ("Tembo II", EUI)


def test_edit_refuses_what_it_cannot_take(server: LiveServer) -> None:
    server.cli("project", "create", "careful")
    server.cli("device", "add", "--project", "careful", "--tag-id", "1", "--eui", "0000000000000001")
    server.cli("device", "add", "--project", "careful", "--tag-id", "2", "--eui", "0000000000000002")
    taken = _cli(server, "device", "edit", "2", "--project", "careful", "--tag-id", "1")
    assert taken.returncode == 2 and "already" in taken.stderr
    for option, value, says in (
        ("--tag-id", "9000000000", "between 0 and"),
        ("--eui", "zz", "16 hexadecimal digits"),
        ("--name", "bad\nname", "control characters"),
    ):
        refused = _cli(server, "device", "edit", "2", "--project", "careful", option, value)
        assert refused.returncode == 2, (option, refused.stderr)
        assert says in refused.stderr, (option, refused.stderr)
    missing = _cli(server, "device", "edit", "77", "--project", "careful", "--name", "x")
    assert missing.returncode == 2 and "no device '77'" in missing.stderr


def test_remove_takes_the_device_and_its_readings_from_every_view(server: LiveServer) -> None:
    created = server.cli("project", "create", "pruned")
    server.cli("device", "add", "--project", "pruned", "--tag-id", "5", "--eui", EUI)
    removed = _cli(server, "device", "remove", EUI.lower(), "--project", "pruned")
    assert removed.returncode == 0, removed.stderr
    assert _awt(server, created["awt"]).get("/devices").json() == []
    astrocast = httpx.get(
        f"{server.base}/astrocast/v1/devices", headers={"x-api-key": created["astrocast"]["api_key"]}
    )
    assert astrocast.json() == []
