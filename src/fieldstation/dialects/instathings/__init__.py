"""Instathings cloud API (`../shared/seeds/002_*.txt`), mounted at `/instathings`: OAuth client credentials,
devices and gateways, data, virtual devices, certificates, control and status polling, logs, protocols,
types, and the WebSocket event stream at `/instathings/ws`."""

from fieldstation.dialects.instathings.app import create_app
from fieldstation.dialects.instathings.errors import door_error

MOUNT = "/instathings"
MAX_BODY_BYTES = 64 * 1024
"""Device, control and token bodies are small JSON objects."""
CLIENT_LIMIT = "instathings.client"
RATE_POLICY: dict[str, float | tuple[float, int]] = {CLIENT_LIMIT: (0.05, 100)}
"""Per client: 20 requests a second, in bursts of up to 100 (docs/instathings.md)."""

__all__ = ["CLIENT_LIMIT", "MAX_BODY_BYTES", "MOUNT", "RATE_POLICY", "create_app", "door_error"]
