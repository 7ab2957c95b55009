"""The portal's routes under `/portal`: sign-in, the pages, the data their scripts draw, live fixes and
export downloads. Pages are rendered on the server (Jinja2, autoescaped); a page that changes something
does it with a POST form carrying the session's CSRF token, and answers with a redirect."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from fieldstation import __version__
from fieldstation.config import Settings
from fieldstation.core.clock import MICROS
from fieldstation.core.errors import InvalidInput, NotFound, RateLimited, Unauthorized
from fieldstation.core.events import SubscriberTooSlow
from fieldstation.core.hub import Hub
from fieldstation.core.models import CredentialKind, Device, OperatorSession, Project
from fieldstation.core.projects import credential_secrets
from fieldstation.export import FORMATS, export, individual
from fieldstation.portal import data
from fieldstation.portal.assets import STATIC, TEMPLATES, missing_vendor_files, vendor_file
from fieldstation.portal.session import (
    SECURITY_HEADERS,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    FormRefused,
    clear_session_cookie,
    content_security_policy,
    read_form,
    same_origin,
    session_of,
    set_session_cookie,
    set_sign_in_cookie,
    sign_in_token,
    visible,
)

log = logging.getLogger("fieldstation.portal")
MOUNT = "/portal"
LOG_TAIL = 200
RECENT_READINGS = 20
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
SESSION_CHECK_S = 30.0
SETTINGS_FORM = ("auto_register", "retention_days", "instathings_env", "maintenance")


class Portal:
    def __init__(self, hub: Callable[[], Hub], settings: Settings, api_docs: list[tuple[str, str]]) -> None:
        self._hub = hub
        self._api_docs = api_docs
        self._settings = settings
        self._csp = content_security_policy(settings.portal_tiles)
        self._templates = Environment(
            loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), enable_async=False
        )
        self._templates.filters["when"] = _when

    # responses ------------------------------------------------------------------------------------------

    def page(
        self,
        request: Request,
        template: str,
        status: int = 200,
        session: OperatorSession | None = None,
        **context: Any,
    ) -> HTMLResponse:
        html = self._templates.get_template(template).render(
            base=MOUNT,
            version=__version__,
            session=session,
            missing_assets=missing_vendor_files(),
            request_path=request.url.path,
            api_docs=self._api_docs,
            **context,
        )
        return HTMLResponse(html, status_code=status, headers=self._headers())

    def _headers(self) -> dict[str, str]:
        return {**SECURITY_HEADERS, "Content-Security-Policy": self._csp}

    def json(self, body: Any, status: int = 200) -> Response:
        return Response(
            orjson.dumps(body), status_code=status, media_type="application/json", headers=self._headers()
        )

    def redirect(self, to: str) -> RedirectResponse:
        return RedirectResponse(to, status_code=303, headers=self._headers())

    # sign-in --------------------------------------------------------------------------------------------

    async def sign_in_page(self, request: Request) -> Response:
        if await session_of(request, self._hub()):
            return self.redirect(_next(request))
        return self._sign_in_form(request, status=200, message=None)

    def _sign_in_form(self, request: Request, status: int, message: str | None, **extra: Any) -> Response:
        token = sign_in_token(request)
        response = self.page(
            request, "sign_in.html", status, csrf=token, message=message, next=_next(request), **extra
        )
        set_sign_in_cookie(response, request, token)
        return response

    async def sign_in(self, request: Request) -> Response:
        hub = self._hub()
        try:
            form = await read_form(request, request.cookies.get(SIGN_IN_COOKIE, ""))
        except FormRefused as exc:
            return self._sign_in_form(request, 403, f"{exc}.")
        client = request.client.host if request.client else "-"
        try:
            token, _ = await hub.operators.sign_in(form.get("username", ""), form.get("password", ""), client)
        except RateLimited as exc:
            response = self._sign_in_form(
                request, 429, f"Too many attempts: wait {exc.retry_after_s} s and try again."
            )
            response.headers["Retry-After"] = str(exc.retry_after_s)
            return response
        except Unauthorized:
            log.info("portal: failed sign-in for %r from %s", form.get("username", "")[:64], client)
            return self._sign_in_form(
                request, 401, "Wrong username or password.", username=form.get("username")
            )
        response = self.redirect(_next(request, form.get("next")))
        set_session_cookie(response, request, token)
        return response

    async def sign_out(self, request: Request) -> Response:
        hub = self._hub()
        session = await session_of(request, hub)
        if session is not None:
            try:
                await read_form(request, session.csrf_token)
            except FormRefused:
                return self.redirect(f"{MOUNT}/")
            await hub.operators.sign_out(request.cookies.get(SESSION_COOKIE, ""))
        response = self.redirect(f"{MOUNT}/sign-in")
        clear_session_cookie(response, request)
        return response

    # signed-in pages ------------------------------------------------------------------------------------

    def signed_in(
        self, handler: Callable[[Request, Hub, OperatorSession], Awaitable[Response]], *, api: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        async def guarded(request: Request) -> Response:
            hub = self._hub()
            session = await session_of(request, hub)
            if session is None:
                if api:
                    return self.json({"error": "not signed in"}, 401)
                return self.redirect(f"{MOUNT}/sign-in?next={request.url.path}")
            try:
                return await handler(request, hub, session)
            except FormRefused as exc:
                return self.page(request, "message.html", 403, session, title="Refused", message=f"{exc}.")
            except NotFound as exc:
                if api:
                    return self.json({"error": str(exc)}, 404)
                return self.page(request, "message.html", 404, session, title="Not found", message=str(exc))
            except (InvalidInput, data.BadPeriod) as exc:
                if api:
                    return self.json({"error": str(exc)}, 400)
                return self.page(request, "message.html", 400, session, title="Not valid", message=str(exc))

        return guarded

    async def _project(self, request: HTTPConnection, hub: Hub, session: OperatorSession) -> Project:
        name = request.path_params["project"]
        project = None
        if len(name) <= 64:
            with contextlib.suppress(NotFound):
                project = await hub.projects.get(name)
        if project is None or not visible(session, project):
            raise NotFound(f"you have no project named {name!r}")
        return project

    async def _device(self, hub: Hub, project: Project, short_id: str) -> Device:
        device = await hub.devices.by_short_id(project, short_id) if len(short_id) <= 16 else None
        if device is None:
            raise NotFound(f"project {project.name} has no device {short_id!r}")
        return device

    def _period(self, request: Request, hub: Hub) -> tuple[int, int]:
        query = request.query_params
        return data.period(query.get("start") or None, query.get("end") or None, hub.clock.now_us())

    async def home(self, request: Request, hub: Hub, session: OperatorSession) -> Response:
        projects = await hub.operators.visible_projects(session.operator)
        counts = {project.id: len(await hub.devices.list(project)) for project in projects}
        return self.page(request, "projects.html", session=session, projects=projects, counts=counts)

    async def map_page(self, request: Request, hub: Hub, session: OperatorSession) -> Response:
        project = await self._project(request, hub, session)
        since_us, until_us = self._period(request, hub)
        return self.page(
            request,
            "map.html",
            session=session,
            project=project,
            start=data.day_text(since_us),
            end=data.day_text(until_us),
            tiles=self._settings.portal_tiles or "",
            attribution=self._settings.portal_tiles_attribution,
        )

    async def tracks(self, request: Request, hub: Hub, session: OperatorSession) -> Response:
        project = await self._project(request, hub, session)
        since_us, until_us = self._period(request, hub)
        body = await data.tracks(hub, project, since_us, until_us)
        for device in body["devices"]:
            device["url"] = f"{MOUNT}/projects/{project.name}/devices/{device['id']}"
        return self.json(body)

    async def devices_page(self, request: Request, hub: Hub, session: OperatorSession) -> Response:
        project = await self._project(request, hub, session)
        devices = await hub.devices.list(project)
        activity = await hub.readings.activity(project)
        now_s = hub.clock.now_us() // MICROS
        rows = []
        for device in sorted(devices, key=lambda d: (d.is_gateway, d.name.lower(), d.id)):
            latest = await hub.devices.recent_readings(device, 1)
            seen = activity.get(device.id)
            last_us = seen.last_message_us if seen else None
            rows.append(
                {
                    "device": device,
                    "last_seen": last_us,
                    "voltage": latest[0].values.get("voltage") if latest else None,
                    "state": _state(device, last_us, now_s),
                }
            )
        return self.page(request, "devices.html", session=session, project=project, rows=rows)

    async def device_page(self, request: Request, hub: Hub, session: OperatorSession) -> Response:
        project = await self._project(request, hub, session)
        device = await self._device(hub, project, request.path_params["device"])
        since_us, until_us = self._period(request, hub)
        recent = await hub.devices.recent_readings(device, RECENT_READINGS)
        return self.page(
            request,
            "device.html",
            session=session,
            project=project,
            device=device,
            tag=individual(device).tag,
            recent=recent,
            start=data.day_text(since_us),
            end=data.day_text(until_us),
        )

    async def device_series(self, request: Request, hub: Hub, session: OperatorSession) -> Response:
        project = await self._project(request, hub, session)
        device = await self._device(hub, project, request.path_params["device"])
        since_us, until_us = self._period(request, hub)
        return self.json(await data.series(hub, device, since_us, until_us))

    async def gateways_page(self, request: Request, hub: Hub, session: OperatorSession) -> Response:
        project = await self._project(request, hub, session)
        devices = await hub.devices.list(project)
        now = hub.clock.now_us()
        gateways = []
        for gateway in (device for device in devices if device.is_gateway):
            lines = await hub.operations.logs(gateway, "gate", now - 86_400 * MICROS, now, 10_000)
            gateways.append(
                {
                    "device": gateway,
                    "link": gateway.link_state or {},
                    "paired": [device for device in devices if device.parent_id == gateway.id],
                    "log": lines[-LOG_TAIL:],
                }
            )
        return self.page(request, "gateways.html", session=session, project=project, gateways=gateways)

    async def credentials_page(self, request: Request, hub: Hub, session: OperatorSession) -> Response:
        project = await self._project(request, hub, session)
        return await self._credentials(request, hub, session, project)

    async def _credentials(
        self,
        request: Request,
        hub: Hub,
        session: OperatorSession,
        project: Project,
        issued: dict[str, Any] | None = None,
        status: int = 200,
    ) -> Response:
        credentials = await hub.projects.credentials(project)
        return self.page(
            request,
            "credentials.html",
            status,
            session=session,
            project=project,
            credentials=sorted(credentials, key=lambda c: (c.revoked_us is not None, c.kind.value, c.id)),
            kinds=[kind.value for kind in CredentialKind],
            issued=issued,
            csrf=session.csrf_token,
        )

    async def create_credential(self, request: Request, hub: Hub, session: OperatorSession) -> Response:
        project = await self._project(request, hub, session)
        form = await read_form(request, session.csrf_token)
        try:
            kind = CredentialKind(form.get("kind", ""))
        except ValueError:
            raise InvalidInput(f"no credential kind {form.get('kind', '')!r}") from None
        issued = await hub.projects.issue_credential(project, kind)
        log.info("portal: %s created %s credential %d of %s", session.operator.username, kind.value,
                 issued.credential.id, project.name)  # fmt: skip
        shown = {"id": issued.credential.id, "kind": kind.value, **credential_secrets(issued, project)}
        return await self._credentials(request, hub, session, project, issued=shown, status=201)

    async def revoke_credential(self, request: Request, hub: Hub, session: OperatorSession) -> Response:
        project = await self._project(request, hub, session)
        await read_form(request, session.csrf_token)
        wanted = request.path_params["credential"]
        owned = {c.id: c for c in await hub.projects.credentials(project)}
        credential = (
            owned.get(int(wanted)) if wanted.isascii() and wanted.isdigit() and len(wanted) < 19 else None
        )
        if credential is None:
            raise NotFound(f"project {project.name} has no credential {wanted}")
        await hub.projects.revoke_credential(credential.id)
        log.info(
            "portal: %s revoked credential %d of %s", session.operator.username, credential.id, project.name
        )
        return self.redirect(f"{MOUNT}/projects/{project.name}/credentials")

    async def save_settings(self, request: Request, hub: Hub, session: OperatorSession) -> Response:
        project = await self._project(request, hub, session)
        form = await read_form(request, session.csrf_token)
        retention = form.get("retention_days", "").strip()
        if retention and not (retention.isascii() and retention.isdigit() and 1 <= int(retention) <= 36_500):
            raise InvalidInput("keep readings 1 to 36500 days, or leave it empty to keep them all")
        env = form.get("instathings_env", "sandbox")
        if env not in ("sandbox", "live"):
            raise InvalidInput("the Instathings environment is sandbox or live")
        await hub.projects.configure(
            project,
            auto_register=form.get("auto_register") == "on",
            retention_days=int(retention) if retention else None,
            instathings_env=env,
            maintenance=True if form.get("maintenance") == "on" else None,
        )
        log.info("portal: %s changed the settings of %s", session.operator.username, project.name)
        return self.redirect(f"{MOUNT}/projects/{project.name}/credentials")

    async def exports_page(self, request: Request, hub: Hub, session: OperatorSession) -> Response:
        project = await self._project(request, hub, session)
        since_us, until_us = data.period(None, None, hub.clock.now_us())
        return self.page(
            request,
            "exports.html",
            session=session,
            project=project,
            devices=await data.map_devices(hub, project),
            formats=FORMATS,
            start=data.day_text(since_us),
            end=data.day_text(until_us),
        )

    async def download(self, request: Request, hub: Hub, session: OperatorSession) -> Response:
        project = await self._project(request, hub, session)
        query = request.query_params
        chosen = query.get("format", "")
        if chosen not in FORMATS:
            raise InvalidInput(f"no export format {chosen!r}: {', '.join(FORMATS)}")
        since_us, until_us = self._period(request, hub)
        wanted = query.get("device") or ""
        if wanted:
            devices = [await self._device(hub, project, wanted)]
        else:
            devices = await data.map_devices(hub, project)
        form = FORMATS[chosen]
        who = f"{project.name}-{wanted}" if wanted else project.name
        name = f"{who}-{data.day_text(since_us)}-{data.day_text(until_us)}"
        pieces = export(hub, devices, since_us, until_us, chosen)

        async def encoded() -> Any:
            async for piece in pieces:
                yield piece.encode()

        return StreamingResponse(
            encoded(),
            media_type=form.media_type,
            headers={
                **self._headers(),
                "Content-Disposition": f'attachment; filename="{name}.{form.extension}"',
            },
        )

    # live -----------------------------------------------------------------------------------------------

    async def live(self, websocket: WebSocket) -> None:
        """The project's new fixes (and decoding errors) as they are committed, for the open map."""
        hub = self._hub()
        session = await session_of(websocket, hub)
        project = None
        if session is not None:
            with contextlib.suppress(NotFound):
                project = await self._project(websocket, hub, session)
        if session is None or project is None or not same_origin(websocket):
            await websocket.close(code=POLICY_VIOLATION)
            return
        await websocket.accept()
        token = websocket.cookies.get(SESSION_COOKIE, "")
        with hub.events.subscribe(project.id) as stream:
            tasks = [
                asyncio.create_task(_forward(hub, project, websocket, stream)),
                asyncio.create_task(_close_when_signed_out(hub, websocket, token)),
            ]
            try:
                while (await websocket.receive())["type"] != "websocket.disconnect":
                    pass
            finally:
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

    # files ----------------------------------------------------------------------------------------------

    async def vendor(self, request: Request) -> Response:
        path = vendor_file(request.path_params["name"])
        if path is None or not path.is_file():
            return Response("not found: run scripts/setup to install the portal's assets", 404)
        return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})


async def _forward(hub: Hub, project: Project, websocket: WebSocket, stream: Any) -> None:
    names: dict[str, str] = {}
    """Device short id -> name, for a collar the map has not drawn yet (its first uplink registered it)."""
    try:
        async for batch in stream:
            fixes = [fix for fix in map(data.live_fix, batch) if fix is not None]
            for fix in fixes:
                short_id = str(fix["device"])
                if short_id not in names:
                    device = await hub.devices.by_short_id(project, short_id)
                    names[short_id] = device.name if device is not None else short_id
                fix["name"] = names[short_id]
            if fixes:
                await websocket.send_text(orjson.dumps(fixes).decode())
    except SubscriberTooSlow:
        await websocket.close(code=TRY_AGAIN_LATER, reason="fell behind")
    except (WebSocketDisconnect, RuntimeError):
        pass


async def _close_when_signed_out(hub: Hub, websocket: WebSocket, token: str) -> None:
    """An open map stops with its session (signed out elsewhere, a new password, expired, the operator
    removed), checked every SESSION_CHECK_S."""
    while True:
        await asyncio.sleep(SESSION_CHECK_S)
        if await hub.operators.session(token) is None:
            await websocket.close(code=POLICY_VIOLATION, reason="signed out")
            return


def _next(request: Request, wanted: str | None = None) -> str:
    """Where to go after signing in: a path of the portal only (never another site)."""
    target = wanted if wanted is not None else request.query_params.get("next", "")
    if (
        target.startswith(f"{MOUNT}/")
        and not target.startswith("//")
        and "\\" not in target
        and len(target) < 512
    ):
        return target
    return f"{MOUNT}/"


def _state(device: Device, last_us: int | None, now_s: int) -> str:
    if device.is_gateway:
        status = (device.link_state or {}).get("status") or {}
        return "link up" if status.get("eventType") == "connected" else "link down"
    if last_us is None:
        return "never seen"
    silent_s = now_s - last_us // MICROS
    return "active" if silent_s <= 86_400 else f"silent {silent_s // 86_400} d"


def _when(time_us: int | None) -> str:
    if time_us is None:
        return "—"
    return datetime.fromtimestamp(time_us / MICROS, UTC).strftime("%Y-%m-%d %H:%M UTC")


def create_portal(hub: Callable[[], Hub], settings: Settings, api_docs: list[tuple[str, str]]) -> Starlette:
    """The portal's app; `api_docs` are the (name, URL) of the APIs' documentation pages, for the footer."""
    portal = Portal(hub, settings, api_docs)
    page = portal.signed_in
    p = "/projects/{project}"
    routes = [
        Route("/", page(portal.home)),
        Route("/sign-in", portal.sign_in_page, methods=["GET"]),
        Route("/sign-in", portal.sign_in, methods=["POST"]),
        Route("/sign-out", portal.sign_out, methods=["POST"]),
        Route(f"{p}/", page(portal.map_page)),
        Route(f"{p}/tracks.json", page(portal.tracks, api=True)),
        WebSocketRoute(f"{p}/live", portal.live),
        Route(f"{p}/devices", page(portal.devices_page)),
        Route(f"{p}/devices/{{device}}", page(portal.device_page)),
        Route(f"{p}/devices/{{device}}/series.json", page(portal.device_series, api=True)),
        Route(f"{p}/gateways", page(portal.gateways_page)),
        Route(f"{p}/credentials", page(portal.credentials_page), methods=["GET"]),
        Route(f"{p}/credentials", page(portal.create_credential), methods=["POST"]),
        Route(f"{p}/credentials/{{credential}}/revoke", page(portal.revoke_credential), methods=["POST"]),
        Route(f"{p}/settings", page(portal.save_settings), methods=["POST"]),
        Route(f"{p}/exports", page(portal.exports_page)),
        Route(f"{p}/export", page(portal.download)),
        Route("/vendor/{name:path}", portal.vendor),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes)
