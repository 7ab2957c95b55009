"""The seed's fair-usage table, per API key. Endpoints in one group share one counter."""

from __future__ import annotations

TOKEN = "awt.token"
DEVICES = "awt.devices"
LATEST = "awt.latest"
DATA = "awt.data"
"""GET /data and GET /data/{tagId}"""
ARCHIVE = "awt.archive"
"""GET /data/archive and GET /data/archive/{tagId}"""

RATE_POLICY: dict[str, float] = {
    TOKEN: 60,
    DEVICES: 60,
    LATEST: 10,
    DATA: 30,
    ARCHIVE: 30,
}
"""Seconds between two allowed requests of one API key in each group."""
