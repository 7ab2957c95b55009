"""Exports of a 1,000,000-reading project (bench/awt_read's database: 100 tags over 60 days) to CSV and
GeoJSON, in this process as `fieldstation export` runs them, beside the raw query for the same fixes.

    .venv/bin/python -m bench.export [--readings N] [--formats csv,geojson,gpx,kml,movebank]

Prints, per format, fixes a second and megabytes a second of output, the raw query's rows a second (the
store's fixes query, rows fetched and nothing done with them: the floor under any export), their ratio, and
how much the process's peak memory has grown since before the first export (the export streams: it must
stay far below the output's size).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sqlite3
import time
from pathlib import Path

from bench.awt_read import prepared
from fieldstation.assembly import close_hub, open_hub
from fieldstation.config import Settings
from fieldstation.export import FORMATS, OPEN_END_US, export

MEMORY_TARGET_MIB = 64
"""Peak growth allowed: a chunk of fixes and one individual's line, whatever the export's size."""


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def exported(data_dir: Path, format_name: str) -> tuple[int, int, float]:
    """(fixes, bytes, seconds) of an export of the whole project."""
    hub = await open_hub(Settings(data_dir=data_dir, demo=False))
    try:
        project = await hub.projects.get("bench")
        devices = sorted(await hub.devices.list(project), key=lambda d: d.id)
        counted = [0]
        size = 0
        start = time.perf_counter()
        async for piece in export(
            hub, devices, 0, OPEN_END_US, format_name, lambda n: counted.__setitem__(0, counted[0] + n)
        ):
            size += len(piece.encode())
        return counted[0], size, time.perf_counter() - start
    finally:
        await close_hub(hub)


def raw_query(data_dir: Path) -> tuple[int, float]:
    """The store's fixes query per device, every row fetched: (rows, seconds)."""
    with sqlite3.connect(data_dir / "fieldstation.db") as db:
        devices = [row[0] for row in db.execute("SELECT id FROM devices ORDER BY id")]
        start = time.perf_counter()
        rows = 0
        for device_id in devices:
            cursor = db.execute(
                "SELECT time_us, latitude, longitude, values_json FROM readings WHERE device_id = ? "
                "AND time_us >= 0 AND latitude IS NOT NULL AND longitude IS NOT NULL AND error IS NULL "
                "ORDER BY time_us, id",
                (device_id,),
            )
            while chunk := cursor.fetchmany(2_000):
                rows += len(chunk)
        return rows, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,geojson")
    options = parser.parse_args()
    data_dir, _ = prepared(options.readings, None)
    rows, raw_s = raw_query(data_dir)
    result: dict[str, object] = {
        "readings": options.readings,
        "raw_query": {"rows": rows, "seconds": round(raw_s, 2), "rows_per_second": round(rows / raw_s)},
    }
    verdicts = {}
    baseline = peak_rss_mib()  # the process's peak is kept: growth is over what it was before any export
    for name in options.formats.split(","):
        if name not in FORMATS:
            parser.error(f"unknown format {name!r}; known: {', '.join(FORMATS)}")
        fixes, size, seconds = asyncio.run(exported(data_dir, name))
        growth = peak_rss_mib() - baseline
        result[name] = {
            "fixes": fixes,
            "seconds": round(seconds, 2),
            "fixes_per_second": round(fixes / seconds),
            "output_mib": round(size / 2**20, 1),
            "output_mib_per_second": round(size / 2**20 / seconds, 1),
            "share_of_raw_query_rate": round((fixes / seconds) / (rows / raw_s), 3),
            "peak_memory_growth_so_far_mib": round(growth, 1),
        }
        verdicts[f"{name}: every fix exported ({fixes:,} of {rows:,})"] = fixes == rows
        memory = f"{name}: peak memory growth so far {growth:.1f} MiB <= {MEMORY_TARGET_MIB} MiB"
        verdicts[memory] = growth <= MEMORY_TARGET_MIB
    print(json.dumps(result, indent=2))
    for verdict, ok in verdicts.items():
        print(f"{'PASS' if ok else 'FAIL'}  {verdict}")


if __name__ == "__main__":
    main()
