"""The codec registry, and the json and passthrough codecs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldstation import codecs
from fieldstation.codecs import json_object, passthrough
from fieldstation.core.models import Decoded


def test_registry_names() -> None:
    assert codecs.names() == ["astrocast-geo", "awt-frame", "awt-reading", "json", "passthrough"]
    with pytest.raises(KeyError, match="known: astrocast-geo, awt-frame, awt-reading, json, passthrough"):
        codecs.get("nope")


def test_passthrough_keeps_the_bytes_in_base64() -> None:
    decoded = passthrough.decode(b"\x01\x02", 0)
    assert decoded.error is None
    assert decoded.values == {"payload": "AQI="}
    assert decoded.latitude is None and decoded.device_time_us is None


def test_json_object_fills_position_and_time() -> None:
    decoded = json_object.decode(
        b'{"latitude": -24.5, "longitude": 31.25, "ts": 1700000000123, "t": 21.5}', 0
    )
    assert (decoded.latitude, decoded.longitude) == (-24.5, 31.25)
    assert decoded.device_time_us == 1_700_000_000_123_000
    assert decoded.values["t"] == 21.5
    assert json_object.decode(b'{"timestamp": 1700000000}', 0).device_time_us == 1_700_000_000_000_000


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\xff", "not JSON"),
        (b"[1]", "not an object"),
        (b"3", "not an object"),
        # read by orjson, but not writable back into the reading's values: a parse failure, not a failed write
        (b'{"x": ' + b"[" * 300 + b"]" * 300 + b"}", "nested deeper than 240"),
    ],
)
def test_json_object_failures(payload: bytes, message: str) -> None:
    decoded = json_object.decode(payload, 0)
    assert decoded.error is not None
    assert message in decoded.error


def test_json_object_ignores_impossible_positions() -> None:
    decoded = json_object.decode(b'{"latitude": 123, "longitude": 5, "ts": true}', 0)
    assert (decoded.latitude, decoded.longitude, decoded.device_time_us) == (None, None, None)


@pytest.mark.parametrize("name", ["astrocast-geo", "awt-frame", "json", "passthrough"])
@given(payload=st.binary(max_size=64))
def test_no_codec_raises(name: str, payload: bytes) -> None:
    # The codec itself, not `codecs.decode`, which would turn a raise into an error reading.
    decoded = codecs.get(name)(payload, 0)
    assert isinstance(decoded, Decoded)
    assert decoded.error is None or decoded.error.strip()


def test_a_failing_codec_becomes_an_error_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(payload: bytes, received_us: int) -> Decoded:
        raise ZeroDivisionError("bug")

    monkeypatch.setitem(codecs._REGISTRY, "broken", broken)
    decoded = codecs.decode("broken", b"", 0)
    assert decoded.error == "codec broken failed: ZeroDivisionError: bug"
