"""Africa Wildlife Tracking API v2 (`../shared/seeds/001_*.txt`), mounted at `/awt/v2`."""

from fieldstation.dialects.awt.app import create_app
from fieldstation.dialects.awt.errors import door_error
from fieldstation.dialects.awt.rate_limits import RATE_POLICY
from fieldstation.dialects.awt.render import render_reading
from fieldstation.dialects.awt.uplinks import UplinkIntake as front
from fieldstation.networks import MAX_BODY_BYTES

MOUNT = "/awt/v2"

__all__ = ["MAX_BODY_BYTES", "MOUNT", "RATE_POLICY", "create_app", "door_error", "front", "render_reading"]
