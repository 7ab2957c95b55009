"""The portal's map of the demo project in a real browser (Debian's Chromium): the time from the page's
first paint to every track drawn, beside the time the hub takes to answer the tracks' data alone (the
ceiling under any drawing of them), in the same run.

    .venv/bin/python -m bench.portal_map [--runs 15]

Each run is a new tab (the browser's cache kept, as a returning operator's is) on `fieldstation serve` with
its demo project (five animals, a week of fixes). Target: the map drawn within a second of first paint.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.common import Server, summary

TARGET_S = 1.0
CHROMIUM = "/usr/bin/chromium"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    options = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "data"
        server = Server(data_dir, demo=True)
        try:
            portal = json.loads((data_dir / "demo-credentials.json").read_text())["portal"]
            base = f"http://127.0.0.1:{server.port}"
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--disable-background-networking"]
                )
                context = browser.new_context(viewport={"width": 1280, "height": 860})
                page = context.new_page()
                page.goto(f"{base}/portal/sign-in")
                page.fill("input[name=username]", portal["username"])
                page.fill("input[name=password]", portal["password"])
                page.click("button[type=submit]")
                page.wait_for_url(f"{base}/portal/")
                map_url = f"{base}/portal/projects/demo/"
                loads, data = [], []
                fixes = 0
                for _ in range(options.runs + 1):  # the first warms the cache and is not counted
                    tab = context.new_page()
                    tab.goto(map_url)
                    tab.wait_for_selector("body[data-tracks-drawn]")
                    painted, drawn, tracks_url = tab.evaluate(
                        """() => [
                            performance.getEntriesByName("first-paint")[0]?.startTime ?? 0,
                            performance.getEntriesByName("fieldstation-tracks-drawn")[0].startTime,
                            document.getElementById("map").dataset.tracks,
                        ]"""
                    )
                    started = time.perf_counter()
                    response = tab.request.get(f"{base}{tracks_url}")
                    body = response.json()
                    data.append(time.perf_counter() - started)
                    fixes = sum(len(device["fixes"]) for device in body["devices"])
                    loads.append((drawn - painted) / 1000)
                    tab.close()
                browser.close()
        finally:
            server.stop()
    drawn_summary, data_summary = summary(loads[1:]), summary(data[1:])
    print(
        json.dumps(
            {
                "fixes_drawn": fixes,
                "first_paint_to_tracks_drawn": drawn_summary,
                "tracks_data_alone": data_summary,
                "ratio_median": round(drawn_summary["median_ms"] / data_summary["median_ms"], 2),
                "target_ms": TARGET_S * 1000,
                "met": drawn_summary["p90_ms"] <= TARGET_S * 1000,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
