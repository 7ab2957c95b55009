"""POST /lora, /ttn-webhook, /chirpstack and /actility: real and seed bodies become readings; bad ones
change nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from fieldstation.codecs import awt_frame
from fieldstation.core.models import CredentialKind
from fieldstation.core.projects import CreatedProject
from fieldstation.store import schema as t
from fieldstation.store.repository import Store
from tests.conftest import Harness, basic, token_headers, ttn_uplink

DEEP = b"[" * 300 + b"]" * 300
"""A JSON value nested 300 levels deep."""

GOLDEN = Path(__file__).parents[2] / "golden" / "networks"
SPEC_QUERY = (
    "LrnDevEui=20635F0108000496&LrnFPort=17&LrnInfos=TWA_100002167.1111.AS-1-111974&AS_ID=TWA_100002167.1111.AS"
    "&Time=2021-04-07T08:49:51.551+00:00&Token=196c22898bf95fcf48b72be198c89256410660b9b514539651344baa594ad74f"
)
FIX = {"fix_time": 1_789_000_000, "latitude": -19.1786, "longitude": 23.4531, "voltage": 3.67, "speed": 4,
       "temperature": 31, "payload_type": awt_frame.TYPE_ALTITUDE, "altitude": 950}  # fmt: skip


def frame(tag_id: int, **changes: Any) -> bytes:
    return awt_frame.encode(tag_id=tag_id, **(FIX | changes))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def golden(name: str) -> dict[str, Any]:
    return dict(json.loads((GOLDEN / name).read_text()))


def ttn_real(eui: str, payload: bytes) -> dict[str, Any]:
    body = golden("ttn_v3_uplink.json")
    body["end_device_ids"]["dev_eui"] = eui
    body["uplink_message"]["frm_payload"] = b64(payload)
    return body


def chirpstack_v4(eui: str, payload: bytes) -> dict[str, Any]:
    body = golden("chirpstack_v4_up.json")
    body["deviceInfo"]["devEui"] = eui.lower()
    body["data"] = b64(payload)
    return body


def chirpstack_v3(eui: str, payload: bytes) -> dict[str, Any]:
    body = golden("chirpstack_v3_up_json_v3.json")
    body["devEUI"] = eui
    body["data"] = b64(payload)
    return body


def chirpstack_v3_protobuf(eui: str, payload: bytes) -> dict[str, Any]:
    body = golden("chirpstack_v3_up_protobuf.json")
    body["devEUI"] = b64(bytes.fromhex(eui))
    body["data"] = b64(payload)
    return body


def actility_real(eui: str, payload: bytes) -> dict[str, Any]:
    body = golden("actility_uplink.json")
    body["DevEUI_uplink"]["DevEUI"] = eui
    body["DevEUI_uplink"]["payload_hex"] = payload.hex()
    return body


Body = Callable[[str, bytes], dict[str, Any]]
CASES: list[tuple[str, str, Body]] = [
    ("seed /lora", "/awt/v2/lora", lambda eui, p: {"payload": p.hex(), "eui": eui}),
    ("seed /ttn-webhook", "/awt/v2/ttn-webhook",
     lambda eui, p: {"end_device_ids": {"dev_eui": eui}, "uplink_message": {"frm_payload": b64(p)}}),
    ("seed /chirpstack", "/awt/v2/chirpstack", lambda eui, p: {"devEUI": eui, "data": b64(p)}),
    ("seed /actility", "/awt/v2/actility", lambda eui, p: {"DevEUI": eui, "payload": b64(p)}),
    ("The Things Stack v3", "/awt/v2/ttn-webhook", ttn_real),
    ("ChirpStack v4", "/awt/v2/chirpstack?event=up", chirpstack_v4),
    ("ChirpStack v3 JSON_V3", "/awt/v2/chirpstack?event=up", chirpstack_v3),
    ("ChirpStack v3 protobuf JSON", "/awt/v2/chirpstack?event=up", chirpstack_v3_protobuf),
    ("ThingPark", "/awt/v2/actility", actility_real),
]  # fmt: skip


def uplink_headers(created: CreatedProject) -> dict[str, str]:
    return token_headers(created)


def counts(harness: Harness) -> tuple[int, int, int]:
    assert isinstance(harness.hub.store, Store)
    engine = harness.hub.store.engine

    async def count() -> tuple[int, int, int]:
        async with engine.connect() as conn:
            return (
                await conn.scalar(select(func.count()).select_from(t.uplinks)) or 0,
                await conn.scalar(select(func.count()).select_from(t.readings)) or 0,
                await conn.scalar(select(func.count()).select_from(t.devices)) or 0,
            )

    return harness.run(count)


@pytest.mark.parametrize(("path", "body"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_every_body_becomes_a_reading_with_tag_time_position_and_values(
    harness: Harness, path: str, body: Body
) -> None:
    created = harness.project()
    eui = "04C46100008F2C4F"
    harness.device(created.project, 1337, eui)
    response = harness.client.post(path, json=body(eui, frame(1337)), headers=uplink_headers(created))
    assert response.status_code == 201, response.text
    assert response.json()["duplicate"] is False
    [reading] = harness.client.get("/awt/v2/data", headers=harness.awt(created)).json()
    assert reading["recordId"] == response.json()["recordId"]
    assert reading["tagId"] == 1337
    assert reading["timestamp"] == FIX["fix_time"]
    assert reading["latitude"] == pytest.approx(FIX["latitude"], abs=2e-6)
    assert reading["longitude"] == pytest.approx(FIX["longitude"], abs=2e-6)
    assert (reading["voltage"], reading["batteryPercentage"]) == (3.67, 66.78)
    assert (reading["speed"], reading["temperature"], reading["altitude"]) == (4, 31, 950)


def test_seed_lora_example_frame(harness: Harness) -> None:
    """The seed's own /lora body: the frame decodes (CRC mismatches recorded) into the spec's position."""
    created = harness.project()
    harness.device(created.project, 5, "04C46100008F2C4F")
    body = {"payload": "9300d122700162000500001c6801015f6512ca7e8933289eb1ad40a40000090911de3b8d39051822",
            "eui": "04C46100008F2C4F"}  # fmt: skip
    assert harness.client.post("/awt/v2/lora", json=body, headers=uplink_headers(created)).status_code == 201
    [reading] = harness.client.get("/awt/v2/data", headers=harness.awt(created)).json()
    assert (reading["latitude"], reading["longitude"]) == (-20.216583, 28.219153)
    assert "error" not in reading


def test_network_time_is_the_receive_time_and_raw_body_is_kept(harness: Harness) -> None:
    created = harness.project()
    harness.device(created.project, 1337, "04C46100008F2C4F")
    body = ttn_real("04C46100008F2C4F", frame(1337))
    raw = json.dumps(body).encode()
    response = harness.client.post("/awt/v2/ttn-webhook", content=raw, headers=uplink_headers(created))
    assert response.status_code == 201
    assert isinstance(harness.hub.store, Store)
    engine = harness.hub.store.engine

    async def row() -> Any:
        async with engine.connect() as conn:
            return (await conn.execute(select(t.uplinks))).one()

    stored = harness.run(row)
    assert stored.raw == raw
    assert stored.received_us == 1581520545789585
    assert (stored.f_cnt, stored.f_port, stored.source) == (1, 1, "ttn")


def test_undecodable_payload_is_still_stored(harness: Harness) -> None:
    created = harness.project()
    harness.device(created.project, 1337, "04C46100008F2C4F")
    response = harness.client.post(
        "/awt/v2/lora", json={"payload": "93aa", "eui": "04C46100008F2C4F"}, headers=uplink_headers(created)
    )
    assert response.status_code == 201
    [reading] = harness.client.get("/awt/v2/data", headers=harness.awt(created)).json()
    assert "too short" in reading["error"]
    assert counts(harness)[:2] == (1, 1)


def test_uplinks_need_key_and_basic_not_bearer(harness: Harness) -> None:
    created = harness.project()
    harness.device(created.project, 1337, "04C46100008F2C4F")
    body = {"payload": frame(1337).hex(), "eui": "04C46100008F2C4F"}
    key = created.credentials[CredentialKind.AWT].api_key
    for headers in (
        {"X-API-KEY": key},
        {"X-API-KEY": key, "Authorization": basic("field", "wrong")},
        harness.awt(created),
        {"Authorization": uplink_headers(created)["Authorization"]},
    ):
        response = harness.client.post("/awt/v2/lora", json=body, headers=headers)
        assert response.status_code == 401
        assert response.json() == {"error": "Unauthorized. Invalid API key or credentials."}
    assert counts(harness)[:2] == (0, 0)


def test_json_as_deep_as_can_be_stored_is_taken(harness: Harness) -> None:
    created = harness.project()
    harness.device(created.project, 1337, "04C46100008F2C4F")
    body = json.loads(ttn_uplink("04C46100008F2C4F", 1337, 1))
    body["uplink_message"]["decoded_payload"] = {"x": json.loads(b"[" * 236 + b"]" * 236)}  # 240 in all
    response = harness.client.post(
        "/awt/v2/ttn-webhook", content=json.dumps(body), headers=uplink_headers(created)
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("path", "content", "message"),
    [
        ("/awt/v2/lora", b"{not json", "not valid JSON"),
        ("/awt/v2/lora", b'{"payload": "zz", "eui": "04C46100008F2C4F"}', "hexadecimal"),
        ("/awt/v2/lora", b'{"payload": "0102", "eui": "4C4"}', "16 hexadecimal digits"),
        ("/awt/v2/lora", b'{"payload": "0102"}', "eui is missing"),
        ("/awt/v2/ttn-webhook", b'{"end_device_ids": {"dev_eui": "04C46100008F2C4F"}, "uplink_message": {"frm_payload": "!"}}', "base64"),
        ("/awt/v2/chirpstack?event=bogus", b'{"devEUI": "04C46100008F2C4F"}', "unknown event"),
        ("/awt/v2/chirpstack", b'{"devEUI": "04C46100008F2C4F", "fCnt": "seven"}', "fCnt"),
        ("/awt/v2/actility", b'{"DevEUI_uplink": {"DevEUI": "04C46100008F2C4F", "payload_hex": "0g"}}', "hexadecimal"),
        ("/awt/v2/lora", b'{"payload": "' + b"00" * 300 + b'", "eui": "04C46100008F2C4F"}', "at most 242"),
        # JSON that orjson reads (1,024 levels) but cannot write back (254): kept in the uplink's metadata,
        # it used to pass every check and fail the store's write (500)
        ("/awt/v2/ttn-webhook", b'{"end_device_ids": {"dev_eui": "04C46100008F2C4F"}, "uplink_message": {"frm_payload": "AAE=", "decoded_payload": {"x": ' + DEEP + b'}}}', "nested deeper than 240"),
        ("/awt/v2/chirpstack", b'{"devEUI": "04C46100008F2C4F", "data": "AAE=", "object": {"x": ' + DEEP + b'}}', "nested deeper than 240"),
        ("/awt/v2/chirpstack?event=status", b'{"devEUI": "04C46100008F2C4F", "battery": ' + DEEP + b'}', "nested deeper than 240"),
        ("/awt/v2/actility", b'{"DevEUI_uplink": {"DevEUI": "04C46100008F2C4F", "payload_hex": "0001", "LrrRSSI": ' + DEEP + b'}}', "nested deeper than 240"),
    ],
)  # fmt: skip
def test_bad_bodies_are_400_and_change_nothing(
    harness: Harness, path: str, content: bytes, message: str
) -> None:
    created = harness.project()
    harness.device(created.project, 1337, "04C46100008F2C4F")
    before = counts(harness)
    response = harness.client.post(path, content=content, headers=uplink_headers(created))
    assert response.status_code == 400
    assert list(response.json()) == ["error"]
    assert response.json()["error"].startswith("Malformed request.")
    assert message in response.json()["error"]
    assert counts(harness) == before


def test_an_oversize_body_is_413_and_changes_nothing(harness: Harness) -> None:
    created = harness.project()
    before = counts(harness)
    response = harness.client.post(
        "/awt/v2/lora", content=b" " * (64 * 1024 + 10), headers=uplink_headers(created)
    )
    assert response.status_code == 413
    assert response.json() == {"error": "The body is 65546 bytes; the limit is 65536."}
    assert counts(harness) == before


def test_unknown_eui_is_404_without_auto_registration(harness: Harness) -> None:
    created = harness.project()
    body = {"payload": frame(77).hex(), "eui": "00000000000000AA"}
    response = harness.client.post("/awt/v2/lora", json=body, headers=uplink_headers(created))
    assert response.status_code == 404
    assert response.json()["error"].startswith("Device EUI 00000000000000AA not found")
    assert counts(harness) == (0, 0, 0)


def test_another_projects_device_is_404(harness: Harness) -> None:
    mine = harness.project("mine")
    theirs = harness.project("theirs")
    harness.device(theirs.project, 1, "00000000000000AA")
    body = {"payload": frame(1).hex(), "eui": "00000000000000AA"}
    assert harness.client.post("/awt/v2/lora", json=body, headers=uplink_headers(mine)).status_code == 404


def test_auto_registration_creates_the_tag_from_its_frame(harness: Harness) -> None:
    created = harness.project()
    harness.run(lambda: harness.hub.projects.configure(created.project, auto_register=True))
    body = {"payload": frame(4242, software_version=71).hex(), "eui": "00000000000000AB"}
    assert harness.client.post("/awt/v2/lora", json=body, headers=uplink_headers(created)).status_code == 201
    devices = harness.client.get("/awt/v2/devices", headers=harness.awt(created)).json()
    assert [(d["tag_id"], d["imei"], d["software_version"]) for d in devices] == [
        ("4242", "00000000000000AB", 71)
    ]


def test_auto_registration_of_a_tag_id_taken_by_another_eui(harness: Harness) -> None:
    created = harness.project()
    harness.run(lambda: harness.hub.projects.configure(created.project, auto_register=True))
    harness.device(created.project, 4242, "00000000000000AA")
    body = {"payload": frame(4242).hex(), "eui": "00000000000000AB"}
    assert harness.client.post("/awt/v2/lora", json=body, headers=uplink_headers(created)).status_code == 201
    assert counts(harness) == (1, 1, 2)


def test_duplicates_are_stored_once_and_answered_with_success(harness: Harness) -> None:
    created = harness.project()
    harness.device(created.project, 1337, "04C46100008F2C4F")
    body = ttn_real("04C46100008F2C4F", frame(1337))
    first = harness.client.post("/awt/v2/ttn-webhook", json=body, headers=uplink_headers(created))
    body["uplink_message"]["rx_metadata"][0]["gateway_ids"]["gateway_id"] = "another-gateway"
    again = harness.client.post("/awt/v2/ttn-webhook", json=body, headers=uplink_headers(created))
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == {"recordId": first.json()["recordId"], "duplicate": True}
    assert counts(harness)[:2] == (1, 1)
    for answer in (first, again):  # written by hand on the webhook's plain ASGI path: pinned here
        assert answer.headers["content-type"] == "application/json"
        assert int(answer.headers["content-length"]) == len(answer.content)


def test_same_payload_with_another_counter_is_another_uplink(harness: Harness) -> None:
    created = harness.project()
    harness.device(created.project, 1337, "04C46100008F2C4F")
    body = ttn_real("04C46100008F2C4F", frame(1337))
    harness.client.post("/awt/v2/ttn-webhook", json=body, headers=uplink_headers(created))
    body["uplink_message"]["f_cnt"] = 2
    assert (
        harness.client.post("/awt/v2/ttn-webhook", json=body, headers=uplink_headers(created)).json()[
            "duplicate"
        ]
        is False
    )
    assert counts(harness)[:2] == (2, 2)


def test_a_repeat_after_the_dedup_window_is_new(harness: Harness) -> None:
    created = harness.project()
    harness.device(created.project, 1337, "04C46100008F2C4F")
    body = {"payload": frame(1337).hex(), "eui": "04C46100008F2C4F"}
    harness.client.post("/awt/v2/lora", json=body, headers=uplink_headers(created))
    harness.clock.advance(25 * 3600)
    again = harness.client.post("/awt/v2/lora", json=body, headers=uplink_headers(created))
    assert again.json()["duplicate"] is False
    third = harness.client.post("/awt/v2/lora", json=body, headers=uplink_headers(created))
    assert third.json() == {"recordId": again.json()["recordId"], "duplicate": True}
    assert counts(harness)[:2] == (2, 2)


def test_chirpstack_events_are_acknowledged_and_status_kept(harness: Harness) -> None:
    created = harness.project()
    harness.device(created.project, 1337, "0101010101010101")
    for event in ("join", "status", "txack"):
        body = {"deviceInfo": {"devEui": "0101010101010101"}, "batteryLevel": 80.5}
        response = harness.client.post(
            f"/awt/v2/chirpstack?event={event}", json=body, headers=uplink_headers(created)
        )
        assert response.status_code == 202
        assert response.json() == {"event": event, "accepted": True}
        assert response.headers["content-type"] == "application/json"
    assert isinstance(harness.hub.store, Store)
    engine = harness.hub.store.engine

    async def events() -> list[Any]:
        async with engine.connect() as conn:
            return list((await conn.execute(select(t.network_events).order_by(t.network_events.c.id))).all())

    rows = harness.run(events)
    assert [row.kind for row in rows] == ["join", "status", "txack"]
    assert json.loads(rows[1].meta) == {"batteryLevel": 80.5}
    assert all(row.device_id is not None for row in rows)
    assert counts(harness)[:2] == (0, 0)


def test_actility_token_checked_when_the_project_has_an_as_key(harness: Harness) -> None:
    created = harness.project()
    harness.device(created.project, 17, "20635F0108000496")
    harness.run(
        lambda: harness.hub.projects.configure(
            created.project, actility_as_key="f3203a20a2e8dfaf6686b621f56d05e3"
        )
    )
    body = (GOLDEN / "actility_uplink.json").read_bytes()
    headers = uplink_headers(created)
    for query in ("", SPEC_QUERY.replace("&Token=196c", "&Token=ffff")):
        response = harness.client.post(f"/awt/v2/actility?{query}", content=body, headers=headers)
        assert response.status_code == 401
        assert "Token" in response.json()["error"]
    assert counts(harness)[:2] == (0, 0)
    assert (
        harness.client.post(f"/awt/v2/actility?{SPEC_QUERY}", content=body, headers=headers).status_code
        == 201
    )
    assert counts(harness)[:2] == (1, 1)


def test_uplinks_reach_latest_data(harness: Harness) -> None:
    created = harness.project()
    harness.device(created.project, 1337, "04C46100008F2C4F")
    headers = harness.awt(created)
    assert harness.client.get("/awt/v2/data/latest", headers=headers).json() == []
    harness.client.post("/awt/v2/lora", json={"payload": frame(1337).hex(), "eui": "04C46100008F2C4F"},
                        headers=uplink_headers(created))  # fmt: skip
    assert len(harness.client.get("/awt/v2/data/latest", headers=headers).json()) == 1


def test_a_fault_while_storing_is_500_in_awt_format(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = harness.project()
    harness.device(created.project, 1337, "04C46100008F2C4F")

    async def broken(*_: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(harness.hub.ingestor, "submit", broken)
    body = {"payload": frame(1337).hex(), "eui": "04C46100008F2C4F"}
    response = harness.client.post("/awt/v2/lora", json=body, headers=uplink_headers(created))
    assert response.status_code == 500
    assert response.json() == {
        "error": "Something went wrong on our end. Try again later or contact support."
    }
