"""Africa Wildlife Tracking API v2 (`../shared/seeds/001_*.txt`), mounted at `/awt/v2`."""

from fieldstation.dialects.awt.app import create_app
from fieldstation.dialects.awt.rate_limits import RATE_POLICY
from fieldstation.dialects.awt.render import render_reading
from fieldstation.dialects.awt.uplinks import UplinkIntake as front

MOUNT = "/awt/v2"

__all__ = ["MOUNT", "RATE_POLICY", "create_app", "front", "render_reading"]
