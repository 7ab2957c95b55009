"""The hub's metrics in Prometheus's text format (`GET /metrics`), from prometheus-client. Across the
processes of `serve --workers` in its multiprocess mode: the supervisor gives the workers one
`PROMETHEUS_MULTIPROC_DIR`, and whichever worker is asked answers for all of them."""

from __future__ import annotations

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLINKS = Counter(
    "fieldstation_uplinks", "Uplinks and gateway records handed to the store, by outcome.", ["outcome"]
)
REFUSED = Counter(
    "fieldstation_uplinks_refused",
    "Uplinks refused before they were stored, by source and reason.",
    ["source", "reason"],
)
BATCH_SIZE = Histogram(
    "fieldstation_ingest_batch_size",
    "Uplinks in one group commit.",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000),
)
COMMIT_SECONDS = Histogram(
    "fieldstation_ingest_commit_seconds",
    "How long a group commit's write took.",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
)
REQUESTS = Counter(
    "fieldstation_http_requests", "HTTP requests, by API, route and status.", ["api", "route", "status"]
)
REQUEST_SECONDS = Histogram(
    "fieldstation_http_request_seconds",
    "HTTP request latency, by API and route (to the last byte of the answer).",
    ["api", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RATE_LIMITED = Counter("fieldstation_rate_limited", "Requests refused by a rate limit, by group.", ["group"])
SUBSCRIBERS = Gauge("fieldstation_live_subscribers", "Live WebSocket sessions.", multiprocess_mode="livesum")
LINKS = Gauge(
    "fieldstation_gateway_link_up",
    "1 while a gateway's link is up.",
    ["gateway"],
    multiprocess_mode="mostrecent",
)
OUTBOX = Gauge(
    "fieldstation_gateway_outbox_pending",
    "Records a gateway reports waiting in its outbox for the hub.",
    ["gateway"],
    multiprocess_mode="mostrecent",
)


class PrometheusMeters:
    """`core.meters.Meters`, kept in prometheus-client's metrics."""

    def uplinks(self, stored: int, duplicates: int, failed: int) -> None:
        for outcome, count in (("stored", stored), ("duplicate", duplicates), ("failed", failed)):
            if count:
                UPLINKS.labels(outcome).inc(count)

    def batch(self, size: int, seconds: float) -> None:
        BATCH_SIZE.observe(size)
        COMMIT_SECONDS.observe(seconds)

    def refused(self, source: str, reason: str) -> None:
        REFUSED.labels(source, reason).inc()

    def rate_limited(self, group: str) -> None:
        RATE_LIMITED.labels(group).inc()

    def subscribers(self, delta: int) -> None:
        SUBSCRIBERS.inc(delta)

    def gateway_link(self, gateway: str, up: bool) -> None:
        LINKS.labels(gateway).set(1 if up else 0)

    def outbox(self, gateway: str, pending: int) -> None:
        OUTBOX.labels(gateway).set(pending)


def exposition() -> tuple[bytes, str]:
    """The metrics of every process of the installation, and their content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


class RequestMetrics:
    """Counts and times every HTTP request, labelled by the API's mount, the route that took it (the endpoint
    function's name, a bounded set) and the status."""

    def __init__(self, app: ASGIApp, mounts: tuple[str, ...]) -> None:
        self._app = app
        self._mounts = mounts
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        """(api, route, status) -> its counter and histogram: prometheus-client's `labels` looks a child up
        under a lock with its labels checked, 2 % of an uplink's time on the event loop (py-spy). The keys
        are bounded: mounts, the app's routes, and statuses."""

    @property
    def state(self) -> object:
        """The wrapped app's state, as transparent as middleware."""
        return getattr(self._app, "state", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, sending)
        finally:
            path = scope["path"]
            api = next((mount.strip("/") for mount in self._mounts if path.startswith(mount)), "hub")
            endpoint = scope.get("endpoint")
            route = getattr(endpoint, "__name__", None) or scope.get("fieldstation.route") or "unmatched"
            key = (api, route, status[0])
            children = self._children.get(key)
            if children is None:
                children = REQUESTS.labels(api, route, str(status[0])), REQUEST_SECONDS.labels(api, route)
                self._children[key] = children
            children[0].inc()
            children[1].observe(time.perf_counter() - start)
