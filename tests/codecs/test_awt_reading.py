"""The `awt-reading` codec is the inverse of the AWT renderer: a Reading object read back and rendered again
is the object that was read, field for field; and whatever the bytes, it answers a `Decoded`."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from fieldstation.codecs import awt_frame, awt_reading, decode
from fieldstation.core.models import Device
from fieldstation.dialects.awt.render import reading_object

DEVICE = Device(
    id=1, project_id=1, guid="g", short_id="s", name="tag 1337", tag_id=1337, eui="A0C9B00000794AB5",
    asset="Lion", device_type="LoRA", software_version=70, codec=awt_frame.NAME, created_us=0,
)  # fmt: skip


def round_trip(reading: dict[str, Any]) -> dict[str, Any]:
    decoded = awt_reading.decode(orjson.dumps(reading), 0)
    return reading_object(DEVICE, reading["recordId"], decoded)


def test_a_decoded_frames_reading_comes_back_whole() -> None:
    frame = awt_frame.encode(
        tag_id=1337, fix_time=1_790_000_000, latitude=-25.730598, longitude=28.219429, voltage=3.67,
        altitude=1000, lux=2000, speed=10, accelerometer=(9997, 364, -14998), hdop_raw=1, retries=2,
    )  # fmt: skip
    original = reading_object(DEVICE, "123456abc", awt_frame.decode(frame, 0))
    assert round_trip(original) == original


maybe_int = st.none() | st.integers(-(2**31), 2**31)
maybe_number = st.none() | st.integers(-10_000, 10_000) | st.floats(-1e9, 1e9, allow_nan=False)
maybe_flag = st.none() | st.booleans()
readings = st.fixed_dictionaries(
    {
        "recordId": st.uuids().map(str),
        "tagId": st.just(1337),
        "softwareVersion": maybe_int,
        "reportingInterval": st.none() | st.sampled_from(["1_hour", "15_min", "1_day"]),
        "voltage": maybe_number,
        "batteryPercentage": maybe_number,
        "timestamp": st.none() | st.integers(0, 2**33 - 1),
        "latitude": st.none() | st.floats(-90, 90),
        "longitude": st.none() | st.floats(-180, 180),
        "accelerometer": st.none()
        | st.fixed_dictionaries({axis: st.integers(-32768, 32767) for axis in ("x", "y", "z")}),
        "hdop": st.none()
        | st.integers(0, 150).map(lambda n: f"{n}m")
        | st.integers(0, 1500).map(lambda n: f"{n / 10}m"),
        "hdopRaw": maybe_int,
        "movement": maybe_flag,
        "alarm": maybe_flag,
        "coverage": maybe_flag,
        "retries": maybe_int,
        "speed": maybe_number,
        "temperature": maybe_number,
        "altitude": maybe_number,
        "lux": maybe_number,
    }
)


@given(readings)
def test_any_reading_comes_back_whole(reading: dict[str, Any]) -> None:
    assert round_trip(reading) == reading


@given(readings, st.text(min_size=1, max_size=80))
def test_an_unparsed_reading_keeps_its_error(reading: dict[str, Any], error: str) -> None:
    failed = dict.fromkeys(reading) | {"recordId": reading["recordId"], "tagId": 1337, "error": error}
    assert round_trip(failed) == failed


@given(st.binary(max_size=300) | st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)).map(lambda v: json.dumps(v).encode()))  # fmt: skip
def test_any_bytes_give_a_decoded_value(payload: bytes) -> None:
    decoded = decode(awt_reading.NAME, payload, 0)
    assert decoded.error is not None or decoded.values  # never raises, never an empty success


def test_wrong_types_are_a_parse_failure_that_says_which_field() -> None:
    decoded = awt_reading.decode(b'{"recordId": "a", "tagId": 1, "voltage": "high"}', 0)
    assert decoded.error == "imported reading: voltage is not a number"
    assert awt_reading.decode(b'{"recordId": "a", "tagId": 1, "latitude": 91}', 0).error
    for hdop in ("far", "10.50m", "007m", "\u0661\u0660m", "1e-06m"):  # written back otherwise, or not metres
        kept = awt_reading.decode(orjson.dumps({"recordId": "a", "tagId": 1, "hdop": hdop}), 0)
        assert kept.error is None and kept.values["hdop_m"] is None
        assert kept.warnings == (f'hdop {hdop!r} was not kept: not metres as AWT writes them ("10m")',)
    assert awt_reading.decode(b'{"recordId": "a", "tagId": 1, "hdop": "2.5m"}', 0).values["hdop_m"] == 2.5
