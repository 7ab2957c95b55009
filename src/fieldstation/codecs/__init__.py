"""Payload codecs: pure functions from payload bytes to a `Decoded` value, looked up by the name a device
carries. A codec never raises: whatever the bytes, the answer is a `Decoded`, with `error` set when the
payload could not be read."""

from __future__ import annotations

from collections.abc import Callable

from fieldstation.codecs import astrocast_geo, awt_frame, awt_reading, json_object, passthrough
from fieldstation.core.models import Decoded

Codec = Callable[[bytes, int], Decoded]
"""payload bytes and the receive time (epoch us) in, a decoded reading out."""

_REGISTRY: dict[str, Codec] = {
    awt_frame.NAME: awt_frame.decode,
    awt_reading.NAME: awt_reading.decode,
    astrocast_geo.NAME: astrocast_geo.decode,
    json_object.NAME: json_object.decode,
    passthrough.NAME: passthrough.decode,
}


def get(name: str) -> Codec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown codec {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def names() -> list[str]:
    return sorted(_REGISTRY)


def decode(name: str, payload: bytes, received_us: int) -> Decoded:
    try:
        return get(name)(payload, received_us)
    except Exception as exc:  # a codec bug must never cost the uplink
        return Decoded(error=f"codec {name} failed: {exc.__class__.__name__}: {exc}")


class Registry:
    """The codecs as the core knows them (`core.ports.PayloadDecoder`): by name, never by module."""

    def names(self) -> list[str]:
        return names()

    def decode(self, name: str, payload: bytes, received_us: int) -> Decoded:
        return decode(name, payload, received_us)


CODECS = Registry()
