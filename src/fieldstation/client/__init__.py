"""Python clients of the three APIs that fieldstation speaks, for the vendors' own services and for
fieldstation alike (the base URL is all that differs). Sync and async, on httpx; see docs/client.md.

- `AwtClient`, `AsyncAwtClient`: Africa Wildlife Tracking API v2.
- `AstrocastClient`, `AsyncAstrocastClient`: the Astrocast Pull API.
- `InstathingsClient`, `AsyncInstathingsClient`: the Instathings API, with its WebSocket events.

Each keeps the vendor's rules by itself: credentials and tokens (refreshed before they expire), published
rate limits kept up front, `Retry-After` waited out. A refusal raises `ApiError` with the status and the
vendor's error body. Nothing here imports the hub: the package can be used on its own."""

from fieldstation.client.astrocast import AstrocastClient, AsyncAstrocastClient
from fieldstation.client.awt import AsyncAwtClient, AwtClient
from fieldstation.client.clock import SYSTEM_CLOCK, Clock, SystemClock
from fieldstation.client.errors import ApiError, GaveUp, UnexpectedAnswer
from fieldstation.client.instathings import AsyncInstathingsClient, InstathingsClient, StatusPending

__all__ = [
    "SYSTEM_CLOCK",
    "ApiError",
    "AstrocastClient",
    "AsyncAstrocastClient",
    "AsyncAwtClient",
    "AsyncInstathingsClient",
    "AwtClient",
    "Clock",
    "GaveUp",
    "InstathingsClient",
    "StatusPending",
    "SystemClock",
    "UnexpectedAnswer",
]
