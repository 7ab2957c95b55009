"""The portal in a real browser (Debian's Chromium, driven by Playwright) against `fieldstation serve` with
its demo project. Every request that would leave the machine is blocked and recorded: a page that reaches for
the internet fails the test. Screenshots are kept in test-artifacts/portal/ (FIELDSTATION_TEST_ARTIFACTS)."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gpxpy
import httpx
import pytest

from fieldstation.demo import ANIMALS
from tests.conftest import LiveServer, basic, ttn_uplink
from tests.services import missing

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("FIELDSTATION_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts"))
QUIET_CHROMIUM = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
"""Without the networking switches Chromium calls Google's hosts at start (refused here, and not ours)."""

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        missing("Debian's Chromium (/usr/bin/chromium; scripts/test installs it as root)")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=QUIET_CHROMIUM)
        yield launched
        launched.close()


class Visit:
    """A browser tab on the hub, with what it tried to fetch from elsewhere and what its scripts threw."""

    def __init__(self, browser: Any, server: LiveServer, shots: Path) -> None:
        self.server = server
        self.context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
        self.page = self.context.new_page()
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.shots = shots
        self.page.route("**/*", self._only_the_hub)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on(
            "console", lambda message: self.errors.append(message.text) if message.type == "error" else None
        )

    def _only_the_hub(self, route: Any) -> None:
        if route.request.url.startswith(self.server.base):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def shot(self, name: str) -> None:
        self.shots.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def sign_in(self) -> None:
        portal = self.server.demo_credentials()["portal"]
        self.page.goto(f"{self.server.base}/")  # the root: a browser is sent to the portal's sign-in
        self.page.fill("input[name=username]", portal["username"])
        self.page.fill("input[name=password]", portal["password"])
        self.shot("sign-in")
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{self.server.base}/portal/")


@pytest.fixture
def visit(browser: Any, live_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[Visit]:
    tab = Visit(browser, live_server, ARTIFACTS / "portal" / request.node.name.split("[")[0])
    yield tab
    tab.context.close()
    assert tab.outside == [], f"the page reached for the internet: {tab.outside}"
    assert tab.errors == [], f"the page's scripts failed: {tab.errors}"


def test_the_demo_projects_tracks_on_the_map_offline_and_live(visit: Visit) -> None:
    visit.sign_in()
    visit.page.click("a[href='/portal/projects/demo/']")
    visit.page.wait_for_selector("body[data-tracks-drawn]")
    legend = visit.page.locator("#legend li a")
    individuals = legend.count()
    # The demo's five animals (other tests sharing this server may have added collars).
    assert {animal.name for animal in ANIMALS} <= set(legend.all_inner_texts())
    assert visit.page.inner_text("#map-status").startswith(f"{individuals} individuals, ")
    # The basemap (land and borders) is drawn from the hub's own files.
    visit.page.wait_for_selector("body[data-basemap=drawn]")
    assert visit.page.locator(".leaflet-basemap-pane canvas").count() == 1
    visit.shot("map")
    # A click on an individual's last fix shows its reading.
    track = visit.page.evaluate(
        "() => fetch(document.getElementById('map').dataset.tracks).then(r => r.json()).then(b => b.devices[0])"
    )
    time_s, latitude, longitude = track["fixes"][-1][:3]
    x, y = visit.page.evaluate(
        "([lat, lon]) => { const p = window.fieldstationMap.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
        [latitude, longitude],
    )
    box = visit.page.locator("#map").bounding_box()
    visit.page.mouse.click(box["x"] + x, box["y"] + y)
    popup = visit.page.wait_for_selector(".leaflet-popup-content .fix-popup")
    text = popup.inner_text()
    assert track["name"] in text and "Battery" in text and "Temperature" in text
    assert datetime.fromtimestamp(time_s, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") in text
    visit.shot("map-fix")
    # Live: an uplink of a new collar, posted through the TTN webhook, appears without a reload.
    visit.page.wait_for_selector("body[data-live=open]")
    awt = visit.server.demo_credentials()["awt"]
    posted = httpx.post(
        f"{visit.server.base}/awt/v2/ttn-webhook",
        content=ttn_uplink("00000000000BEEF1", 3001, 1),
        headers={"X-API-KEY": awt["api_key"], "Authorization": basic(awt["username"], awt["password"])},
    )
    assert posted.status_code == 201, posted.text
    visit.page.wait_for_selector(f"#legend li:nth-child({individuals + 1})")
    assert visit.page.inner_text(f"#legend li:nth-child({individuals + 1}) a") == "tag 3001"  # its name
    assert visit.page.inner_text("#map-status").startswith("new fix of ")
    visit.shot("map-live")


def test_a_collars_page_plots_its_battery_and_temperature(visit: Visit) -> None:
    visit.sign_in()
    visit.page.goto(f"{visit.server.base}/portal/projects/demo/devices")
    names = set(visit.page.locator("#devices tbody tr td:first-child").all_inner_texts())
    assert {animal.name for animal in ANIMALS} <= names
    visit.shot("devices")
    visit.page.click(f"#devices a:text-is('{ANIMALS[0].name}')")
    visit.page.wait_for_selector("body[data-plotted]")
    assert int(visit.page.evaluate("document.body.dataset.plotted")) > 100
    assert visit.page.locator("#plot-voltage canvas").count() == 1
    assert visit.page.locator("#plot-temperature canvas").count() == 1
    assert visit.page.locator("#readings tbody tr").count() == 20
    visit.shot("device")


def test_a_key_made_and_revoked_in_the_browser(visit: Visit) -> None:
    visit.sign_in()
    visit.page.goto(f"{visit.server.base}/portal/projects/demo/credentials")
    visit.page.select_option("select[name=kind]", "astrocast")
    visit.page.click("form.row button[type=submit]")
    key = visit.page.inner_text("code[data-secret=api_key]")
    visit.shot("credential-created")
    devices = f"{visit.server.base}/astrocast/v1/devices"
    assert httpx.get(devices, headers={"x-api-key": key}).status_code == 200
    credential_id = visit.page.inner_text("section.issued h2").rsplit(" ", 1)[1]
    visit.page.click(f"button[aria-label='Revoke credential {credential_id}']")
    visit.page.wait_for_url(f"{visit.server.base}/portal/projects/demo/credentials")
    assert httpx.get(devices, headers={"x-api-key": key}).status_code == 401
    visit.shot("credential-revoked")


def _parsed(export_format: str, text: str) -> int:
    """How many fixes the format's usual reader finds in the file."""
    if export_format == "geojson":
        document = json.loads(text)
        assert document["type"] == "FeatureCollection"
        return sum(feature["geometry"]["type"] == "Point" for feature in document["features"])
    if export_format == "gpx":
        return sum(len(segment.points) for track in gpxpy.parse(text).tracks for segment in track.segments)
    if export_format == "kml":
        return text.count("<Point>")
    return len(list(csv.DictReader(io.StringIO(text))))


def test_every_export_format_downloads_and_parses(visit: Visit) -> None:
    visit.sign_in()
    visit.page.goto(f"{visit.server.base}/portal/projects/demo/exports")
    visit.shot("exports")
    counts = {}
    for export_format in ("csv", "geojson", "gpx", "kml", "movebank"):
        visit.page.select_option("select[name=format]", export_format)
        with visit.page.expect_download() as download:
            visit.page.click("#export-form button[type=submit]")
        saved = download.value.path()
        assert download.value.suggested_filename.startswith("demo-")
        counts[export_format] = _parsed(export_format, Path(saved).read_text(encoding="utf-8"))
    assert len(set(counts.values())) == 1 and counts["csv"] > 500, counts


@pytest.mark.parametrize("docs", ["/awt/v2/docs", "/astrocast/v1/docs", "/instathings/docs"])
def test_the_api_docs_render_offline(visit: Visit, docs: str) -> None:
    visit.page.goto(f"{visit.server.base}{docs}")
    visit.page.wait_for_selector(".swagger-ui .information-container .title")
    assert visit.page.locator(".opblock").count() > 3
    visit.shot(docs.strip("/").replace("/", "-"))
