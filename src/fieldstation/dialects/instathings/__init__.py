"""Instathings cloud API (`../shared/seeds/002_*.txt`), mounted at `/instathings`: OAuth client credentials,
devices and gateways, data, virtual devices, certificates, control and status polling, logs, protocols,
types, and the WebSocket event stream at `/instathings/ws`."""

from fieldstation.core.ratelimit import Limit
from fieldstation.dialects import Dialect
from fieldstation.dialects.instathings.app import CLIENT_LIMIT, create_app
from fieldstation.dialects.instathings.errors import door_error

MOUNT = "/instathings"
MAX_BODY_BYTES = 64 * 1024
"""Device, control and token bodies are small JSON objects."""
RATE_POLICY: dict[str, Limit] = {CLIENT_LIMIT: (0.05, 100)}
"""Per client: 20 requests a second, in bursts of up to 100 (docs/instathings.md)."""
DIALECT = Dialect(
    name="instathings",
    mount=MOUNT,
    create_app=create_app,
    max_body_bytes=MAX_BODY_BYTES,
    door_error=door_error,
    rate_policy=RATE_POLICY,
)

__all__ = ["CLIENT_LIMIT", "DIALECT", "MOUNT", "RATE_POLICY"]
