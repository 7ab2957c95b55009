"""The network-server parsers on real bodies, the AWT seed's simplified ones, and anything at all."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldstation.networks import BadBody, OtherEvent, Uplink, actility, awt, chirpstack, ttn

GOLDEN = Path(__file__).parent.parent / "golden" / "networks"
SPEC_QUERY = (
    "LrnDevEui=20635F0108000496&LrnFPort=17&LrnInfos=TWA_100002167.1111.AS-1-111974&AS_ID=TWA_100002167.1111.AS"
    "&Time=2021-04-07T08:49:51.551+00:00&Token=196c22898bf95fcf48b72be198c89256410660b9b514539651344baa594ad74f"
)
SPEC_AS_KEY = "f3203a20a2e8dfaf6686b621f56d05e3"


def golden(name: str) -> bytes:
    return (GOLDEN / name).read_bytes()


def test_ttn_v3_real_uplink() -> None:
    up = ttn.parse(golden("ttn_v3_uplink.json"))
    assert isinstance(up, Uplink)
    assert up.eui == "0004A30B001C0530"
    assert up.payload == bytes.fromhex("8241de")
    assert (up.f_cnt, up.f_port) == (1, 1)
    assert up.received_us == 1581520545789585  # uplink_message.received_at, nanoseconds cut to micros
    assert up.meta["gateways"] == [{"id": "gtw1", "rssi": -35, "snr": 5}]
    assert up.meta["frequency"] == "868300000"


def test_ttn_omitted_zero_fields_mean_zero() -> None:
    body = {"end_device_ids": {"dev_eui": "04C46100008F2C4F"}, "uplink_message": {"frm_payload": "AQI="}}
    up = ttn.parse(json.dumps(body).encode())
    assert isinstance(up, Uplink)
    assert (up.f_cnt, up.f_port, up.received_us) == (0, 0, None)


def test_ttn_nanoseconds_keep_order_within_a_second() -> None:
    times = ["2020-02-12T15:15:45.000000001Z", "2020-02-12T15:15:45.000001Z", "2020-02-12T15:15:45.5Z"]
    parsed: list[int] = []
    for stamp in times:
        body = {"end_device_ids": {"dev_eui": "04C46100008F2C4F"}, "uplink_message": {"received_at": stamp}}
        up = ttn.parse(json.dumps(body).encode())
        assert isinstance(up, Uplink)
        assert up.received_us is not None
        parsed.append(up.received_us)
    assert parsed == sorted(parsed)
    assert len(set(parsed[1:])) == 2


def test_ttn_other_messages_are_events() -> None:
    body = {"end_device_ids": {"dev_eui": "04C46100008F2C4F"}, "join_accept": {"session_key_id": "x"}}
    event = ttn.parse(json.dumps(body).encode())
    assert event == OtherEvent(kind="join_accept", eui="04C46100008F2C4F")


def test_chirpstack_v4_real_uplink() -> None:
    up = chirpstack.parse(golden("chirpstack_v4_up.json"), "event=up")
    assert isinstance(up, Uplink)
    assert up.eui == "0101010101010101"
    assert up.payload == b"\xaa"
    assert (up.f_cnt, up.f_port) == (7, 1)
    assert up.received_us == 1658136855775023
    assert up.meta["gateways"] == [{"id": "0016c001f153a14c", "rssi": -36, "snr": 10.5}]
    assert up.meta["version"] == 4


@pytest.mark.parametrize("name", ["chirpstack_v3_up_json_v3.json", "chirpstack_v3_up_protobuf.json"])
def test_chirpstack_v3_hex_and_base64_euis(name: str) -> None:
    up = chirpstack.parse(golden(name), "event=up")
    assert isinstance(up, Uplink)
    assert up.eui == "0202020202020202"
    assert up.payload == b"\xaa"
    assert up.f_port == 5
    assert up.received_us == 1573221565048445  # rxInfo[0].time: v3 has no top-level time
    assert up.meta["version"] == 3


def test_chirpstack_lowercase_eui_becomes_uppercase() -> None:
    body = {"deviceInfo": {"devEui": "0004a30b001c0530"}, "data": "qg=="}
    up = chirpstack.parse(json.dumps(body).encode(), "event=up")
    assert isinstance(up, Uplink)
    assert up.eui == "0004A30B001C0530"
    assert up.f_cnt == 0  # absent when 0


@pytest.mark.parametrize("event", ["join", "ack", "txack", "log", "location", "integration"])
def test_chirpstack_non_uplink_events(event: str) -> None:
    body = {"deviceInfo": {"devEui": "0101010101010101"}}
    parsed = chirpstack.parse(json.dumps(body).encode(), f"event={event}")
    assert parsed == OtherEvent(kind=event, eui="0101010101010101")


def test_chirpstack_status_keeps_the_battery() -> None:
    body = {"deviceInfo": {"devEui": "0101010101010101"}, "margin": 7, "batteryLevel": 83.5}
    parsed = chirpstack.parse(json.dumps(body).encode(), "event=status")
    assert isinstance(parsed, OtherEvent)
    assert parsed.meta == {"batteryLevel": 83.5, "margin": 7}


def test_chirpstack_unknown_event_is_refused() -> None:
    with pytest.raises(BadBody, match="unknown event 'upp'"):
        chirpstack.parse(golden("chirpstack_v4_up.json"), "event=upp")


def test_actility_real_uplink_and_string_numbers() -> None:
    up = actility.parse(golden("actility_uplink.json"))
    assert isinstance(up, Uplink)
    assert up.eui == "20635F0108000496"
    assert up.payload.hex() == "032ce4850919d85d4c9f793ad148d24f32f3c6b5488f5a087cbeb1488f5a998c83ab"
    assert (up.f_cnt, up.f_port) == (18, 17)
    assert up.received_us == 1617785385235000
    old = json.loads(golden("actility_uplink.json"))
    old["DevEUI_uplink"].update(FPort="17", FCntUp="18")
    up_old = actility.parse(json.dumps(old).encode())
    assert isinstance(up_old, Uplink)
    assert (up_old.f_cnt, up_old.f_port) == (18, 17)


def test_actility_token_vector_from_the_spec() -> None:
    actility.check_token(golden("actility_uplink.json"), SPEC_QUERY, SPEC_AS_KEY)
    body = json.loads(golden("actility_uplink.json"))
    assert (
        actility.expected_token(body["DevEUI_uplink"], SPEC_QUERY, SPEC_AS_KEY)
        == SPEC_QUERY.rsplit("=", 1)[1]
    )


@pytest.mark.parametrize(
    "query",
    [
        SPEC_QUERY.replace("&Token=196c", "&Token=096c"),
        SPEC_QUERY.split("&Token=")[0],
        SPEC_QUERY.replace("+00:00", "%2000:00"),  # the + was signed as a +, not a space
    ],
)
def test_actility_bad_tokens(query: str) -> None:
    with pytest.raises(actility.BadToken):
        actility.check_token(golden("actility_uplink.json"), query, SPEC_AS_KEY)


SEED_BODIES: list[tuple[Any, dict[str, Any]]] = [
    (awt, {"payload": "9300d122700162000500001c6801015f6512ca7e8933289eb1ad40a40000090911de3b8d39051822", "eui": "04C46100008F2C4F"}),
    (ttn, {"end_device_ids": {"dev_eui": "04C46100008F2C4F"}, "uplink_message": {"frm_payload": "AQID"}}),
    (chirpstack, {"devEUI": "04C46100008F2C4F", "data": "AQID"}),
    (actility, {"DevEUI": "04C46100008F2C4F", "payload": "AQID"}),
]  # fmt: skip


@pytest.mark.parametrize(("network", "body"), SEED_BODIES, ids=lambda v: getattr(v, "NAME", ""))
def test_seed_simplified_bodies(network: Any, body: dict[str, Any]) -> None:
    up = network.parse(json.dumps(body).encode(), "")
    assert isinstance(up, Uplink)
    assert up.eui == "04C46100008F2C4F"
    assert up.payload


@pytest.mark.parametrize(
    ("network", "body", "message"),
    [
        (awt, b"{", "not valid JSON"),
        (awt, b"[]", "must be a JSON object"),
        (awt, b"", "empty"),
        (awt, b'{"payload": "zz", "eui": "04C46100008F2C4F"}', "not valid hexadecimal"),
        (awt, b'{"payload": "0102", "eui": "04C461"}', "16 hexadecimal digits"),
        (awt, b'{"payload": "0102"}', "body.eui is missing"),
        (awt, b'{"payload": 12, "eui": "04C46100008F2C4F"}', "must be a string"),
        (awt, b'{"payload": "' + b"00" * 243 + b'", "eui": "04C46100008F2C4F"}', "at most 242"),
        (ttn, b'{"end_device_ids": {"dev_eui": "04C46100008F2C4F"}, "uplink_message": {"frm_payload": "@@"}}', "base64"),
        (ttn, b'{"end_device_ids": {}, "uplink_message": {}}', "dev_eui is missing"),
        (ttn, b'{"end_device_ids": {"dev_eui": "04C46100008F2C4F"}}', "no uplink_message"),
        (ttn, b'{"end_device_ids": {"dev_eui": "04C46100008F2C4F"}, "uplink_message": {"f_cnt": "x"}}', "f_cnt"),
        (ttn, b'{"end_device_ids": {"dev_eui": "04C46100008F2C4F"}, "uplink_message": {"received_at": "noon"}}', "RFC 3339"),
        (chirpstack, b'{"devEUI": "not-an-eui", "data": "AQ=="}', "base64 of 8 bytes"),
        (chirpstack, b'{"deviceInfo": {}, "data": "AQ=="}', "devEui is missing"),
        (chirpstack, b'{"devEUI": "0202020202020202", "fCnt": -1}', "between 0 and 4294967295"),
        (actility, b'{"DevEUI_uplink": {"DevEUI": "20635F0108000496", "payload_hex": "xyz"}}', "hexadecimal"),
        (actility, b'{"DevEUI_uplink": {"DevEUI": "20635F0108000496", "FPort": "one"}}', "FPort"),
        (actility, b'{"something": 1}', "no DevEUI_uplink"),
        # Values no store column or renderer can hold: refused where they enter.
        (ttn, '{"end_device_ids": {"dev_eui": "04C46100008F2C4F"}, "uplink_message": {"frm_payload": "AQÉ="}}'.encode(), "non-ASCII"),
        (ttn, b'{"end_device_ids": {"dev_eui": "04C46100008F2C4F"}, "uplink_message": {"received_at": "9999-12-31T23:59:59-01:00"}}', "9999-12-31T23:59:59Z"),
        (ttn, b'{"end_device_ids": {"dev_eui": "04C46100008F2C4F"}, "uplink_message": {"received_at": "1969-12-31T23:59:59Z"}}', "1970-01-01"),
        (ttn, b'{"end_device_ids": {"dev_eui": "04C46100008F2C4F"}, "uplink_message": {"received_at": "2026-02-30T00:00:00Z"}}', "not a valid time"),
        (ttn, '{"end_device_ids": {"dev_eui": "04C46100008F2C4F"}, "uplink_message": {"received_at": "٢٠٢٦-01-01T00:00:00Z"}}'.encode(), "RFC 3339"),
        (ttn, b'{"end_device_ids": {"dev_eui": "04C46100008F2C4F"}, "uplink_message": {"f_cnt": 4294967296}}', "between 0 and 4294967295"),
        (ttn, b'{"end_device_ids": {"dev_eui": "04C46100008F2C4F"}, "uplink_message": {"f_cnt": 18446744073709551616}}', "must be an integer"),
        (ttn, b'{"end_device_ids": {"dev_eui": "04C46100008F2C4F"}, "uplink_message": {"f_port": 256}}', "between 0 and 255"),
        (chirpstack, '{"devEUI": "AgICAgICAgÉ=", "data": "AQ=="}'.encode(), "base64 of 8 bytes"),
        (actility, '{"DevEUI_uplink": {"DevEUI": "20635F0108000496", "FCntUp": "²"}}'.encode(), "ASCII digits"),
        (actility, b'{"DevEUI_uplink": {"DevEUI": "20635F0108000496", "FCntUp": "--5"}}', "ASCII digits"),
    ],
)  # fmt: skip
def test_bad_bodies_say_what_is_wrong(network: Any, body: bytes, message: str) -> None:
    with pytest.raises(BadBody, match=message):
        network.parse(body, "event=up")


def test_oversize_body() -> None:
    with pytest.raises(BadBody, match="limit"):
        ttn.parse(b" " * (64 * 1024 + 1))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)


@pytest.mark.parametrize("network", [awt, ttn, chirpstack, actility], ids=lambda n: n.NAME)
@given(
    body=st.binary(max_size=200) | JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    query=st.text(max_size=30),
)
def test_anything_is_parsed_or_refused_with_bad_body(network: Any, body: bytes, query: str) -> None:
    try:
        result = network.parse(body, query)
    except BadBody:
        return
    assert isinstance(result, Uplink | OtherEvent)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "end_device_ids",
                "uplink_message",
                "join_accept",
                "deviceInfo",
                "devEUI",
                "DevEUI_uplink",
                "data",
            ]
        ),
        JSON_VALUES,
        max_size=4,
    )
)
def test_plausible_shapes_never_escape_as_other_errors(obj: dict[str, Any]) -> None:
    for network in (ttn, chirpstack, actility, awt):
        with contextlib.suppress(BadBody):
            network.parse(json.dumps(obj).encode(), "event=up")
