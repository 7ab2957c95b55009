"""`astrocast-geo`: an Astrocast user payload that starts with 8 bytes of geolocation, int32 latitude and
int32 longitude in 10^-7 degrees. The Astronode's host MCUs are little-endian ARM and write the two int32s
as they hold them, so they are read little-endian. The rest of the payload is the application's own."""

from __future__ import annotations

import struct

from fieldstation.core.models import Decoded

NAME = "astrocast-geo"
PREFIX = 8
SCALE = 10_000_000


def decode(payload: bytes, received_us: int) -> Decoded:
    if len(payload) < PREFIX:
        return Decoded(error=f"payload of {len(payload)} bytes has no 8-byte geolocation prefix")
    lat_e7, lon_e7 = struct.unpack_from("<ii", payload)
    latitude, longitude = lat_e7 / SCALE, lon_e7 / SCALE
    if abs(latitude) > 90 or abs(longitude) > 180:
        return Decoded(error=f"geolocation prefix is not a position ({latitude}, {longitude})")
    return Decoded(latitude=latitude, longitude=longitude, values={"user_data": payload[PREFIX:].hex()})


def encode(latitude: float, longitude: float, user_data: bytes = b"") -> bytes:
    return struct.pack("<ii", round(latitude * SCALE), round(longitude * SCALE)) + user_data
