"""`fieldstation import awt` of bench/awt_read's project (100 tags over 60 days) from a hub that plays AWT,
into a new data dir, as the command runs it, beside the same archive pages read by the same client and
thrown away (the ceiling: what the source and the client take without storing anything).

    .venv/bin/python -m bench.imports [--readings N]

The source's rate limits are lifted: what is measured is the import's own work. (Against the real service
the seed allows one 50,000-reading page every 30 s, 1,667 readings a second: an import that stores faster
than that waits on the limit, not on the hub.) Prints readings a second of both, their ratio, the importing
process's peak memory, and checks that every reading arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import tempfile
import time
from pathlib import Path

from bench.awt_read import prepared
from bench.common import Server
from fieldstation.assembly import close_hub, open_hub
from fieldstation.client import AsyncAwtClient
from fieldstation.config import Settings
from fieldstation.imports import Checkpoint, ignore
from fieldstation.imports.awt import AwtImport

VENDOR_RATE = 50_000 / 30
"""The most the seed lets a client read: a 50,000-reading archive page every 30 s."""
RATE_TARGET = 2 * VENDOR_RATE
"""The import stores at least twice as fast as the vendor lets it read, so that the vendor's limit, never
the hub, sets an import's pace. (The read-only ceiling is printed beside it: storing a reading, with its
decoding, rendering and a durable commit, costs far more than reading it.)"""
MEMORY_TARGET_MIB = 400
"""One 50,000-reading page as Python objects (about 145 MiB) and what is being stored of it."""


async def read_only(client: AsyncAwtClient) -> int:
    return sum([len(page) async for page in client.archive_pages()])


async def imported(client: AsyncAwtClient, target: Path) -> int:
    hub = await open_hub(Settings(data_dir=target, demo=False))
    try:
        project = (await hub.projects.create("copy")).project
        checkpoint = Checkpoint(target, "copy", "awt", "bench", "bench")
        tally = await AwtImport(hub, project, client, checkpoint, ignore).run(None, follow=False)
        return tally.records
    finally:
        await close_hub(hub)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readings", type=int, default=200_000)
    options = parser.parse_args()
    data_dir, credentials = prepared(options.readings, None)
    server = Server(data_dir)
    base = f"http://127.0.0.1:{server.port}/awt/v2"

    def client() -> AsyncAwtClient:
        return AsyncAwtClient(
            credentials["api_key"],
            credentials["username"],
            credentials["password"],
            base_url=base,
            polite=False,
        )

    async def run(target: Path) -> tuple[int, float, int, float]:
        async with client() as reader:
            start = time.perf_counter()
            read = await read_only(reader)
            read_s = time.perf_counter() - start
        async with client() as importer:
            start = time.perf_counter()
            stored = await imported(importer, target)
            import_s = time.perf_counter() - start
        return read, read_s, stored, import_s

    try:
        baseline_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        with tempfile.TemporaryDirectory() as target:
            read, read_s, stored, import_s = asyncio.run(run(Path(target)))
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    finally:
        server.stop()
    ratio = (stored / import_s) / (read / read_s)
    print(
        json.dumps(
            {
                "readings": read,
                "pages_read_only": {"seconds": round(read_s, 2), "readings_per_second": round(read / read_s)},
                "import": {"seconds": round(import_s, 2), "readings_per_second": round(stored / import_s)},
                "share_of_read_only_rate": round(ratio, 3),
                "process_peak_mib": round(peak_mib, 1),
                "process_peak_before_mib": round(baseline_mib, 1),
            },
            indent=2,
        )
    )
    for verdict, ok in {
        f"every reading imported ({stored:,} of {read:,})": stored == read,
        f"import {stored / import_s:,.0f} readings/s >= {RATE_TARGET:,.0f} (twice the vendor's limit)": (
            stored / import_s >= RATE_TARGET
        ),
        f"peak memory {peak_mib:.0f} MiB <= {MEMORY_TARGET_MIB} MiB": peak_mib <= MEMORY_TARGET_MIB,
    }.items():
        print(f"{'PASS' if ok else 'FAIL'}  {verdict}")


if __name__ == "__main__":
    main()
