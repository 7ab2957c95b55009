"""The portal's pages and data for a signed-in operator: only the projects it was given, credentials made
and revoked for real, settings saved, tracks for the map, plots, exports, and live fixes."""

from __future__ import annotations

import csv
import io
import json
import time

import gpxpy
import pytest
from starlette.websockets import WebSocketDisconnect

from fieldstation.core.models import CredentialKind
from fieldstation.portal import app as portal_app
from fieldstation.portal import data
from tests.conftest import START_S, Harness
from tests.portal.conftest import operator, sign_in


@pytest.fixture
def tracked(harness: Harness) -> tuple[Harness, str]:
    """Project `field` with two collars and six fixes each over the last day; an operator given it alone,
    and project `other` it must never see. Signed in; returns the session's form token."""
    field = harness.project("field")
    harness.project("other")
    for n, (tag, eui) in enumerate(((2041, "A0C9B00000795A01"), (2042, "A0C9B00000795A02"))):
        device = harness.device(field.project, tag, eui)
        for hour in range(6):
            harness.fix(
                device,
                START_S - 3600 * (6 - hour),
                latitude=-19.0 + n + hour / 100,
                longitude=16.3 + hour / 100,
                temperature=20 + hour,
            )
    secret = operator(harness, "ranger", projects=("field",))
    return harness, sign_in(harness.client, "ranger", secret)


def test_an_operator_sees_only_the_projects_it_was_given(tracked: tuple[Harness, str]) -> None:
    harness, csrf = tracked
    home = harness.client.get("/portal/").text
    assert "/portal/projects/field/" in home and "/portal/projects/other/" not in home
    for path in ("/", "/devices", "/credentials", "/exports", "/export?format=csv", "/gateways"):
        assert harness.client.get(f"/portal/projects/other{path}").status_code == 404, path
    assert harness.client.get("/portal/projects/other/tracks.json").status_code == 404
    other = harness.run(lambda: harness.hub.projects.get("other"))
    credential = harness.run(lambda: harness.hub.projects.credentials(other))[0]
    # Another project's credential, through the operator's own project's URL: not found, not revoked.
    response = harness.client.post(
        f"/portal/projects/field/credentials/{credential.id}/revoke", data={"csrf": csrf}
    )
    assert response.status_code == 404
    assert harness.run(lambda: harness.hub.projects.credentials(other))[0].active


def test_tracks_hold_every_fix_of_every_collar_in_its_colour(tracked: tuple[Harness, str]) -> None:
    harness, _ = tracked
    body = harness.client.get("/portal/projects/field/tracks.json").json()
    assert [device["tag"] for device in body["devices"]] == [2041, 2042]
    assert [device["colour"] for device in body["devices"]] == list(data.PALETTE[:2])
    first = body["devices"][0]
    assert len(first["fixes"]) == first["total"] == 6
    time_s, latitude, longitude, voltage, temperature, *_ = first["fixes"][-1]
    assert (time_s, latitude, longitude) == (START_S - 3600, pytest.approx(-18.95), pytest.approx(16.35))
    assert (voltage, temperature) == (3.67, 25)
    assert body["fields"] == list(data.FIX_VALUES)
    # A period that holds none of them.
    empty = harness.client.get("/portal/projects/field/tracks.json?start=2020-01-01&end=2020-01-31").json()
    assert [device["fixes"] for device in empty["devices"]] == [[], []]
    bad = harness.client.get("/portal/projects/field/tracks.json?start=yesterday")
    assert bad.status_code == 400 and bad.json() == {
        "error": "dates are YYYY-MM-DD, from 1970-01-01 to 9999-12-30"
    }
    # An end before 1970 (its week before it in year 0 made the pages fail with a 500), or at it: no time
    # before the epoch.
    assert harness.client.get("/portal/projects/field/tracks.json?start=2026-W01-1").status_code == 400
    for end in ("0001-01-01", "1969-12-31"):
        refused = harness.client.get(f"/portal/projects/field/tracks.json?end={end}")
        assert refused.status_code == 400 and refused.json() == bad.json()
        assert harness.client.get(f"/portal/projects/field/?end={end}").status_code == 400
        assert harness.client.get(f"/portal/projects/field/export?format=csv&end={end}").status_code == 400
    assert harness.client.get("/portal/projects/field/tracks.json?end=1970-01-02").json()["since"] == 0


def test_long_tracks_are_thinned_evenly_keeping_the_last_fix(
    tracked: tuple[Harness, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    harness, _ = tracked
    monkeypatch.setattr(data, "MAP_FIXES_PER_DEVICE", 4)
    first = harness.client.get("/portal/projects/field/tracks.json").json()["devices"][0]
    assert [fix[0] for fix in first["fixes"]] == [START_S - 3600 * h for h in (6, 4, 2, 1)]
    assert first["total"] == 6


def test_a_devices_page_and_its_series(tracked: tuple[Harness, str]) -> None:
    harness, _ = tracked
    listing = harness.client.get("/portal/projects/field/devices")
    assert listing.status_code == 200
    assert listing.text.count("3.67 V") == 2 and "active" in listing.text
    field = harness.run(lambda: harness.hub.projects.get("field"))
    device = harness.run(lambda: harness.hub.devices.list(field))[0]
    page = harness.client.get(f"/portal/projects/field/devices/{device.short_id}")
    assert page.status_code == 200 and "25.0 °C" in page.text
    series = harness.client.get(f"/portal/projects/field/devices/{device.short_id}/series.json").json()
    assert series["time"] == [START_S - 3600 * (6 - h) for h in range(6)]
    assert series["temperature_c"] == [20, 21, 22, 23, 24, 25]
    assert series["voltage"] == [3.67] * 6
    assert harness.client.get("/portal/projects/field/devices/nope").status_code == 404


def test_a_credential_made_in_the_portal_works_once_shown_and_stops_when_revoked(
    tracked: tuple[Harness, str],
) -> None:
    harness, csrf = tracked
    made = harness.client.post("/portal/projects/field/credentials", data={"csrf": csrf, "kind": "astrocast"})
    assert made.status_code == 201
    assert "not shown again" in made.text
    key = made.text.split('data-secret="api_key">', 1)[1].split("<", 1)[0]
    devices = harness.client.get("/astrocast/v1/devices", headers={"x-api-key": key})
    assert devices.status_code == 200
    # Listed afterwards without its secret.
    listing = harness.client.get("/portal/projects/field/credentials").text
    assert key not in listing
    field = harness.run(lambda: harness.hub.projects.get("field"))
    astrocast = [
        c
        for c in harness.run(lambda: harness.hub.projects.credentials(field))
        if c.kind is CredentialKind.ASTROCAST
    ]
    newest = max(astrocast, key=lambda c: c.id)
    revoked = harness.client.post(
        f"/portal/projects/field/credentials/{newest.id}/revoke", data={"csrf": csrf}, follow_redirects=False
    )
    assert revoked.status_code == 303
    assert harness.client.get("/astrocast/v1/devices", headers={"x-api-key": key}).status_code == 401


def test_forms_without_the_sessions_token_or_from_another_site_change_nothing(
    tracked: tuple[Harness, str],
) -> None:
    harness, csrf = tracked
    field = harness.run(lambda: harness.hub.projects.get("field"))
    before = harness.run(lambda: harness.hub.projects.credentials(field))
    assert harness.client.post("/portal/projects/field/credentials", data={"kind": "awt"}).status_code == 403
    assert (
        harness.client.post(
            "/portal/projects/field/credentials", data={"csrf": "stale", "kind": "awt"}
        ).status_code
        == 403
    )
    cross_site = harness.client.post(
        "/portal/projects/field/credentials",
        data={"csrf": csrf, "kind": "awt"},
        headers={"Origin": "https://evil.example"},
    )
    assert cross_site.status_code == 403
    as_json = harness.client.post("/portal/projects/field/credentials", json={"csrf": csrf, "kind": "awt"})
    assert as_json.status_code == 403
    assert harness.run(lambda: harness.hub.projects.credentials(field)) == before


def test_settings_are_saved_and_checked(tracked: tuple[Harness, str]) -> None:
    harness, csrf = tracked
    saved = harness.client.post(
        "/portal/projects/field/settings",
        data={
            "csrf": csrf,
            "auto_register": "on",
            "retention_days": "90",
            "instathings_env": "live",
            "maintenance": "on",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    field = harness.run(lambda: harness.hub.projects.get("field"))
    assert field.auto_register
    assert field.settings == {"retention_days": 90, "instathings_env": "live", "maintenance": True}
    assert harness.client.get("/astrocast/v1/devices", headers={"x-api-key": "x"}).status_code in (401, 503)
    for retention in ("0", "-1", "１２", "9" * 30, "forever"):
        refused = harness.client.post(
            "/portal/projects/field/settings",
            data={"csrf": csrf, "retention_days": retention, "instathings_env": "sandbox"},
        )
        assert refused.status_code == 400, retention
    assert harness.run(lambda: harness.hub.projects.get("field")).settings["retention_days"] == 90


@pytest.mark.parametrize("export_format", ["csv", "geojson", "gpx", "kml", "movebank"])
def test_each_export_downloads_and_parses(tracked: tuple[Harness, str], export_format: str) -> None:
    harness, _ = tracked
    response = harness.client.get(
        f"/portal/projects/field/export?format={export_format}&start=2026-09-20&end=2026-09-21"
    )
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="field-2026-09-20-2026-09-21.')
    text = response.text
    if export_format == "geojson":
        features = json.loads(text)["features"]
        assert sum(f["geometry"]["type"] == "Point" for f in features) == 12
        assert sum(f["geometry"]["type"] == "LineString" for f in features) == 2
    elif export_format == "gpx":
        assert sum(len(t.segments[0].points) for t in gpxpy.parse(text).tracks) == 12
    elif export_format == "kml":
        assert text.count("<Placemark>") >= 12
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
        assert len(rows) == 12
        if export_format == "movebank":
            assert {"timestamp", "location-long", "location-lat", "tag-local-identifier"} <= set(rows[0])


def test_an_export_of_one_device_and_a_bad_request(tracked: tuple[Harness, str]) -> None:
    harness, _ = tracked
    field = harness.run(lambda: harness.hub.projects.get("field"))
    device = harness.run(lambda: harness.hub.devices.list(field))[1]
    one = harness.client.get(
        f"/portal/projects/field/export?format=csv&device={device.short_id}&start=2026-09-20"
    )
    assert {row["tag"] for row in csv.DictReader(io.StringIO(one.text))} == {"2042"}
    assert harness.client.get("/portal/projects/field/export?format=xlsx").status_code == 400
    assert harness.client.get("/portal/projects/field/export?format=csv&device=nope").status_code == 404


def test_new_fixes_reach_the_open_map_live(tracked: tuple[Harness, str]) -> None:
    harness, _ = tracked
    field = harness.run(lambda: harness.hub.projects.get("field"))
    device = harness.run(lambda: harness.hub.devices.list(field))[0]
    with harness.client.websocket_connect("/portal/projects/field/live") as live:
        harness.fix(device, START_S, latitude=-18.5, longitude=16.5, temperature=31)
        (event,) = live.receive_json()
    assert event["device"] == device.short_id and event["name"] == "tag 2041"
    assert event["fix"][:3] == [START_S, pytest.approx(-18.5), pytest.approx(16.5)] and event["fix"][4] == 31
    assert event["error"] is None
    assert event["time"] == START_S


def test_the_live_map_of_another_project_or_without_a_session_is_closed(harness: Harness) -> None:
    harness.project("field")
    harness.project("other")
    secret = operator(harness, "ranger", projects=("field",))

    def refused(path: str, headers: dict[str, str] | None = None) -> int:
        with (
            pytest.raises(WebSocketDisconnect) as closed,
            harness.client.websocket_connect(path, headers=headers or {}),
        ):
            pass
        return closed.value.code

    assert refused("/portal/projects/field/live") == 1008
    sign_in(harness.client, "ranger", secret)
    assert refused("/portal/projects/other/live") == 1008
    assert refused("/portal/projects/field/live", {"Origin": "https://evil.example"}) == 1008


def test_an_open_map_stops_when_its_session_ends(
    tracked: tuple[Harness, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    harness, _ = tracked
    monkeypatch.setattr(portal_app, "SESSION_CHECK_S", 0.05)
    field = harness.run(lambda: harness.hub.projects.get("field"))
    device = harness.run(lambda: harness.hub.devices.list(field))[0]
    with harness.client.websocket_connect("/portal/projects/field/live") as live:
        harness.run(lambda: harness.hub.operators.set_password("ranger"))  # ends every session of ranger
        time.sleep(0.5)  # ten checks
        harness.fix(device, START_S, latitude=-18.5, longitude=16.5)  # what a feed left open would send
        with pytest.raises(WebSocketDisconnect) as closed:
            live.receive_json()
    assert closed.value.code == 1008
