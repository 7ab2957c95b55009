"""Astrocast Pull API (`../shared/seeds/000_*.txt`, `specs/astrocast.md`), mounted at `/astrocast/v1`; it
also serves the push callbacks of a real Astrocast account (`intake/astrocast.py`)."""

from fieldstation.dialects import Dialect
from fieldstation.dialects.astrocast.app import create_app
from fieldstation.dialects.astrocast.errors import door_error

MOUNT = "/astrocast/v1"
MAX_BODY_BYTES = 16 * 1024
"""Command and callback bodies are a few hundred bytes."""
DIALECT = Dialect(
    name="astrocast", mount=MOUNT, create_app=create_app, max_body_bytes=MAX_BODY_BYTES, door_error=door_error
)
"""Astrocast publishes no fair-usage table."""

__all__ = ["DIALECT", "MOUNT"]
