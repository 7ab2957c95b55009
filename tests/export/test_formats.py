"""Exports read back by the readers people use: `csv` for CSV and Movebank, gpxpy for GPX, a GeoJSON and a
KML check; every fix once, each individual's oldest first, the period and device filters kept."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ElementTree

import gpxpy
import pytest

from fieldstation.core.clock import MICROS
from fieldstation.core.models import Device
from fieldstation.export import export
from fieldstation.export.formats import MOVEBANK_COLUMNS
from tests.conftest import START_S, Harness

KML = "{http://www.opengis.net/kml/2.2}"


def _scene(harness: Harness) -> list[Device]:
    """Two animals, three fixes each an hour apart, and a reading without a position (not exported)."""
    project = harness.project().project
    devices = [
        harness.device(project, n, f"{n:016X}", name=name, asset="Savannah Elephant")
        for n, name in ((11, "Tembo"), (12, 'Nandi, "the calm one"'))
    ]
    for hour in range(3):
        for device in devices:
            harness.fix(device, START_S - 7_200 + hour * 3_600, latitude=-24.0 - hour / 100,
                        longitude=31.5 + (device.tag_id or 0) / 100, voltage=3.7, temperature=20 + hour,
                        altitude=300 + hour)  # fmt: skip
    harness.uplink(devices[0], b"\x00")  # an unreadable payload: a reading with an error, no fix
    return devices


def _export(
    harness: Harness, devices: list[Device], name: str, since_s: int = 0, until_s: int = 2**40
) -> str:
    async def collect() -> str:
        pieces = [p async for p in export(harness.hub, devices, since_s * MICROS, until_s * MICROS, name)]
        return "".join(pieces)

    return harness.run(collect)


def test_csv_is_rfc_4180_with_every_fix_once(harness: Harness) -> None:
    devices = _scene(harness)
    text = _export(harness, devices, "csv")
    assert text.count("\r\n") == 7 and "\n" not in text.replace("\r\n", "")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [(r["individual"], r["tag"]) for r in rows] == [("Tembo", "11")] * 3 + [
        ('Nandi, "the calm one"', "12")
    ] * 3
    assert rows[0]["time"] == "2026-09-21T12:13:20.000Z" and rows[0]["asset"] == "Savannah Elephant"
    assert [r["temperature_c"] for r in rows[:3]] == ["20", "21", "22"]
    assert float(rows[0]["latitude"]) == -24.0 and float(rows[3]["longitude"]) == pytest.approx(31.62)


def test_geojson_has_a_point_per_fix_and_a_line_per_individual(harness: Harness) -> None:
    devices = _scene(harness)
    collection = json.loads(_export(harness, devices, "geojson"))
    assert collection["type"] == "FeatureCollection"
    points = [f for f in collection["features"] if f["geometry"]["type"] == "Point"]
    lines = [f for f in collection["features"] if f["geometry"]["type"] == "LineString"]
    assert len(points) == 6 and len(lines) == 2
    for feature in collection["features"]:
        assert feature["type"] == "Feature" and isinstance(feature["properties"], dict)
    tembo = [p["geometry"]["coordinates"] for p in points if p["properties"]["tag"] == "11"]
    assert lines[0]["geometry"]["coordinates"] == tembo  # longitude first (RFC 7946)
    assert tembo[0] == [31.61, -24.0]
    assert points[0]["properties"]["altitude_m"] == 300


def test_gpx_has_a_track_per_individual_that_gpxpy_reads(harness: Harness) -> None:
    devices = _scene(harness)
    gpx = gpxpy.parse(_export(harness, devices, "gpx"))
    assert [t.name for t in gpx.tracks] == ["Tembo", 'Nandi, "the calm one"']
    points = gpx.tracks[0].segments[0].points
    assert len(points) == 3 and points[0].latitude == -24.0 and points[0].elevation == 300
    assert [p.time.timestamp() if p.time else None for p in points] == [
        START_S - 7_200 + h * 3_600 for h in range(3)
    ]


def test_kml_has_a_folder_per_individual(harness: Harness) -> None:
    devices = _scene(harness)
    root = ElementTree.fromstring(_export(harness, devices, "kml"))
    folders = root.findall(f"{KML}Document/{KML}Folder")
    assert [f.findtext(f"{KML}name") for f in folders] == ["Tembo", 'Nandi, "the calm one"']
    marks = folders[0].findall(f"{KML}Placemark")
    assert len(marks) == 4  # three fixes and the track
    assert marks[0].findtext(f"{KML}Point/{KML}coordinates") == "31.61,-24.0"
    assert marks[-1].find(f"{KML}LineString") is not None


def test_movebank_uses_movebanks_columns_and_units(harness: Harness) -> None:
    devices = _scene(harness)
    rows = list(csv.DictReader(io.StringIO(_export(harness, devices, "movebank"), newline="")))
    assert list(rows[0]) == MOVEBANK_COLUMNS
    first = rows[0]
    assert first["timestamp"] == "2026-09-21 12:13:20.000"
    assert (first["location-long"], first["location-lat"]) == ("31.61", "-24.0")
    assert first["individual-local-identifier"] == "Tembo" and first["tag-local-identifier"] == "11"
    assert first["sensor-type"] == "gps" and first["tag-voltage"] == "3700"  # millivolts
    assert first["external-temperature"] == "20" and first["height-above-msl"] == "300"


def test_the_period_and_the_device_are_kept(harness: Harness) -> None:
    devices = _scene(harness)
    since, until = START_S - 3_600, START_S - 3_600
    rows = list(csv.DictReader(io.StringIO(_export(harness, devices[1:], "csv", since, until), newline="")))
    assert [(r["tag"], r["time"]) for r in rows] == [("12", "2026-09-21T13:13:20.000Z")]
    assert harness.run(lambda: harness.hub.readings.count_fixes(devices, 0, 2**62)) == 6


def test_an_empty_export_is_still_a_valid_document(harness: Harness) -> None:
    devices = _scene(harness)
    assert json.loads(_export(harness, devices, "geojson", 0, 1)) == {
        "type": "FeatureCollection",
        "features": [],
    }
    assert gpxpy.parse(_export(harness, devices, "gpx", 0, 1)).tracks[0].segments[0].points == []
