"""The Instathings cloud API: token, devices, data, virtual devices, certificates, catalogue, control,
logs and errors, pinned to the seed's shapes."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from sqlalchemy import text

from fieldstation.codecs import awt_frame
from fieldstation.core.clock import MICROS
from fieldstation.core.models import LogLine, NewDevice, NewUplink
from fieldstation.core.retention import purge
from fieldstation.core.values import MAX_JSON_DEPTH
from tests.conftest import START_S, Harness, token_headers
from tests.dialects.instathings.conftest import Client


def test_token_shape_and_failures(it: Client) -> None:
    path = "/instathings/authentication/v1/oauth/token"
    response = it.harness.client.post(path, json={"clientId": it.client_id, "clientSecret": it.client_secret})
    assert list(response.json()) == ["access_token"]
    assert response.json()["access_token"].count(".") == 2
    for body in (
        {"clientId": it.client_id, "clientSecret": "wrong"},
        {"clientId": "other", "clientSecret": it.client_secret},
    ):
        assert it.harness.client.post(path, json=body).status_code == 401
    assert it.harness.client.post(path, json={"clientId": it.client_id}).status_code == 400
    assert it.harness.client.post(path, content=b"{").status_code == 400


def test_bearer_token_needed_and_expires(it: Client) -> None:
    assert it.call("GET", "/device/v1/devices").status_code == 200
    bare = it.harness.client.get("/instathings/device/v1/devices")
    assert bare.status_code == 401
    assert "Bearer" in bare.json()["message"]
    awt_token = it.harness.awt(it.created)["Authorization"]
    assert (
        it.harness.client.get(
            "/instathings/device/v1/devices", headers={"Authorization": awt_token}
        ).status_code
        == 401
    )
    it.harness.clock.advance(3600)
    expired = it.call("GET", "/device/v1/devices")
    assert expired.status_code == 401
    assert expired.json() == {"message": "Your JWT token is wrong or expired."}


def test_devices_gateways_and_sub_devices(it: Client) -> None:
    gateway = it.device(name="device2", isGateway=True)
    child = it.device(name="doc", isVirtual=True, parentDevice=gateway["id"])
    plain = it.device(name="device1", isVirtual=True)
    assert len(gateway["id"]) == 8
    listed = it.call("GET", "/device/v1/devices").json()
    by_id = {d["id"]: d for d in listed}
    assert by_id[gateway["id"]]["subDevices"] == [child["id"]]
    assert by_id[child["id"]]["parentDevice"] == gateway["id"]
    assert set(by_id[plain["id"]]) >= {
        "projectId",
        "ts",
        "isVirtual",
        "demoActive",
        "id",
        "isGateway",
        "name",
    }
    assert by_id[plain["id"]]["projectId"] == it.project_id
    assert abs(by_id[plain["id"]]["ts"] - START_S * 1000) < 1000
    one = it.call("GET", f"/device/v1/devices/{gateway['id']}").json()
    assert one["subDevices"] == [by_id[child["id"]]]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "x" * 21}, "at most 20"),
        ({"name": ""}, "must not be empty"),
        ({"name": "tab\there"}, "control characters"),
        ({"frequency": 29}, "between 30 and 2592000"),
        ({"frequency": 2**62}, "between 30 and 2592000"),
        ({"frequency": "60"}, "integer of seconds"),
        ({"demoActive": "yes"}, "true or false"),
        ({"color": "red"}, "Cannot change color"),
    ],
)
def test_patch_refuses_what_it_cannot_take(it: Client, body: dict[str, object], message: str) -> None:
    device = it.device(isVirtual=True)
    response = it.call("PATCH", f"/device/v1/devices/{device['id']}", json=body)
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_patch_and_delete(it: Client) -> None:
    device = it.device(isVirtual=True)
    assert (
        it.call(
            "PATCH", f"/device/v1/devices/{device['id']}", json={"name": "New name", "frequency": 45}
        ).json()
        == {}
    )
    changed = it.call("GET", f"/device/v1/devices/{device['id']}").json()
    assert (changed["name"], changed["frequency"]) == ("New name", 45)
    assert it.call("DELETE", f"/device/v1/devices/{device['id']}").json() == {}
    assert it.call("GET", f"/device/v1/devices/{device['id']}").status_code == 404


def test_sub_device_delete(it: Client) -> None:
    gateway = it.device(isGateway=True)
    child = it.device(parentDevice=gateway["id"])
    other = it.device()
    assert (
        it.call("DELETE", f"/devices/{gateway['id']}/subDevice/subDevices/{other['id']}").status_code == 404
    )
    assert it.call("DELETE", f"/devices/{gateway['id']}/subDevice/subDevices/{child['id']}").json() == {}
    assert it.call("GET", f"/device/v1/devices/{gateway['id']}").json()["subDevices"] == []


def test_another_projects_devices_are_invisible(harness: Harness, it: Client) -> None:
    other = Client(harness, harness.project("other"))
    theirs = other.device(isVirtual=True)
    assert all(d["id"] != theirs["id"] for d in it.call("GET", "/device/v1/devices").json())
    for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/data")):
        assert it.call(method, f"/device/v1/devices/{theirs['id']}{path}", json={}).status_code == 404


def test_virtual_device_data_once_per_period(it: Client) -> None:
    device = it.device(isVirtual=True, demoActive=True, frequency=30)
    hub, clock = it.harness.hub, it.harness.clock
    assert it.harness.run(hub.virtual.tick) == 1
    assert it.harness.run(hub.virtual.tick) == 0, "a second tick in the same period produces nothing"
    clock.advance(30)
    assert it.harness.run(hub.virtual.tick) == 1
    page = it.call("GET", f"/device/v1/devices/{device['id']}/data").json()
    assert page["totalItems"] == 2
    record = page["data"][0]
    assert list(record) == ["ts", "deviceId", "data", "ttl", "principal", "id", "clientId"]
    assert record["data"]["isVirtualData"] is True
    assert 0 <= record["data"]["value"] <= 100
    assert (record["clientId"], record["deviceId"]) == ("N/A", device["id"])
    assert page["data"][0]["ts"] > page["data"][1]["ts"], "newest first"
    it.call("PATCH", f"/device/v1/devices/{device['id']}", json={"demoActive": False})
    clock.advance(60)
    assert it.harness.run(hub.virtual.tick) == 0


def test_data_paging_and_window(it: Client) -> None:
    device = it.device(isVirtual=True, demoActive=True, frequency=30)
    for tick in range(12):  # the clock is not advanced past the last: the hub's own ticker adds nothing
        if tick:
            it.harness.clock.advance(30)
        it.harness.run(it.harness.hub.virtual.tick)
    base = f"/device/v1/devices/{device['id']}/data"
    first = it.call("GET", base).json()
    assert (len(first["data"]), first["totalItems"]) == (10, 12)
    second = it.call("GET", base, params={"page": 2, "perPage": 10}).json()
    assert len(second["data"]) == 2
    assert not {r["id"] for r in first["data"]} & {r["id"] for r in second["data"]}
    start = START_S * 1000 + 30_000
    window = it.call("GET", base, params={"start": start, "end": start + 60_000, "perPage": 100}).json()
    assert window["totalItems"] == 3
    for params in ({"perPage": 0}, {"perPage": 101}, {"page": 0}, {"start": "yesterday"}):
        assert it.call("GET", base, params=params).status_code == 400, params


def test_an_awt_trackers_readings_are_its_data(it: Client) -> None:
    harness = it.harness
    tag = harness.device(it.created.project, 1337, "04C46100008F2C4F")
    frame = awt_frame.encode(tag_id=1337, fix_time=START_S - 60, latitude=-24.0, longitude=31.5, voltage=3.8)
    body = {
        "end_device_ids": {"dev_eui": "04C46100008F2C4F"},
        "uplink_message": {"frm_payload": base64.b64encode(frame).decode()},
    }
    assert (
        harness.client.post("/awt/v2/ttn-webhook", json=body, headers=token_headers(it.created)).status_code
        == 201
    )
    page = it.call("GET", f"/device/v1/devices/{tag.short_id}/data").json()
    assert page["totalItems"] == 1
    assert page["data"][0]["data"]["tag_id"] == 1337
    assert page["data"][0]["ts"] == (START_S - 60) * 1000


def test_retention_sets_ttl_and_the_purge_applies_it(it: Client) -> None:
    harness = it.harness
    harness.run(lambda: harness.hub.projects.configure(it.created.project, retention_days=1))
    device = it.device(isVirtual=True, demoActive=True, frequency=30)
    harness.run(harness.hub.virtual.tick)
    # Stopped, so that the hub's own ticker adds no record once the clock jumps a day.
    stop = it.call("PATCH", f"/device/v1/devices/{device['id']}", json={"demoActive": False})
    assert stop.status_code == 200, stop.text
    [record] = it.call("GET", f"/device/v1/devices/{device['id']}/data").json()["data"]
    assert record["ttl"] == START_S + 86_400
    assert harness.run(lambda: purge(harness.hub.store, harness.clock)) == 0
    harness.clock.advance(86_401)
    assert harness.run(lambda: purge(harness.hub.store, harness.clock)) == 1
    it.token = it.new_token()
    assert it.call("GET", f"/device/v1/devices/{device['id']}/data").json()["totalItems"] == 0


def test_sandbox_certificate_json(it: Client) -> None:
    gateway = it.device(name="wrt5ery", isGateway=True, type="4023bd5d-9f88-4761-97c2-0e682aef5437")
    response = it.call("POST", f"/devices/{gateway['id']}/credentials/certificate")
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"certificateId", "credentials", "demoActive", "env", "id", "isGateway", "name", "projectId",
                         "protocols", "subDevices", "ts", "type"}  # fmt: skip
    assert body["env"] == "sandbox"
    certificate = x509.load_pem_x509_certificate(body["credentials"]["certificatePem"].encode())
    assert body["certificateId"] == certificate.fingerprint(hashes.SHA256()).hex()
    assert len(body["certificateId"]) == 64
    assert body["credentials"]["privateKey"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert body["credentials"]["publicKey"].startswith("-----BEGIN PUBLIC KEY-----")
    # The gateway's identity at the broker: its project and its sandbox client id (docs/gateway.md).
    [common_name] = certificate.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    assert common_name.value == f"{body['projectId']}/sandbox-{gateway['id']}"
    not_gateway = it.device()
    assert it.call("POST", f"/devices/{not_gateway['id']}/credentials/certificate").status_code == 400


def test_live_certificate_zip_holds_what_a_gateway_needs(it: Client, tmp_path: Path) -> None:
    it.harness.run(lambda: it.harness.hub.projects.configure(it.created.project, instathings_env="live"))
    gateway = it.device(isGateway=True)
    response = it.call("POST", f"/devices/{gateway['id']}/credentials/certificate")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == [".env", "ca.pem", "certificate.pem", "install.sh", "private.key"]
    env = dict(line.split("=", 1) for line in archive.read(".env").decode().splitlines())
    assert env["PROJECT_ID"] == it.project_id
    assert env["PARENT_DEVICE_ID"] == gateway["id"]
    ca = x509.load_pem_x509_certificate(archive.read("ca.pem"))
    leaf = x509.load_pem_x509_certificate(archive.read("certificate.pem"))
    assert leaf.issuer == ca.subject
    leaf.verify_directly_issued_by(ca)
    assert env["CERTIFICATE_ID"] == leaf.fingerprint(hashes.SHA256()).hex()
    assert archive.getinfo("install.sh").external_attr >> 16 & 0o111
    assert "pip install --quiet --upgrade pip fieldstation" not in archive.read("install.sh").decode()
    # install.sh run for real against a live hub: tests/gateway/test_bundle.py


def test_catalogue(it: Client) -> None:
    assert it.call("GET", "/device/v1/protocols/vRy6GTde").json() == {
        "id": "vRy6GTde",
        "name": "Zigbee",
        "slug": "zigbee",
    }
    assert it.call("GET", "/device/v1/protocols/nope").status_code == 404
    types = it.call("GET", "/device/v1/types").json()
    hue = next(t for t in types if t["model"] == "9290012573A")
    assert sorted(hue) == sorted(["addOn", "description", "fakeSampleLabel", "id", "manufacturer", "model",
                                  "pairingMethods", "physicalParameter", "protocols", "rooms", "space", "type"])  # fmt: skip
    assert it.call("GET", f"/device/v1/types/{hue['id']}").json() == hue
    assert it.call("GET", "/device/v1/types/nope").status_code == 404


def _operations(it: Client, action: str) -> list[tuple[str, str]]:
    """What the hub recorded it asked the gateways, read from the store itself."""
    query = text(
        "SELECT d.short_id, o.request FROM operations o JOIN devices d ON d.id = o.device_id "
        "WHERE o.action = :action ORDER BY o.id"
    )

    async def read() -> list[tuple[str, str]]:
        async with it.harness.hub.store.engine.connect() as conn:  # type: ignore[attr-defined]
            return [(row[0], row[1]) for row in await conn.execute(query, {"action": action})]

    return it.harness.run(read)


def test_control_and_status_polling(it: Client) -> None:
    virtual = it.device(isVirtual=True)
    plug = it.device(name="plug", type="01c2fd9f-fb3a-45cf-8be3-97e00b7510c6")
    assert (
        it.call("POST", f"/device/v1/control/{plug['id']}/set?duration=5", json={"state": "TOGGLE"}).json()
        == {}
    )
    # The command is kept, whole, for the plug's gateway link to take.
    [kept] = _operations(it, "set")
    assert kept[0] == plug["id"]
    assert orjson.loads(kept[1]) == {
        "body": {"state": "TOGGLE"},
        "query": {"duration": "5"},
        "path": None,
        "method": None,
    }
    response = it.call("POST", f"/device/v1/control/{virtual['id']}/status")
    assert response.status_code == 202
    location = response.headers["Location"]
    assert location.startswith("/instathings/device/v1/control/") and location.endswith("/fetch")
    fetched = it.call("GET", location.removeprefix("/instathings"))
    assert fetched.status_code == 200
    body = fetched.json()
    assert list(body) == ["projectId", "response", "ttl", "deviceId", "id"]
    assert body["deviceId"] == virtual["id"]
    assert body["response"]["isVirtualData"] is True
    pending = it.call("POST", f"/device/v1/control/{plug['id']}/status", params={"turn": "on"},
                      headers={"instathings-path": "/relay/0", "instathings-method": "GET"})  # fmt: skip
    poll = pending.headers["Location"].removeprefix("/instathings")
    waiting = it.call("GET", poll)
    assert waiting.status_code == 202
    assert waiting.json()["status"] == "pending"
    it.harness.clock.advance(61)
    it.token = it.new_token()
    late = it.call("GET", poll)
    assert late.status_code == 504
    assert late.json()["status"] == "timeout"
    assert it.call("GET", "/device/v1/control/nothing/fetch").status_code == 404


def test_logs(it: Client) -> None:
    gateway = it.device(isGateway=True)
    device = it.harness.run(
        lambda: it.harness.hub.store.device_by_short_id(it.created.project.id, gateway["id"])
    )
    assert device is not None
    lines = [
        LogLine(device.id, "gate", "LOG", f"line {n}\n", (START_S + n) * MICROS, (START_S + 9) * MICROS)
        for n in range(3)
    ]
    it.harness.run(lambda: it.harness.hub.store.add_log_lines(it.created.project.id, lines))
    logs = it.call("GET", f"/device/v1/devices/{gateway['id']}/gate/logs").json()
    assert logs[0] == {
        "timestamp": START_S * 1000,
        "type": "LOG",
        "message": "line 0\n",
        "ingestionTime": (START_S + 9) * 1000,
    }
    window = it.call("GET", f"/device/v1/devices/{gateway['id']}/gate/logs",
                     params={"start": (START_S + 1) * 1000, "end": (START_S + 2) * 1000}).json()  # fmt: skip
    assert [line["message"] for line in window] == ["line 1\n", "line 2\n"]
    half = it.call("GET", f"/device/v1/devices/{gateway['id']}/gate/logs", params={"start": 1})
    assert half.status_code == 400
    assert "together" in half.json()["message"]


def test_errors(it: Client) -> None:
    assert it.call("GET", "/device/v1/nothing").status_code == 404
    assert "message" in it.call("GET", "/device/v1/nothing").json()
    wrong = it.call("PUT", "/device/v1/devices")
    assert wrong.status_code == 405
    assert "message" in wrong.json()
    html = it.call("GET", "/device/v1/devices", headers={"Accept": "text/html"})
    assert html.status_code == 406
    assert html.json() == {"message": "You requested a format that isn't json."}
    for accept in (
        "application/json",
        "*/*",
        "application/json, text/plain",
        "text/html, application/*;q=0.8",
    ):
        assert it.call("GET", "/device/v1/devices", headers={"Accept": accept}).status_code == 200, accept
    assert it.call("POST", "/device/v1/devices", content=b"[1]").status_code == 400
    assert (
        it.call("POST", "/device/v1/devices", json={"name": "x", "parentDevice": "nope"}).status_code == 400
    )


def test_per_client_rate_limit(limited: Harness) -> None:
    client = Client(limited, limited.project())
    statuses = [client.call("GET", "/device/v1/types").status_code for _ in range(101)]
    assert statuses[:99] == [200] * 99
    assert statuses[-1] == 429
    limited.clock.advance(1)
    assert client.call("GET", "/device/v1/types").status_code == 200


def test_store_down_is_503_and_a_crash_500(it: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from fieldstation.store.database import connect

    async def crash(*_: object) -> None:
        raise RuntimeError("bug")

    it.call("GET", "/device/v1/devices")  # credential and project are cached now
    # A database that cannot be opened: the driver's error must come out as the store's StoreUnavailable.
    monkeypatch.setattr(it.harness.hub.store, "engine", connect("sqlite+aiosqlite:////proc/no/such.db"))
    response = it.call("GET", "/device/v1/devices")
    assert response.status_code == 503
    assert response.json() == {"message": "Service is down: the data store cannot be reached."}
    monkeypatch.setattr(it.harness.hub.store, "devices", crash)
    response = it.call("GET", "/device/v1/devices")
    assert response.status_code == 500
    assert response.json() == {"message": "We had a problem with our server. Try again later."}


def test_a_value_as_deep_as_the_hub_takes_is_listed(it: Client) -> None:
    """The deepest JSON the hub takes (`MAX_JSON_DEPTH`) still fits the views that wrap it: a gateway's
    device sent 252 levels and its data page failed with a 500 from then on."""
    harness = it.harness
    device = harness.run(
        lambda: harness.hub.devices.add(it.created.project, NewDevice(name="bridge", codec="json"))
    )
    deepest = b'{"a": ' + b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1) + b"}"
    uplink = NewUplink(source="test", payload=deepest, received_us=harness.clock.now_us())
    [stored] = harness.run(lambda: harness.hub.ingestor.ingest(device, [uplink]))
    page = it.call("GET", f"/device/v1/devices/{device.short_id}/data")
    assert page.status_code == 200, page.text
    assert page.json()["data"][0]["id"] == stored.uid
