"""The on-premise REST API and the socket.io endpoint, as the seed's "On-premise REST API" and
"On-premise Websocket API" sections show them, on one Starlette app.

- `GET /device/v1/devices/:deviceId/data` with `start`/`end` (epoch ms, both or neither), `page` (from 1),
  `perPage` (1 to 100, default 10), `sort` (`ts`, `+ts`, `-ts`; default ascending time).
- `POST /device/v1/control/:deviceId/set` and `.../status`, with the cloud's headers and query forwarding
  (`instathings-path`, `instathings-method`); a status request answers 202 with the `fetch` URL, and the
  answer also goes out as `status` events.
- `/socket.io/`: events `data`, `data_{deviceId}`, `status`, `status_{deviceId}`, `{deviceId}`.

Errors are `{"message": "..."}` as the cloud's; an unknown device is a 404."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute

from fieldstation.core.values import json_value
from fieldstation.gateway.adapters.base import AdapterError
from fieldstation.gateway.onpremise.socketio import SocketIoServer

if TYPE_CHECKING:
    from fieldstation.gateway.agent import Agent

MAX_PER_PAGE = 100
DEVICE_ID = re.compile(r"[\x21-\x7e]{7,14}")
"""A device id is ASCII, 7 to 14 characters (specs/instathings.md)."""
MAX_BODY_BYTES = 64 * 1024
MAX_OPERATIONS = 1_000
MAX_MS = 253_402_300_799_999


def iso(ts_ms: int) -> str:
    return (
        dt.datetime.fromtimestamp(ts_ms / 1000, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{ts_ms % 1000:03d}Z"
    )


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def _refused(status: int, message: str) -> Response:
    return _json({"message": message}, status)


class BadParameter(ValueError):
    pass


def _integer(query: Any, name: str, default: int | None, low: int, high: int) -> int | None:
    text = query.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise BadParameter(f"{name} must be a whole number from {low} to {high}, got {text!r}.")
    return int(text)


class OnPremiseApi:
    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.sockets = SocketIoServer()
        self.operations: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.app = Starlette(
            routes=[
                Route("/device/v1/devices/{device_id}/data", self.data_page, methods=["GET"]),
                Route("/device/v1/control/{device_id}/set", self.control, methods=["POST"]),
                Route("/device/v1/control/{device_id}/status", self.status, methods=["POST"]),
                Route("/device/v1/control/{request_id}/fetch", self.fetch, methods=["GET"]),
                Route("/socket.io/", self.sockets.polling, methods=["GET", "POST"]),
                WebSocketRoute("/socket.io/", self.sockets.websocket),
            ]
        )

    # events -----------------------------------------------------------------------------------------

    def emit_data(self, device_id: str, payload: Any, ts_ms: int) -> None:
        ts = iso(ts_ms)
        self.sockets.emit("data", {"deviceId": device_id, "payload": payload, "ts": ts})
        self.sockets.emit(f"data_{device_id}", payload)
        self.sockets.emit(device_id, {"action": "data", "payload": payload, "ts": ts})

    def status_answer(self, device_id: str, payload: Any) -> None:
        ts = iso(int(time.time() * 1000))
        self.sockets.emit("status", {"payload": payload, "deviceId": device_id, "ts": ts})
        self.sockets.emit(f"status_{device_id}", payload)
        self.sockets.emit(device_id, {"action": "status", "payload": payload, "ts": ts})

    # REST -------------------------------------------------------------------------------------------

    async def data_page(self, request: Request) -> Response:
        device_id = request.path_params["device_id"]
        if not DEVICE_ID.fullmatch(device_id):
            return _refused(400, "deviceId must be 7 to 14 ASCII characters.")
        if device_id not in self.agent.devices:
            return _refused(404, f"Device {device_id} not found on this gateway.")
        query = request.query_params
        try:
            start = _integer(query, "start", None, 0, MAX_MS)
            end = _integer(query, "end", None, 0, MAX_MS)
            if (start is None) != (end is None):
                raise BadParameter("start and end must be given together (epoch milliseconds), or neither.")
            if start is not None and end is not None and start > end:
                raise BadParameter("start must not be after end.")
            page = _integer(query, "page", 1, 1, 10**9)
            per_page = _integer(query, "perPage", 10, 1, MAX_PER_PAGE)
            sort = query.get("sort", "ts")
            if sort not in ("ts", "+ts", "-ts"):
                raise BadParameter(f"sort must be ts, +ts or -ts, got {sort!r}.")
        except BadParameter as exc:
            return _refused(400, str(exc))
        assert page is not None and per_page is not None
        rows, total = self.agent.store.local_page(
            device_id, start, end, (page - 1) * per_page, per_page, newest_first=sort == "-ts"
        )
        records = [
            {
                "_id": record_id,
                "data": {"type": "data", "message": {"data": orjson.loads(payload)}},
                "deviceId": device,
                "ts": iso(ts),
            }
            for record_id, device, ts, payload in rows
        ]
        return _json({"data": records, "totalItems": total})

    async def control(self, request: Request) -> Response:
        device, asked = await self._asked(request)
        if isinstance(asked, Response):
            return asked
        try:
            await self.agent.adapters[device].control(
                self.agent.devices[str(request.path_params["device_id"])], asked
            )
        except AdapterError as exc:
            return _refused(502, f"The device did not take the command: {exc}")
        return _json({})

    async def status(self, request: Request) -> Response:
        device, asked = await self._asked(request)
        if isinstance(asked, Response):
            return asked
        device_id = str(request.path_params["device_id"])
        request_id = secrets.token_urlsafe(7)
        self.operations[request_id] = {"deviceId": device_id, "status": "pending"}
        while len(self.operations) > MAX_OPERATIONS:
            self.operations.popitem(last=False)
        try:
            answer = await self.agent.adapters[device].status(self.agent.devices[device_id], asked)
        except AdapterError as exc:
            self.operations[request_id] = {"deviceId": device_id, "status": "failed", "message": str(exc)}
        else:
            self.operations[request_id] = {
                "deviceId": device_id,
                "response": {"type": "data", "message": {"data": answer}},
                "id": request_id,
            }
            self.status_answer(device_id, answer)
        return _json({}, 202, {"Location": f"/device/v1/control/{request_id}/fetch"})

    async def fetch(self, request: Request) -> Response:
        operation = self.operations.get(request.path_params["request_id"])
        if operation is None:
            return _refused(404, f"Request {request.path_params['request_id']} not found.")
        if "response" in operation:
            return _json(operation)
        return _json(
            {"id": request.path_params["request_id"], **operation},
            504 if operation["status"] == "failed" else 202,
        )

    async def _asked(self, request: Request) -> tuple[str, dict[str, Any] | Response]:
        """The device's protocol and what goes down to it: as the cloud forwards it."""
        device_id = str(request.path_params["device_id"])
        device = self.agent.devices.get(device_id)
        if device is None:
            return "", _refused(404, f"Device {device_id} not found on this gateway.")
        declared = request.headers.get("content-length", "0")
        too_big = _refused(413, f"The body must be at most {MAX_BODY_BYTES} bytes.")
        if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
            return "", too_big
        raw = bytearray()
        async for chunk in request.stream():  # a chunked body declares no length: counted as it comes
            raw += chunk
            if len(raw) > MAX_BODY_BYTES:
                return "", too_big
        body: Any = None
        if raw.strip():
            try:
                body = json_value(bytes(raw))
            except orjson.JSONDecodeError:
                return "", _refused(400, "The body must be JSON; it is forwarded to the device as is.")
        return device.protocol, {
            "body": body,
            "query": dict(request.query_params),
            "path": request.headers.get("instathings-path"),
            "method": request.headers.get("instathings-method"),
        }
