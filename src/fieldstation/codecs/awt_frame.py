"""The AWT tracker LoRa frame (`../shared/specs/awt-payload.md`, mirrored in docs/codecs.md).

Sans-I/O: `decode(payload, received_us) -> Decoded`. Multi-byte values are big-endian except the two tag ids.
Unlike AWT's public codec, the longitude hemisphere and the raw HDOP are read from their real bit positions.
CRC mismatches are recorded, never fatal: real deployments use a CRC variant that is not public.
"""

from __future__ import annotations

import itertools
import struct
from typing import Any

from fieldstation.core.clock import MICROS
from fieldstation.core.models import Decoded

NAME = "awt-frame"

COMMAND_ENCRYPTED = 0x91
COMMAND_PLAIN = 0xD1

TYPE_MINIMAL = 0x00
TYPE_STANDARD = 0x01
TYPE_ALTITUDE = 0x03
TYPE_LIGHT = 0x04
TYPE_ALTITUDE_LIGHT = 0x05
KNOWN_TYPES = (TYPE_MINIMAL, TYPE_STANDARD, TYPE_ALTITUDE, TYPE_LIGHT, TYPE_ALTITUDE_LIGHT)

HEADER_LEN = 5
MINIMAL_END = 28
"""A minimal frame ends after the longitude word (byte 27); then comes the CRC byte."""
STANDARD_END = 37
"""A standard frame ends after the temperature (byte 36); optional altitude and light follow."""

REPORTING_INTERVALS: dict[int, str] = {
    0: "off",
    1: "10_minutes",
    2: "1_hour",
    3: "6_hours",
    4: "12_hours",
    5: "24_hours",
    7: "3_hours",
    15: "30_minutes",
    16: "2_hours",
    17: "4_hours",
    18: "5_hours",
    19: "8_hours",
    20: "custom",
}

ALARM_FLAGS = {
    "ota_track_mode": 0x01,
    "low_battery": 0x02,
    "tamper_foil": 0x08,
    "service_coverage": 0x20,
    "memory_full": 0x40,
    "self_test": 0x80,
}
ACK_FLAGS = {
    "humidity_alarm": 0x01,
    "polling_on": 0x02,
    "ble_command_ack": 0x04,
    "uhf_command_ack": 0x08,
    "ota_command_ack": 0x10,
}

LAT_SOUTH = 1 << 31
LAT_VALUE_MASK = (1 << 27) - 1
LAT_HDOP_SHIFT = 27
LON_EAST = 1 << 31
LON_ALARM = 1 << 30
LON_MOVEMENT = 1 << 29
LON_GLOBAL_ACK = 1 << 28
LON_VALUE_MASK = (1 << 28) - 1

HDOP_METRES_PER_UNIT = 10
"""`hdop` is rendered as metres: raw HDOP x 10 (AWT's own example shows raw 1 as "10m")."""

# Battery voltage to state of charge, piecewise linear. The knot at 3.67 V is AWT's published example
# (3.67 V -> 66.78 %); the others follow the flat plateau and steep knee of the tags' lithium cells.
DISCHARGE_CURVE: tuple[tuple[float, float], ...] = (
    (3.00, 0.0),
    (3.40, 10.0),
    (3.55, 35.0),
    (3.67, 66.78),
    (3.80, 85.0),
    (3.95, 95.0),
    (4.10, 100.0),
)


def battery_percentage(voltage: float) -> float:
    curve = DISCHARGE_CURVE
    if voltage <= curve[0][0]:
        return curve[0][1]
    if voltage >= curve[-1][0]:
        return curve[-1][1]
    for (v0, p0), (v1, p1) in itertools.pairwise(curve):
        if v0 <= voltage <= v1:
            return round(p0 + (p1 - p0) * (voltage - v0) / (v1 - v0), 2)
    raise AssertionError("unreachable: the curve covers every voltage")


def xor(data: bytes) -> int:
    value = 0
    for byte in data:
        value ^= byte
    return value


def _coordinate(packed_decimal: int, degree_digits_scale: int) -> float | None:
    """`DDMMMMMM` / `DDDMMMMMM`: degrees, then minutes x 10^4. None when the minutes are not minutes."""
    degrees, minutes_e4 = divmod(packed_decimal, degree_digits_scale)
    if minutes_e4 >= 60 * 10_000:
        return None
    return round(degrees + minutes_e4 / 10_000 / 60, 6)


def decode(payload: bytes, received_us: int) -> Decoded:
    if len(payload) < HEADER_LEN + 1:
        return Decoded(error=f"AWT frame too short: {len(payload)} bytes, a header alone is {HEADER_LEN}")
    header, counter, command, declared_len, header_crc = payload[:HEADER_LEN]
    if command == COMMAND_ENCRYPTED:
        return Decoded(error="AWT frame is encrypted (command 0x91) and no key is configured for this tag")
    warnings: list[str] = []
    if command != COMMAND_PLAIN:
        warnings.append(f"unknown command byte 0x{command:02x}, decoded as unencrypted")
    payload_type = payload[5]
    if payload_type not in KNOWN_TYPES:
        return Decoded(error=f"unknown AWT payload type 0x{payload_type:02x}")
    body_end = len(payload) - 1  # the last byte is the payload CRC
    needed = MINIMAL_END if payload_type == TYPE_MINIMAL else STANDARD_END
    if body_end < needed:
        return Decoded(
            error=f"AWT frame too short for payload type 0x{payload_type:02x}: "
            f"{len(payload)} bytes, at least {needed + 1} needed"
        )
    computed_header_crc = xor(payload[:4])
    if computed_header_crc != header_crc:
        warnings.append(
            f"header CRC mismatch: frame 0x{header_crc:02x}, computed 0x{computed_header_crc:02x}"
        )
    computed_crc = xor(payload[5:body_end])
    if computed_crc != payload[body_end]:
        warnings.append(
            f"payload CRC mismatch: frame 0x{payload[body_end]:02x}, computed 0x{computed_crc:02x}"
        )
    if declared_len != body_end - HEADER_LEN:
        warnings.append(f"length byte says {declared_len}, frame carries {body_end - HEADER_LEN}")

    master_tag_id, tag_id = struct.unpack_from("<HH", payload, 6)
    alarms, acks, software_version, interval_code = payload[10:14]
    battery_cv, fix_time, lat_word, lon_word = struct.unpack_from(">HIII", payload, 14)

    latitude = _coordinate(lat_word & LAT_VALUE_MASK, 1_000_000)
    longitude = _coordinate(lon_word & LON_VALUE_MASK, 1_000_000)
    if latitude is None or latitude > 90 or longitude is None or longitude > 180:
        return Decoded(error="AWT frame holds an impossible position (corrupted coordinate words)")
    if lat_word & LAT_SOUTH:
        latitude = -latitude
    if not lon_word & LON_EAST:
        longitude = -longitude
    hdop_raw = (lat_word >> LAT_HDOP_SHIFT) & 0x0F
    voltage = battery_cv / 100

    interval = REPORTING_INTERVALS.get(interval_code)
    if interval is None:
        warnings.append(f"unknown reporting interval code {interval_code}")

    values: dict[str, Any] = {
        "tag_id": tag_id,
        "master_tag_id": master_tag_id,
        "software_version": software_version,
        "reporting_interval": interval,
        "voltage": voltage,
        "battery_percentage": battery_percentage(voltage),
        "hdop_raw": hdop_raw,
        "hdop_m": hdop_raw * HDOP_METRES_PER_UNIT,
        "movement": bool(lon_word & LON_MOVEMENT),
        "alarm": bool(lon_word & LON_ALARM),
        "global_ack": bool(lon_word & LON_GLOBAL_ACK),
        "coverage": bool(alarms & ALARM_FLAGS["service_coverage"]),
        "retries": (acks >> 5) & 0x07,
        "alarms": {name: bool(alarms & bit) for name, bit in ALARM_FLAGS.items()},
        "acks": {name: bool(acks & bit) for name, bit in ACK_FLAGS.items()},
        "payload_type": payload_type,
        "message_counter": counter,
        "frame_header": header,
        "speed_kph": None,
        "message_key": None,
        "accelerometer": None,
        "temperature_c": None,
        "altitude_m": None,
        "lux": None,
    }
    if payload_type != TYPE_MINIMAL:
        speed, message_key, ax, ay, az, temperature = struct.unpack_from(">BBhhhb", payload, 28)
        values.update(
            speed_kph=speed,
            message_key=message_key,
            accelerometer={"x": ax, "y": ay, "z": az},
            temperature_c=temperature,
        )
        extra = payload[STANDARD_END:body_end]
        if len(extra) in (2, 4):
            first = struct.unpack_from(">H", extra, 0)[0]
            if len(extra) == 4:
                values.update(altitude_m=first, lux=struct.unpack_from(">H", extra, 2)[0])
            elif payload_type == TYPE_LIGHT:
                values["lux"] = first
            else:
                values["altitude_m"] = first
        elif extra:
            warnings.append(f"{len(extra)} unexpected bytes after the temperature were ignored")
    elif body_end > MINIMAL_END:
        warnings.append(f"{body_end - MINIMAL_END} unexpected bytes after a minimal frame were ignored")

    return Decoded(
        device_time_us=fix_time * MICROS,
        latitude=latitude,
        longitude=longitude,
        values=values,
        warnings=tuple(warnings),
    )


def encode(
    *,
    tag_id: int,
    fix_time: int,
    latitude: float,
    longitude: float,
    voltage: float,
    payload_type: int = TYPE_STANDARD,
    master_tag_id: int = 0,
    counter: int = 0,
    software_version: int = 70,
    interval_code: int = 2,
    alarms: int = 0x20,
    acks: int = 0,
    retries: int = 0,
    hdop_raw: int = 1,
    movement: bool = False,
    alarm: bool = False,
    global_ack: bool = False,
    speed: int = 0,
    message_key: int = 0,
    accelerometer: tuple[int, int, int] = (0, 0, 0),
    temperature: int = 25,
    altitude: int | None = None,
    lux: int | None = None,
) -> bytes:
    """Build a well-formed, unencrypted frame with valid XOR checks (demo data and benchmarks use it)."""

    def packed(value: float, degree_scale: int) -> int:
        degrees = int(abs(value))
        minutes_e4 = round((abs(value) - degrees) * 60 * 10_000)
        if minutes_e4 >= 60 * 10_000:
            degrees, minutes_e4 = degrees + 1, 0
        return degrees * degree_scale + minutes_e4

    lat_word = packed(latitude, 1_000_000) | ((hdop_raw & 0x0F) << LAT_HDOP_SHIFT)
    if latitude < 0:
        lat_word |= LAT_SOUTH
    lon_word = packed(longitude, 1_000_000)
    if longitude >= 0:
        lon_word |= LON_EAST
    lon_word |= (LON_ALARM if alarm else 0) | (LON_MOVEMENT if movement else 0)
    lon_word |= LON_GLOBAL_ACK if global_ack else 0
    body = bytes([payload_type]) + struct.pack("<HH", master_tag_id, tag_id)
    body += bytes([alarms, (acks & 0x1F) | ((retries & 0x07) << 5), software_version, interval_code])
    body += struct.pack(">HIII", round(voltage * 100), fix_time, lat_word, lon_word)
    if payload_type != TYPE_MINIMAL:
        body += struct.pack(">BBhhhb", speed, message_key, *accelerometer, temperature)
        if altitude is not None:
            body += struct.pack(">H", altitude)
        if lux is not None:
            body += struct.pack(">H", lux)
    head = bytes([0x93, counter & 0xFF, COMMAND_PLAIN, len(body)])
    return head + bytes([xor(head)]) + body + bytes([xor(body)])
