"""Hostile values for every query parameter and body field of every route (the OpenAPI documents do not
describe them all): odd unicode, digits that are not ASCII, huge and negative numbers, far dates, wrong
types, deep nesting, control characters. No 5xx, one error shape per API, nothing broken afterwards."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldstation.codecs import awt_frame
from tests.conftest import START_S
from tests.fuzz.conftest import CALLBACK_SECRET, EUI, GUID, Scene, check_answer, check_views_still_work

EXAMPLES = 60

NASTY_TEXT = st.sampled_from(
    [
        "--5", "²", "٣", "1e3", "0x10", "-1", "+1", "1_000", " 7", "9" * 30, str(2**63), str(2**64), "",
        "\x00", "a\nb", "\u2028", "é" * 300, "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00Z",
        "10000-01-01T00:00:00Z", "2026-02-30T00:00:00Z", "1969-12-31T23:59:59Z", "NaN", "Infinity",
        "null", "[]", "{}", "AQÉ=", "%00", "../../etc/passwd", "\ud7ff", "𝟙𝟚𝟛",
    ]
) | st.text(max_size=40)  # fmt: skip
NASTY_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([2**62, 2**63, -(2**63) - 1, 2**31, 0.5, -0.0, 1e308])
    | st.floats(allow_nan=False, allow_infinity=False)
    | NASTY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    """With `{name}` placeholders filled from the scene's ids."""
    query: tuple[str, ...] = ()
    body: Callable[[Scene], dict[str, Any]] | None = None
    """A valid body; the fuzzer replaces one of its leaves (or adds a field) with a hostile value."""
    headers: Callable[[Scene], dict[str, str]] | None = None
    mount_headers: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def _frame() -> str:
    return awt_frame.encode(
        tag_id=1337, fix_time=START_S - 30, latitude=-25.7, longitude=28.2, voltage=3.6
    ).hex()


def _ttn(_: Scene) -> dict[str, Any]:
    return {
        "end_device_ids": {"device_id": "collar", "dev_eui": EUI},
        "received_at": "2026-09-21T10:00:00.123456789Z",
        "uplink_message": {
            "f_port": 1,
            "f_cnt": 42,
            "frm_payload": base64.b64encode(bytes.fromhex(_frame())).decode(),
            "rx_metadata": [{"gateway_ids": {"gateway_id": "gw"}, "rssi": -97, "snr": 7.5}],
            "received_at": "2026-09-21T10:00:00Z",
        },
    }


def _chirpstack(_: Scene) -> dict[str, Any]:
    return {
        "deviceInfo": {"devEui": EUI.lower(), "deviceName": "collar"},
        "time": "2026-09-21T10:00:00Z",
        "fCnt": 7,
        "fPort": 1,
        "data": base64.b64encode(bytes.fromhex(_frame())).decode(),
        "rxInfo": [{"gatewayId": "0016c001ff10a235", "rssi": -80}],
    }


def _actility(_: Scene) -> dict[str, Any]:
    return {
        "DevEUI_uplink": {
            "Time": "2026-09-21T10:00:00.000+02:00",
            "DevEUI": EUI,
            "FPort": "1",
            "FCntUp": "9",
            "payload_hex": _frame(),
            "CustomerID": "100000507",
        }
    }


def _callback(_: Scene) -> dict[str, Any]:
    return {
        "messageGuid": "5b9a9d49-0e40-4b3c-8f1e-6f6d2f0a1c11",
        "deviceGuid": GUID,
        "createdDate": "2026-09-21T09:59:00Z",
        "receivedDate": "2026-09-21T10:00:00Z",
        "data": base64.b64encode(b"hello").decode(),
        "messageSize": 5,
        "latitude": 46.2,
        "longitude": 6.1,
    }


ROUTES = [
    Route("GET", "/awt/v2/data", ("start", "end", "offset")),
    Route("GET", "/awt/v2/data/{tag}", ("start", "end", "offset")),
    Route("GET", "/awt/v2/data/archive", ("start", "end", "offset")),
    Route("GET", "/awt/v2/data/archive/{tag}", ("start", "end", "offset")),
    Route("POST", "/awt/v2/lora", body=lambda s: {"payload": _frame(), "eui": EUI}, mount_headers=False),
    Route("POST", "/awt/v2/ttn-webhook", body=_ttn, mount_headers=False),
    Route("POST", "/awt/v2/chirpstack", ("event",), body=_chirpstack, mount_headers=False),
    Route("POST", "/awt/v2/actility", ("LrnDevEui", "Token"), body=_actility, mount_headers=False),
    Route(
        "GET",
        "/astrocast/v1/messages",
        (
            "deviceGuid",
            "startReceivedDate",
            "endReceivedDate",
            "startCreatedDate",
            "endCreatedDate",
            "limit",
            "offset",
        ),
    ),
    Route("GET", "/astrocast/v1/devices/summary", ("deviceGuid", "startDate", "endDate")),
    Route(
        "GET", "/astrocast/v1/commands", ("deviceGuid", "commandStatus", "startCreatedDate", "endCreatedDate")
    ),
    Route(
        "POST",
        "/astrocast/v1/commands",
        body=lambda s: {
            "deviceGuid": GUID,
            "data": base64.b64encode(b"12345678").decode(),
            "commandReference": "ref",
            "expirationDate": "2026-12-01T00:00:00Z",
        },
    ),
    Route(
        "POST",
        "/astrocast/v1/callbacks/{project}/messages",
        body=_callback,
        headers=lambda s: {"X-Callback-Secret": CALLBACK_SECRET},
        mount_headers=False,
    ),
    Route(
        "POST",
        "/astrocast/v1/callbacks/{project}/commands",
        body=lambda s: {"commandGuid": s.ids["command"], "receivedDate": "2026-09-21T10:00:00Z"},
        headers=lambda s: {"X-Callback-Secret": CALLBACK_SECRET},
        mount_headers=False,
    ),
    Route(
        "POST",
        "/instathings/authentication/v1/oauth/token",
        body=lambda s: {"clientId": "x", "clientSecret": "y"},
        mount_headers=False,
    ),
    Route(
        "POST",
        "/instathings/device/v1/devices",
        body=lambda s: {
            "name": "dev",
            "isVirtual": True,
            "demoActive": True,
            "frequency": 60,
            "type": None,
            "protocols": [],
            "parentDevice": s.ids["gateway"],
        },
    ),
    Route(
        "PATCH",
        "/instathings/device/v1/devices/{virtual}",
        body=lambda s: {"name": "renamed", "frequency": 60, "demoActive": True},
    ),
    Route("GET", "/instathings/device/v1/devices/{virtual}/data", ("start", "end", "page", "perPage")),
    Route("GET", "/instathings/device/v1/devices/{gateway}/agent/logs", ("start", "end")),
    Route("POST", "/instathings/device/v1/control/{virtual}/set", ("state",), body=lambda s: {"state": "on"}),
    Route("POST", "/instathings/device/v1/control/{virtual}/status", ("field",), body=lambda s: {}),
]


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict) and value:
        return [path] + [leaf for key, item in value.items() for leaf in _leaves(item, (*path, key))]
    if isinstance(value, list) and value:
        return [path] + [leaf for index, item in enumerate(value) for leaf in _leaves(item, (*path, index))]
    return [path]


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replace(value[path[0]], path[1:], new)
    return copy


@st.composite
def hostile_body(draw: st.DrawFn, valid: dict[str, Any]) -> bytes:
    kind = draw(st.sampled_from(["leaf", "leaf", "leaf", "extra", "raw"]))
    if kind == "raw":
        return draw(
            st.sampled_from(
                [b"[" * 100_000, b'{"a":' * 50_000, b"\xff\xfe", b"", b"null", b"1e999", b'"\\ud800"']
            )
            | st.binary(max_size=100)
        )
    if kind == "extra":
        body = {**valid, draw(st.text(max_size=10)): draw(NASTY_JSON)}
    else:
        body = _replace(valid, draw(st.sampled_from(_leaves(valid))), draw(NASTY_JSON))
    return json.dumps(body).encode()


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_hostile_values(scene: Scene, route: Route) -> None:
    path = route.path.format(**scene.ids)
    mount = next(m for m in scene.headers if m and path.startswith(m))
    headers = dict(scene.headers[mount]) if route.mount_headers else {}
    if route.mount_headers is False and mount == "/awt/v2":
        headers = dict(scene.uplink_headers)
    if route.headers is not None:
        headers |= route.headers(scene)
    body_strategy = st.none() if route.body is None else hostile_body(route.body(scene))
    query_strategy = (
        st.dictionaries(st.sampled_from(route.query), NASTY_TEXT, max_size=3) if route.query else st.just({})
    )

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(query=query_strategy, body=body_strategy)
    def run(query: dict[str, str], body: bytes | None) -> None:
        response = scene.client.request(
            route.method,
            path,
            params=query,
            content=body,
            headers={**headers, "Content-Type": "application/json"} if body is not None else headers,
        )
        check_answer(response, path)

    run()
    check_views_still_work(scene)
