"""Frames built from random field values by an encoder written here from the spec's byte table (not the
package's own encoder), decoded back: every hemisphere, every payload type."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldstation.codecs import awt_frame

OPTIONAL_BYTES = {0x00: 0, 0x01: 0, 0x03: 2, 0x04: 2, 0x05: 4}


@dataclass
class Fields:
    payload_type: int
    master_tag: int
    tag: int
    alarms: int
    acks: int
    version: int
    interval: int
    battery_cv: int
    fix_time: int
    lat_deg: int
    lat_min_e4: int
    south: bool
    hdop: int
    lon_deg: int
    lon_min_e4: int
    east: bool
    alarm: bool
    movement: bool
    speed: int
    accel: tuple[int, int, int]
    temperature: int
    altitude: int
    lux: int


def build(f: Fields) -> bytes:
    body = bytearray(33 if f.payload_type == 0 else 33 + 9 + OPTIONAL_BYTES[f.payload_type])
    body[0] = 0x93
    body[1] = 7
    body[2] = 0xD1
    body[5] = f.payload_type
    body[6:8] = f.master_tag.to_bytes(2, "little")
    body[8:10] = f.tag.to_bytes(2, "little")
    body[10], body[11], body[12], body[13] = f.alarms, f.acks, f.version, f.interval
    body[14:16] = f.battery_cv.to_bytes(2, "big")
    body[16:20] = f.fix_time.to_bytes(4, "big")
    lat = (f.lat_deg * 1_000_000 + f.lat_min_e4) | (f.hdop << 27) | (int(f.south) << 31)
    lon = (
        (f.lon_deg * 1_000_000 + f.lon_min_e4)
        | (int(f.east) << 31)
        | (int(f.alarm) << 30)
        | (int(f.movement) << 29)
    )
    body[20:24] = lat.to_bytes(4, "big")
    body[24:28] = lon.to_bytes(4, "big")
    end = 28
    if f.payload_type != 0:
        body[28] = f.speed
        body[29] = 0x42
        for i, axis in enumerate(f.accel):
            body[30 + 2 * i : 32 + 2 * i] = axis.to_bytes(2, "big", signed=True)
        body[36] = f.temperature.to_bytes(1, "big", signed=True)[0]
        end = 37
        extra = OPTIONAL_BYTES[f.payload_type]
        if extra == 4:
            body[37:39] = f.altitude.to_bytes(2, "big")
            body[39:41] = f.lux.to_bytes(2, "big")
        elif extra == 2:
            body[37:39] = (f.lux if f.payload_type == 0x04 else f.altitude).to_bytes(2, "big")
        end += extra
    frame = bytearray(body[:end]) + b"\x00"
    frame[3] = len(frame) - 6
    frame[4] = frame[0] ^ frame[1] ^ frame[2] ^ frame[3]
    crc = 0
    for byte in frame[5:-1]:
        crc ^= byte
    frame[-1] = crc
    return bytes(frame)


fields = st.builds(
    Fields,
    payload_type=st.sampled_from(sorted(OPTIONAL_BYTES)),
    master_tag=st.integers(0, 0xFFFF),
    tag=st.integers(0, 0xFFFF),
    alarms=st.integers(0, 0xFF),
    acks=st.integers(0, 0xFF),
    version=st.integers(0, 0xFF),
    interval=st.sampled_from(sorted(awt_frame.REPORTING_INTERVALS)),
    battery_cv=st.integers(0, 0xFFFF),
    fix_time=st.integers(0, 2**32 - 1),
    lat_deg=st.integers(0, 89),
    lat_min_e4=st.integers(0, 599_999),
    south=st.booleans(),
    hdop=st.integers(0, 15),
    lon_deg=st.integers(0, 179),
    lon_min_e4=st.integers(0, 599_999),
    east=st.booleans(),
    alarm=st.booleans(),
    movement=st.booleans(),
    speed=st.integers(0, 255),
    accel=st.tuples(*[st.integers(-32768, 32767)] * 3),
    temperature=st.integers(-128, 127),
    altitude=st.integers(0, 0xFFFF),
    lux=st.integers(0, 0xFFFF),
)


@given(fields)
def test_decoding_returns_what_was_encoded(f: Fields) -> None:
    decoded = awt_frame.decode(build(f), 0)
    assert decoded.error is None
    assert decoded.warnings == ()
    v = decoded.values
    latitude = (f.lat_deg + f.lat_min_e4 / 600_000) * (-1 if f.south else 1)
    longitude = (f.lon_deg + f.lon_min_e4 / 600_000) * (1 if f.east else -1)
    assert decoded.latitude == pytest.approx(latitude, abs=1e-6)
    assert decoded.longitude == pytest.approx(longitude, abs=1e-6)
    assert decoded.device_time_us == f.fix_time * 1_000_000
    assert (v["tag_id"], v["master_tag_id"], v["software_version"]) == (f.tag, f.master_tag, f.version)
    assert v["reporting_interval"] == awt_frame.REPORTING_INTERVALS[f.interval]
    assert v["voltage"] == f.battery_cv / 100
    assert (v["hdop_raw"], v["alarm"], v["movement"]) == (f.hdop, f.alarm, f.movement)
    assert v["coverage"] == bool(f.alarms & 0x20)
    assert v["retries"] == f.acks >> 5
    if f.payload_type == 0:
        assert v["speed_kph"] is None and v["temperature_c"] is None
    else:
        assert (v["speed_kph"], v["temperature_c"]) == (f.speed, f.temperature)
        assert v["accelerometer"] == dict(zip("xyz", f.accel, strict=True))
        expected_altitude = f.altitude if f.payload_type in (0x03, 0x05) else None
        expected_lux = f.lux if f.payload_type in (0x04, 0x05) else None
        assert (v["altitude_m"], v["lux"]) == (expected_altitude, expected_lux)


@given(fields, st.integers(1, 40))
def test_truncated_frames_fail_cleanly(f: Fields, cut: int) -> None:
    frame = build(f)
    decoded = awt_frame.decode(frame[: max(0, len(frame) - cut)], 0)
    assert decoded.error is not None or decoded.warnings
