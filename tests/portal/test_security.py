"""What the portal does with HTTPS, a configured tile source, gateways, and hostile query strings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from fieldstation.app import create_app
from fieldstation.config import Settings
from fieldstation.core.clock import MICROS, FakeClock
from fieldstation.core.hub import Hub
from fieldstation.core.models import NewDevice
from fieldstation.portal.session import content_security_policy
from tests.conftest import START_S, Harness
from tests.portal.conftest import form_token, operator, sign_in

TILES = "https://{s}.tiles.example.org/{z}/{x}/{y}.png"


@pytest.fixture
def https_hub(tmp_path: Path) -> Iterator[tuple[TestClient, Hub]]:
    """A hub reached over HTTPS (as behind a TLS proxy), with a tile source configured."""
    settings = Settings(data_dir=tmp_path, demo=False, portal_tiles=TILES, portal_tiles_attribution="© Tiles")
    with TestClient(create_app(settings, FakeClock(START_S * MICROS)), base_url="https://station") as client:
        yield client, client.app.state.hub()  # type: ignore[attr-defined]


def test_over_https_the_session_cookie_is_secure(https_hub: tuple[TestClient, Hub]) -> None:
    client, hub = https_hub
    _, secret = client.portal.call(lambda: hub.operators.create("ranger", admin=True))  # type: ignore[union-attr]
    page = client.get("/portal/sign-in")
    response = client.post(
        "/portal/sign-in",
        data={"csrf": form_token(page.text), "username": "ranger", "password": secret},
        follow_redirects=False,
    )
    cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    session = next(cookie for cookie in cookies if cookie.startswith("fieldstation_session="))
    assert "Secure" in session and "HttpOnly" in session


def test_a_tile_source_is_drawn_and_allowed_as_images_only(https_hub: tuple[TestClient, Hub]) -> None:
    client, hub = https_hub
    call = client.portal.call  # type: ignore[union-attr]
    call(lambda: hub.projects.create("field"))
    _, secret = call(lambda: hub.operators.create("ranger", admin=True))
    sign_in(client, "ranger", secret)
    page = client.get("/portal/projects/field/")
    assert f'data-tiles="{TILES}"' in page.text and 'data-attribution="© Tiles"' in page.text
    policy = page.headers["content-security-policy"]
    assert "img-src 'self' data: https://*.tiles.example.org;" in policy
    assert "script-src 'self';" in policy and "connect-src 'self';" in policy


def test_without_tiles_nothing_outside_is_allowed() -> None:
    policy = content_security_policy(None)
    assert "http" not in policy and "*" not in policy


def test_a_gateways_link_versions_paired_devices_and_log(harness: Harness) -> None:
    created = harness.project("field")
    hub = harness.hub
    gateway = harness.run(
        lambda: hub.devices.add(created.project, NewDevice(name="river gate", is_gateway=True))
    )
    harness.run(
        lambda: hub.devices.add(
            created.project, NewDevice(name="pump plug", parent_id=gateway.id, device_type="plug")
        )
    )
    harness.run(lambda: hub.gateways.session(created.project, gateway, {"eventType": "connected"}))
    connected = harness.run(lambda: hub.devices.by_id(created.project, gateway.id))
    assert connected is not None
    harness.run(lambda: hub.gateways.versions(created.project, connected, {"agent": "0.1.0"}))
    stamp_ms = harness.clock.now_us() // 1000
    harness.run(
        lambda: hub.gateways.logs(gateway, "gate", [{"log": "outbox drained", "timestamp": stamp_ms}])
    )
    sign_in(harness.client, "ranger", operator(harness, "ranger", projects=("field",)))
    page = harness.client.get("/portal/projects/field/gateways").text
    assert "river gate" in page and "link up" in page
    assert "agent 0.1.0" in page and "pump plug" in page and "outbox drained" in page


@pytest.fixture
def signed_in(harness: Harness) -> Harness:
    created = harness.project("field")
    harness.device(created.project, 2041, "A0C9B00000795A01")
    sign_in(harness.client, "ranger", operator(harness, "ranger", projects=("field",)))
    return harness


QUERY_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(["/", "/tracks.json", "/exports", "/export", "/devices"]),
    start=QUERY_TEXT,
    end=QUERY_TEXT,
    export_format=st.sampled_from(["csv", "gpx", "", "x" * 300]),
)
@example(path="/tracks.json", start="", end="9999-12-31", export_format="csv")
@example(path="/export", start="0001-01-01", end="", export_format="csv")
@example(path="/devices", start="２０２６-01-01", end="2026-13-01", export_format="")
def test_hostile_query_strings_get_an_answer_never_a_crash(
    signed_in: Harness, path: str, start: str, end: str, export_format: str
) -> None:
    response = signed_in.client.get(
        f"/portal/projects/field{path}",
        params={"start": start, "end": end, "format": export_format, "device": start},
    )
    assert response.status_code in (200, 400, 404), (response.status_code, response.text[:200])


@pytest.mark.parametrize(
    "path",
    [
        "/portal/projects/" + "x" * 5000 + "/",
        "/portal/projects/field/devices/" + "y" * 5000,
        "/portal/projects/field/credentials/99999999999999999999999/revoke",
        "/portal/projects/%00/",
        "/portal/vendor/../../../../etc/passwd",
        "/portal/static/../app.py",
    ],
)
def test_hostile_paths_are_refused(signed_in: Harness, path: str) -> None:
    method = "POST" if path.endswith("/revoke") else "GET"
    csrf = form_token(signed_in.client.get("/portal/").text)
    response = signed_in.client.request(method, path, data={"csrf": csrf} if method == "POST" else None)
    assert response.status_code in (400, 404), (path, response.status_code)
    assert "root:" not in response.text and "import" not in response.text
