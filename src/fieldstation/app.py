"""The ASGI application: every dialect mounted at its vendor's base path, on one hub."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp

from fieldstation import __version__
from fieldstation.assembly import DIALECTS, close_hub, open_hub
from fieldstation.config import Settings
from fieldstation.core.clock import Clock
from fieldstation.core.hub import Hub
from fieldstation.core.leases import RENEW_S
from fieldstation.core.retention import keep_partitions, purge
from fieldstation.demo import Demo
from fieldstation.http.guard import Door, RequestGuard
from fieldstation.http.responses import JsonResponse
from fieldstation.http.routes import allowed_methods
from fieldstation.intake.gateway_link import wheel as agent_wheel
from fieldstation.intake.gateway_link.client import HubLink
from fieldstation.intake.gateway_link.runner import gateway_link
from fieldstation.metrics import RequestMetrics, exposition
from fieldstation.portal import MOUNT as PORTAL
from fieldstation.portal import create_portal

log = logging.getLogger("fieldstation")

DEMO_TICK_S = 300
DEMO_LEASE, RETENTION_LEASE, EXPIRY_LEASE = "demo data", "retention", "command expiry"
COMMAND_SWEEP_S = 60
VIRTUAL_TICK_S = 1
PURGE_S = 3600
HUB_MAX_BODY_BYTES = 64 * 1024
WORKER = os.getpid()
READY_TIMEOUT_S = 2.0
CHANGES_CHECK_S = 1
"""Requests see a change at once; sessions with no requests of their own (WebSockets) within this."""


class HubHolder:
    """The hub exists once the lifespan has started; routes reach it through this."""

    def __init__(self) -> None:
        self._hub: Hub | None = None

    def __call__(self) -> Hub:
        if self._hub is None:
            raise RuntimeError("the hub is not started: run the app with its lifespan")
        return self._hub

    def set(self, hub: Hub | None) -> None:
        self._hub = hub


STOP_WORK_S = 10.0
"""When the hub stops, periodic work under way has this long to finish before it is cancelled."""


async def _every(
    seconds: float, what: str, work: Callable[[], Awaitable[object]], stopping: asyncio.Event
) -> None:
    """Run `work` every `seconds` until `stopping` is set, logging (not dying of) its failures. A run under
    way is let finish rather than cancelled: a query cancelled half-way hands its database connection to
    SQLAlchemy's clean-up task, which aiosqlite can leave waiting for ever once the event loop cancels
    it too, and the loop's end then waits for it (a hub that never finished stopping)."""
    while not stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), seconds)
            return
        try:
            await work()
        except Exception:
            log.exception("%s failed; trying again in %s s", what, seconds)


async def _stop_periodic(tasks: list[asyncio.Task[None]], stopping: asyncio.Event) -> None:
    stopping.set()
    _, overdue = await asyncio.wait(tasks, timeout=STOP_WORK_S)
    for task in overdue:  # a store that does not answer: cancelled, as before
        log.warning("%s did not finish within %s s of the stop; cancelled", task.get_name(), STOP_WORK_S)
        task.cancel()


async def _catch_up_demo(hub: Hub) -> None:
    """Add the demo animals' fixes of the hours that passed."""
    for project in await hub.projects.all():
        if project.is_demo:
            added = await Demo(hub).catch_up(project)
            if added:
                log.info("demo project %s: %d new fixes", project.name, added)


def _once_across_workers(
    hub: Hub, lease: str, work: Callable[[], Awaitable[object]]
) -> Callable[[], Awaitable[None]]:
    """`work`, done only by the worker holding `lease` (core/leases.py)."""

    async def guarded() -> None:
        if hub.leases.held(lease):
            await work()

    return guarded


def _check_changes(hub: Hub) -> Callable[[], Awaitable[None]]:
    async def check() -> None:
        hub.freshness.check()

    return check


def create_app(settings: Settings, clock: Clock | None = None) -> ASGIApp:
    holder = HubHolder()
    link_holder: list[HubLink | None] = [None]

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        hub = await open_hub(settings, clock)
        hub.ingestor.start()
        holder.set(hub)
        database = settings.database().partition(":")[0].partition("+")[0]
        log.info("hub open: %s database, %d projects", database, len(await hub.projects.all()))
        singletons = (EXPIRY_LEASE, RETENTION_LEASE, *((DEMO_LEASE,) if settings.demo else ()))
        await hub.leases.renew(singletons)
        if hub.leases.held(RETENTION_LEASE):
            await keep_partitions(hub.store, hub.clock)
        if hub.leases.held(DEMO_LEASE):
            await _catch_up_demo(hub)
        once = functools.partial(_once_across_workers, hub)

        async def retain() -> None:
            await keep_partitions(hub.store, hub.clock)
            await purge(hub.store, hub.clock)

        expire = hub.commands.expire_due
        stopping = asyncio.Event()
        periodic: list[tuple[float, str, Callable[[], Awaitable[object]]]] = [
            (RENEW_S, "renewing leases", lambda: hub.leases.renew(singletons)),
            (COMMAND_SWEEP_S, "sweeping expired commands", once(EXPIRY_LEASE, expire)),
            # Virtual devices' ticks are claimed one by one in the store: any worker may make them.
            (VIRTUAL_TICK_S, "producing virtual data", hub.virtual.tick),
            (CHANGES_CHECK_S, "checking for changes", _check_changes(hub)),
            (PURGE_S, "purging past retention", once(RETENTION_LEASE, retain)),
        ]
        if settings.demo:
            periodic.append(
                (DEMO_TICK_S, "extending the demo data", once(DEMO_LEASE, lambda: _catch_up_demo(hub)))
            )
        tasks = [
            asyncio.create_task(_every(seconds, what, work, stopping), name=what)
            for seconds, what, work in periodic
        ]
        background = [asyncio.create_task(work()) for work in hub.background]
        wheel = await asyncio.to_thread(agent_wheel.build)
        hub.gateways.agent_package = (wheel.name, wheel.sha256)
        wheels[wheel.name] = wheel.data
        try:
            async with gateway_link(settings, hub) as link:
                link_holder[:] = [link]
                yield
        finally:
            for task in background:
                task.cancel()
            await _stop_periodic(tasks, stopping)
            await hub.ingestor.stop()
            holder.set(None)
            await close_hub(hub)
            log.info("hub closed: every queued uplink was written or refused")

    app = FastAPI(title="fieldstation", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.hub = holder
    wheels: dict[str, bytes] = {}

    @app.get("/gateway/agent/{name}")
    async def agent_package(name: str) -> Response:
        """The gateway agent's wheel, made from this hub's own code: what a bundle's install.sh installs
        (after checking its SHA-256)."""
        data = wheels.get(name)
        if data is None:
            return JsonResponse({"error": f"no agent package {name}; the bundle's install.sh names it"}, 404)
        return Response(data, media_type="application/octet-stream")

    @app.api_route("/healthz", methods=["GET", "POST"])
    async def healthz(_: Request) -> Response:
        """Liveness, touching nothing: also the benchmarks' no-op ceiling. `worker` tells the processes of
        `--workers` apart."""
        return JsonResponse({"status": "ok", "worker": WORKER})

    @app.get("/metrics")
    async def metrics() -> Response:
        """Prometheus text format, for every worker of the installation (docs/operations.md)."""
        body, content_type = exposition()
        return Response(body, media_type=content_type)

    @app.get("/readyz")
    async def readyz() -> Response:
        """Ready to serve: the store answers, and so does Redis and the gateways' broker where configured.
        503 with what is not, so that a load balancer sends requests elsewhere."""
        checks = await readiness(holder(), link_holder)
        ready = all(state == "ok" for state in checks.values())
        return JsonResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.get("/")
    async def index(request: Request) -> Response:
        """A browser is sent to the portal; a JSON client gets the hub's index."""
        if "text/html" in request.headers.get("accept", ""):
            return RedirectResponse(f"{PORTAL}/", status_code=303)
        return JsonResponse(
            {
                "name": "fieldstation",
                "version": __version__,
                "apis": {dialect.name: dialect.mount for dialect in DIALECTS},
            }
        )

    app.mount(PORTAL, create_portal(holder, settings, [(d.name, f"{d.mount}/docs") for d in DIALECTS]))
    asgi: ASGIApp = app
    for dialect in DIALECTS:
        app.mount(dialect.mount, dialect.create_app(holder))
        if dialect.front is not None:
            asgi = dialect.front(asgi, holder, dialect.mount)
    doors = [Door(dialect.mount, dialect.max_body_bytes, dialect.door_error) for dialect in DIALECTS]
    guard = RequestGuard(asgi, doors, Door("", HUB_MAX_BODY_BYTES, hub_error), settings.ws_max_unsent_bytes)
    _install_errors(app, guard)
    return RequestMetrics(guard, tuple(dialect.mount for dialect in DIALECTS))


def hub_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """The hub's own paths (`/`, `/healthz`) answer errors as `{"error": "..."}`."""
    return JsonResponse({"error": message}, status_code=status, headers=headers)


def _install_errors(app: FastAPI, guard: RequestGuard) -> None:
    """Errors of the root application: a path under an API's prefix that none of its routes takes still gets
    that API's error shape; everything else the hub's own. Never a framework's `{"detail": ...}`."""

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        door = guard.door(request.url.path)
        if exc.status_code == 405:
            allow = ", ".join(allowed_methods(app.routes, request.scope))
            return door.error(405, "Method not allowed on this resource.", {"Allow": allow})
        if exc.status_code == 404:
            return door.error(404, "Resource not found. Check the path against the API documentation.", None)
        return door.error(exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return guard.door(request.url.path).error(400, "The request is not valid.", None)

    @app.exception_handler(Exception)
    async def _crash(request: Request, _: Exception) -> Response:
        return guard.door(request.url.path).error(500, "Internal error. Please retry later.", None)


async def readiness(hub: Hub, link: list[HubLink | None]) -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(hub.store.ping(), READY_TIMEOUT_S)
        checks["store"] = "ok"
    except Exception as exc:  # whatever it is, the hub cannot serve
        checks["store"] = f"unreachable: {exc or type(exc).__name__}"
    for name, check in hub.readiness:
        try:
            await asyncio.wait_for(check(), READY_TIMEOUT_S)
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"unreachable: {exc or type(exc).__name__}"
    if link[0] is not None:
        checks["gateway broker"] = "ok" if link[0].connected.is_set() else "not connected"
    return checks
