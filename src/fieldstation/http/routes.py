"""What the router knows about a path, for error answers."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope


def allowed_methods(routes: Iterable[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route serves at this path, for a 405's `Allow` header (a path may be served by
    several routes, one per method; the router's own 405 names only the first one's)."""
    methods: set[str] = set()
    probe = {**scope, "type": "http"}
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's include_router wraps a router
        if included is not None:
            methods.update(allowed_methods(included.routes, scope))
        elif isinstance(route, Route) and route.methods and route.matches(probe)[0] is not Match.NONE:
            methods |= route.methods
    return sorted(methods)
