"""The AWT frame codec against the spec's worked example, and its behaviour on frames of every shape."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldstation.codecs import awt_frame

SEED_FRAME = bytes.fromhex("9300d122700162000500001c6801015f6512ca7e8933289eb1ad40a40000090911de3b8d39051822")


def test_seed_frame_decodes_to_the_specs_coordinates() -> None:
    decoded = awt_frame.decode(SEED_FRAME, 0)
    assert decoded.error is None
    assert decoded.latitude == -20.216583
    assert decoded.longitude == 28.219153
    values = decoded.values
    assert values["hdop_raw"] == 1
    assert values["hdop_m"] == 10
    assert values["tag_id"] == 5
    assert values["master_tag_id"] == 98
    assert values["movement"] is True
    assert values["alarm"] is False
    assert values["global_ack"] is True
    assert decoded.device_time_us == 0x6512CA7E * 1_000_000
    assert values["voltage"] == 3.51
    # 40 bytes of type 01: two bytes after the temperature are the altitude.
    assert values["temperature_c"] == 0x39
    assert values["altitude_m"] == 0x0518
    assert values["lux"] is None


def test_seed_frame_crc_mismatches_are_recorded_not_fatal() -> None:
    decoded = awt_frame.decode(SEED_FRAME, 0)
    assert decoded.error is None
    assert "header CRC mismatch: frame 0x70, computed 0x60" in decoded.warnings
    assert "payload CRC mismatch: frame 0x22, computed 0x27" in decoded.warnings


def test_battery_curve_matches_awts_published_example() -> None:
    assert awt_frame.battery_percentage(3.67) == 66.78
    assert awt_frame.battery_percentage(2.5) == 0.0
    assert awt_frame.battery_percentage(4.5) == 100.0
    readings = [awt_frame.battery_percentage(v / 100) for v in range(280, 430)]
    assert readings == sorted(readings), "state of charge never falls as voltage rises"


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [(-20.216583, 28.219153), (-33.9, -18.4), (51.5, -0.1275), (35.68, 139.69), (0.0, 0.0), (-89.99, 179.99)],
)
def test_every_hemisphere_round_trips(latitude: float, longitude: float) -> None:
    frame = awt_frame.encode(
        tag_id=7, fix_time=1_700_000_000, latitude=latitude, longitude=longitude, voltage=3.7
    )
    decoded = awt_frame.decode(frame, 0)
    assert decoded.error is None
    assert decoded.warnings == ()
    assert decoded.latitude == pytest.approx(latitude, abs=2e-6)
    assert decoded.longitude == pytest.approx(longitude, abs=2e-6)


def test_west_is_west() -> None:
    """The public codec never yields a western longitude; this one must."""
    frame = awt_frame.encode(tag_id=1, fix_time=0, latitude=10.0, longitude=-5.5, voltage=3.7)
    assert awt_frame.decode(frame, 0).longitude == -5.5


def test_hdop_comes_from_bits_27_to_30() -> None:
    for hdop in range(16):
        frame = awt_frame.encode(
            tag_id=1, fix_time=0, latitude=-1.0, longitude=1.0, voltage=3.7, hdop_raw=hdop
        )
        assert awt_frame.decode(frame, 0).values["hdop_raw"] == hdop


@pytest.mark.parametrize(
    ("payload_type", "altitude", "lux", "expected"),
    [
        (awt_frame.TYPE_STANDARD, None, None, (None, None)),
        (awt_frame.TYPE_ALTITUDE, 1500, None, (1500, None)),
        (awt_frame.TYPE_LIGHT, None, 2000, (None, 2000)),
        (awt_frame.TYPE_ALTITUDE_LIGHT, 1000, 2000, (1000, 2000)),
    ],
)
def test_optional_fields_by_length(
    payload_type: int, altitude: int | None, lux: int | None, expected: tuple[int | None, int | None]
) -> None:
    frame = awt_frame.encode(
        tag_id=1,
        fix_time=0,
        latitude=1.0,
        longitude=1.0,
        voltage=3.7,
        payload_type=payload_type,
        altitude=altitude,
        lux=lux,
    )
    values = awt_frame.decode(frame, 0).values
    assert (values["altitude_m"], values["lux"]) == expected


def test_minimal_frame_has_position_and_no_sensors() -> None:
    frame = awt_frame.encode(
        tag_id=9,
        fix_time=1_600_000_000,
        latitude=-2.5,
        longitude=34.1,
        voltage=3.6,
        payload_type=awt_frame.TYPE_MINIMAL,
    )
    decoded = awt_frame.decode(frame, 0)
    assert decoded.error is None
    assert (decoded.latitude, decoded.longitude) == (-2.5, 34.1)
    assert decoded.values["temperature_c"] is None
    assert decoded.values["accelerometer"] is None


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (b"", "too short"),
        (SEED_FRAME[:30], "too short for payload type 0x01"),
        (SEED_FRAME[:5] + b"\x07" + SEED_FRAME[6:], "unknown AWT payload type 0x07"),
        (SEED_FRAME[:2] + b"\x91" + SEED_FRAME[3:], "encrypted"),
    ],
)
def test_unreadable_frames_are_errors(frame: bytes, message: str) -> None:
    decoded = awt_frame.decode(frame, 0)
    assert decoded.error is not None
    assert message in decoded.error
    assert decoded.latitude is None and decoded.values == {}


def test_impossible_coordinates_are_errors() -> None:
    frame = bytearray(awt_frame.encode(tag_id=1, fix_time=0, latitude=1.0, longitude=1.0, voltage=3.7))
    struct.pack_into(">I", frame, 20, 99_999_999)  # 99 degrees 99.9999 minutes
    assert awt_frame.decode(bytes(frame), 0).error is not None


@given(st.binary(max_size=80))
def test_arbitrary_bytes_never_raise(payload: bytes) -> None:
    decoded = awt_frame.decode(payload, 0)
    assert (decoded.error is None) == (decoded.latitude is not None)
