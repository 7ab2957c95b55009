"""Astrocast Pull API (`../shared/seeds/000_*.txt`, `specs/astrocast.md`), mounted at `/astrocast/v1`, and
the intake for a real Astrocast account's push callbacks."""

from fieldstation.dialects.astrocast.app import create_app

MOUNT = "/astrocast/v1"
RATE_POLICY: dict[str, float] = {}
"""Astrocast publishes no fair-usage table."""

__all__ = ["MOUNT", "RATE_POLICY", "create_app"]
