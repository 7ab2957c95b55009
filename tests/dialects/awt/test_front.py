"""The front that answers GET /data and /data/{tagId} before the framework answers exactly as the app's own
routes do, for pages and for every refusal: status, headers and body."""

from __future__ import annotations

from functools import partial
from typing import Any

from fieldstation.dialects.awt.front import DataFront
from tests.conftest import Harness

Headers = list[tuple[str, str]]


async def asgi_get(app: Any, path: str, query: str, headers: Headers) -> tuple[int, Headers, bytes]:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "root_path": "", "query_string": query.encode(),
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        "client": ("127.0.0.1", 40000), "server": ("testserver", 80), "state": {},
    }  # fmt: skip
    started: dict[str, Any] = {}
    body: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
        else:
            body.append(message.get("body", b""))

    await app(scope, receive, send)
    headers_out = [(k.decode(), v.decode()) for k, v in started["headers"]]  # in order
    return started["status"], headers_out, b"".join(body)


def layers(harness: Harness) -> tuple[Any, Any]:
    """The front, and the application behind every front (where the routes are)."""
    app: Any = harness.client.app
    front = None
    while not hasattr(app, "router"):
        if isinstance(app, DataFront):
            front = app
        app = getattr(app, "app", None) or app._app
    assert front is not None
    return front, app


CASES = [
    ("/awt/v2/data", "", "good"),
    ("/awt/v2/data", "offset=1", "good"),
    ("/awt/v2/data", "start=1790000000&end=1790000100", "good"),
    ("/awt/v2/data", "offset=1&offset=2", "good"),
    ("/awt/v2/data/1337", "", "good"),
    ("/awt/v2/data/4242", "", "good"),
    ("/awt/v2/data/x", "", "good"),
    ("/awt/v2/data/99999999999999999999", "", "good"),
    ("/awt/v2/data", "offset=-1", "good"),
    ("/awt/v2/data", "offset=%D9%A3", "good"),
    ("/awt/v2/data", "start=99999999999999", "good"),
    ("/awt/v2/data", "", "no key"),
    ("/awt/v2/data", "", "no token"),
    ("/awt/v2/data", "", "bad token"),
    ("/awt/v2/data/1337", "", "basic"),
    ("/awt/v2/data", "", "empty, then a token"),
    ("/awt/v2/data", "", "two keys"),
]


def test_the_front_answers_as_the_routes_do(harness: Harness) -> None:
    created = harness.project()
    device = harness.device(created.project, 1337, "A0C9B00000794AB5")
    harness.fix(device, 1_790_000_050)
    harness.fix(device, 1_790_000_060)
    good = harness.awt(created)
    key, bearer = ("X-API-KEY", good["X-API-KEY"]), ("Authorization", good["Authorization"])
    callers = {
        "good": [key, bearer],
        "no key": [bearer],
        "no token": [key],
        "bad token": [key, ("Authorization", "Bearer e30.e30.e30")],
        "basic": [key, ("Authorization", "Basic dTpw")],
        "empty, then a token": [key, ("Authorization", ""), bearer],  # the first of a repeat counts
        "two keys": [("X-API-KEY", "nope"), key, bearer],
    }
    front, routes = layers(harness)
    statuses = set()
    for path, query, who in CASES:
        by_front = harness.run(partial(asgi_get, front, path, query, callers[who]))
        by_routes = harness.run(partial(asgi_get, routes, path, query, callers[who]))
        assert by_front == by_routes, (path, query, who)
        statuses.add(by_front[0])
    assert statuses == {200, 400, 401, 404}


def test_the_front_keeps_the_limits_as_the_routes_do(limited: Harness) -> None:
    created = limited.project()
    headers = list(limited.awt(created).items())
    front, routes = layers(limited)
    assert limited.run(lambda: asgi_get(front, "/awt/v2/data", "", headers))[0] == 200
    refused_front = limited.run(lambda: asgi_get(front, "/awt/v2/data", "", headers))
    refused_routes = limited.run(lambda: asgi_get(routes, "/awt/v2/data", "", headers))
    assert refused_front[0] == 429 and refused_front == refused_routes


def test_other_paths_and_methods_go_on_to_the_app(harness: Harness) -> None:
    created = harness.project()
    headers = harness.awt(created)
    answered = {
        path: harness.client.get(path, headers=headers, follow_redirects=False).status_code
        for path in ("/awt/v2/data/latest", "/awt/v2/data/archive", "/awt/v2/data/")
    }
    assert answered == {"/awt/v2/data/latest": 200, "/awt/v2/data/archive": 200, "/awt/v2/data/": 307}
    assert harness.client.post("/awt/v2/data", headers=headers).status_code == 405
    assert harness.client.head("/awt/v2/data", headers=headers).status_code == 405  # as before the front
