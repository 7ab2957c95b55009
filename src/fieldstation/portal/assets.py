"""The portal's files: its own (`static/`), and third-party browser code and the basemap from the npm
registry (`vendor/package.json`, installed by `scripts/setup` into `vendor/node_modules`). Only the files
named here are served from `node_modules`."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"
NODE_MODULES = HERE / "vendor" / "node_modules"

VENDOR_FILES: dict[str, str] = {
    "leaflet.js": "leaflet/dist/leaflet.js",
    "leaflet.css": "leaflet/dist/leaflet.css",
    "images/layers.png": "leaflet/dist/images/layers.png",
    "images/layers-2x.png": "leaflet/dist/images/layers-2x.png",
    "images/marker-icon.png": "leaflet/dist/images/marker-icon.png",
    "images/marker-icon-2x.png": "leaflet/dist/images/marker-icon-2x.png",
    "images/marker-shadow.png": "leaflet/dist/images/marker-shadow.png",
    "topojson-client.js": "topojson-client/dist/topojson-client.min.js",
    "uPlot.js": "uplot/dist/uPlot.iife.min.js",
    "uPlot.css": "uplot/dist/uPlot.min.css",
    "countries.json": "world-atlas/countries-50m.json",
    "land.json": "world-atlas/land-50m.json",
}
"""URL name under /portal/vendor/ -> file under node_modules. Natural Earth 1:50m borders and coastlines
(world-atlas): detailed enough to place a track in its country, 1.3 MB in all."""


def vendor_file(name: str) -> Path | None:
    relative = VENDOR_FILES.get(name)
    return None if relative is None else NODE_MODULES / relative


def missing_vendor_files() -> list[str]:
    """What the set-up has not installed; the portal says so on every page rather than draw half a map."""
    return sorted(name for name, relative in VENDOR_FILES.items() if not (NODE_MODULES / relative).is_file())


def prune() -> int:
    """Delete what npm installed beside the files served (READMEs, sources, maps, other scales of the
    basemap): what stays is what the hub serves and the packages' licences. Returns the files deleted."""
    kept = {NODE_MODULES / relative for relative in VENDOR_FILES.values()}
    deleted = 0
    for path in sorted(NODE_MODULES.rglob("*"), reverse=True):
        if path.is_file() and path not in kept and not path.name.startswith("LICENSE"):
            path.unlink()
            deleted += 1
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return deleted
