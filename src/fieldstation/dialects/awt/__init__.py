"""Africa Wildlife Tracking API v2 (`../shared/seeds/001_*.txt`), mounted at `/awt/v2`."""

from fieldstation.dialects import Dialect
from fieldstation.dialects.awt.app import create_app
from fieldstation.dialects.awt.errors import door_error
from fieldstation.dialects.awt.front import front
from fieldstation.dialects.awt.rate_limits import RATE_POLICY
from fieldstation.dialects.awt.render import RENDERER
from fieldstation.networks import MAX_BODY_BYTES

MOUNT = "/awt/v2"
DIALECT = Dialect(
    name="awt",
    mount=MOUNT,
    create_app=create_app,
    max_body_bytes=MAX_BODY_BYTES,
    door_error=door_error,
    rate_policy=RATE_POLICY,
    front=front,
)

__all__ = ["DIALECT", "MOUNT", "RATE_POLICY", "RENDERER"]
