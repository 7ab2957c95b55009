"""The vendor APIs. Each dialect is a package that parses requests into core calls and renders core objects
in its vendor's exact wire format, and says what it is in one `Dialect` value (its package's `DIALECT`).
No dialect imports another, and none reaches the store: they call the hub's services."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from starlette.types import ASGIApp

from fieldstation.core.hub import Hub
from fieldstation.core.ratelimit import Limit
from fieldstation.http.guard import ErrorRenderer

HubRef = Callable[[], Hub]
"""How routes reach the hub: it exists once the application's lifespan has started."""


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    mount: str
    """Its base path, e.g. "/awt/v2"."""
    create_app: Callable[[HubRef], ASGIApp]
    """Its ASGI app, mounted at `mount`."""
    max_body_bytes: int
    """The largest request body it takes; larger ones are refused unread."""
    door_error: ErrorRenderer
    """An error response in its own shape, for what the front door refuses."""
    rate_policy: Mapping[str, Limit] = field(default_factory=dict)
    """Its fair-usage table: group -> seconds between calls of one key (or seconds and burst)."""
    front: Callable[[ASGIApp, HubRef, str], ASGIApp] | None = None
    """An ASGI front placed before the whole application, for paths too hot for the framework's
    per-request machinery."""
