"""The export formats: each a writer from tracks (one per individual, its fixes oldest first, in chunks) to
pieces of text, so that an export of any size streams through with one chunk of fixes in memory (and, for
the formats that draw a line per individual, that individual's coordinates).

- `csv`: RFC 4180 (CRLF line ends, quotes where needed), one row per fix, the codec's units in the names.
- `geojson`: RFC 7946, a FeatureCollection of a Point per fix and, after each individual's points, a
  LineString of its track (a track of one fix has no line).
- `gpx`: GPX 1.1, a track (`trk`, one `trkseg`) per individual, elevation and time per point.
- `kml`: KML 2.2, a folder per individual with a LineString of its track and a Placemark per fix.
- `movebank`: Movebank's import CSV with its own attribute names (see MOVEBANK_COLUMNS).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import orjson

from fieldstation.core.clock import MICROS
from fieldstation.core.ports import Fix


@dataclass(frozen=True, slots=True)
class Individual:
    """Who a track belongs to: the animal (the device's name), its tag, and what it is (the asset)."""

    name: str
    tag: str
    asset: str


@dataclass(frozen=True, slots=True)
class Track:
    individual: Individual
    fixes: AsyncIterator[list[Fix]]


Writer = Callable[[AsyncIterator[Track]], AsyncIterator[str]]


@dataclass(frozen=True, slots=True)
class Format:
    media_type: str
    extension: str
    write: Writer


def _iso(time_us: int) -> str:
    """RFC 3339 UTC with milliseconds, as GPX, KML and GeoJSON readers expect."""
    moment = datetime.fromtimestamp(time_us / MICROS, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _number(value: Any) -> str:
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)


def _rows(header: list[str], make: Callable[[Individual, Fix], list[Any]]) -> Writer:
    async def write(tracks: AsyncIterator[Track]) -> AsyncIterator[str]:
        buffer = io.StringIO()
        out = csv.writer(buffer, lineterminator="\r\n")
        out.writerow(header)
        async for track in tracks:
            async for chunk in track.fixes:
                for fix in chunk:
                    out.writerow(make(track.individual, fix))
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return write


CSV_COLUMNS = [
    "individual", "tag", "asset", "time", "latitude", "longitude", "altitude_m", "speed_kph", "temperature_c",
    "voltage", "battery_percentage", "hdop_m",
]  # fmt: skip


VALUE_COLUMNS = CSV_COLUMNS[6:]
"""The codec's values, by the names they have in the readings (units in the names)."""


def _csv_row(individual: Individual, fix: Fix) -> list[Any]:
    values = fix.values
    return [
        individual.name, individual.tag, individual.asset, _iso(fix.time_us), fix.latitude, fix.longitude,
        *(_number(values.get(name)) for name in VALUE_COLUMNS),
    ]  # fmt: skip


MOVEBANK_COLUMNS = [
    "timestamp", "location-long", "location-lat", "individual-local-identifier", "tag-local-identifier",
    "sensor-type", "tag-voltage", "external-temperature", "height-above-msl", "gps:hdop", "ground-speed",
]  # fmt: skip
"""Movebank's attribute names (Movebank Attribute Dictionary, NERC vocabulary MVB), mapped from what the
codecs read:
- `timestamp`: the fix time, UTC, `yyyy-MM-dd HH:mm:ss.SSS` as Movebank writes it;
- `sensor-type`: `gps`;
- `tag-voltage`: the battery voltage, in millivolts (Movebank's unit; the codecs read volts);
- `external-temperature`: the tag's temperature sensor, degrees Celsius;
- `height-above-msl`: the GPS altitude, metres;
- `gps:hdop`: the horizontal dilution of precision as the hub reports it (metres, AWT's `hdop`);
- `ground-speed`: metres a second (the codecs read km/h)."""


def _movebank_row(individual: Individual, fix: Fix) -> list[Any]:
    values = fix.values
    voltage, speed = values.get("voltage"), values.get("speed_kph")
    moment = datetime.fromtimestamp(fix.time_us / MICROS, UTC)
    return [
        moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}",
        fix.longitude,
        fix.latitude,
        individual.name,
        individual.tag,
        "gps",
        "" if voltage is None else round(voltage * 1000),
        _number(values.get("temperature_c")),
        _number(values.get("altitude_m")),
        _number(values.get("hdop_m")),
        "" if speed is None else round(speed / 3.6, 3),
    ]


def _properties(individual: Individual, fix: Fix) -> dict[str, Any]:
    known = {"individual": individual.name, "tag": individual.tag, "time": _iso(fix.time_us)}
    return known | {name: fix.values[name] for name in VALUE_COLUMNS if fix.values.get(name) is not None}


async def _geojson(tracks: AsyncIterator[Track]) -> AsyncIterator[str]:
    yield '{"type":"FeatureCollection","features":['
    separator = ""
    async for track in tracks:
        line: list[list[float]] = []
        async for chunk in track.fixes:
            features = []
            for fix in chunk:
                point = [fix.longitude, fix.latitude]
                line.append(point)
                feature = {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": point},
                    "properties": _properties(track.individual, fix),
                }
                features.append(orjson.dumps(feature).decode())
            if features:
                yield separator + ",".join(features)
                separator = ","
        if len(line) >= 2:
            feature = {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": line},
                "properties": {"individual": track.individual.name, "tag": track.individual.tag},
            }
            yield separator + orjson.dumps(feature).decode()
            separator = ","
    yield "]}\n"


async def _gpx(tracks: AsyncIterator[Track]) -> AsyncIterator[str]:
    yield (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gpx version="1.1" creator="fieldstation" xmlns="http://www.topografix.com/GPX/1/1" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="'
        'http://www.topografix.com/GPX/1/1 http://www.topografix.com/GPX/1/1/gpx.xsd">\n'
    )
    async for track in tracks:
        individual = track.individual
        name, tag = escape(individual.name), escape(individual.tag)
        yield f"<trk><name>{name}</name><desc>tag {tag}</desc><trkseg>\n"
        async for chunk in track.fixes:
            points = []
            for fix in chunk:
                altitude = fix.values.get("altitude_m")
                elevation = "" if altitude is None else f"<ele>{altitude}</ele>"
                points.append(
                    f'<trkpt lat="{fix.latitude}" lon="{fix.longitude}">{elevation}'
                    f"<time>{_iso(fix.time_us)}</time></trkpt>\n"
                )
            yield "".join(points)
        yield "</trkseg></trk>\n"
    yield "</gpx>\n"


async def _kml(tracks: AsyncIterator[Track]) -> AsyncIterator[str]:
    yield (
        '<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        "<name>fieldstation export</name>\n"
    )
    async for track in tracks:
        individual = track.individual
        yield f"<Folder><name>{escape(individual.name)}</name>\n"
        line: list[str] = []
        async for chunk in track.fixes:
            marks = []
            for fix in chunk:
                coordinates = f"{fix.longitude},{fix.latitude}"
                line.append(coordinates)
                marks.append(
                    f"<Placemark><name>{escape(_iso(fix.time_us))}</name>"
                    f"<TimeStamp><when>{_iso(fix.time_us)}</when></TimeStamp>"
                    f"<ExtendedData><Data name={quoteattr('tag')}><value>{escape(individual.tag)}</value>"
                    f"</Data></ExtendedData><Point><coordinates>{coordinates}</coordinates></Point>"
                    "</Placemark>\n"
                )
            yield "".join(marks)
        if len(line) >= 2:
            yield (
                f"<Placemark><name>track of {escape(individual.name)}</name><LineString><coordinates>"
                + " ".join(line)
                + "</coordinates></LineString></Placemark>\n"
            )
        yield "</Folder>\n"
    yield "</Document></kml>\n"


FORMATS: dict[str, Format] = {
    "csv": Format("text/csv; charset=utf-8", "csv", _rows(CSV_COLUMNS, _csv_row)),
    "geojson": Format("application/geo+json", "geojson", _geojson),
    "gpx": Format("application/gpx+xml", "gpx", _gpx),
    "kml": Format("application/vnd.google-earth.kml+xml", "kml", _kml),
    "movebank": Format("text/csv; charset=utf-8", "csv", _rows(MOVEBANK_COLUMNS, _movebank_row)),
}
