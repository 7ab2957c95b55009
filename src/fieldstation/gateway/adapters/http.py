"""Devices with an HTTP API (a Shelly Plug S). Parameters: `host` (`10.0.0.7` or `10.0.0.7:80`),
optionally `frequency` (seconds between polls of `pollPath`, default 60; 0 for no polling) and `pollPath`
(default `/status`).

A control call `POST /device/v1/control/:id/set?turn=on` with `instathings-path: /relay/0` and
`instathings-method: GET` becomes `GET http://<host>/relay/0?turn=on` on the device, the body forwarded
as is; a status request is the same call with the status request's headers, and the device's JSON answer is
the status."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any

import httpx

from fieldstation.gateway.adapters.base import Adapter, AdapterError
from fieldstation.gateway.outbox import OutboxFull, PairedDevice
from fieldstation.link.protocols import HTTP

HOST = re.compile(r"[A-Za-z0-9.\-]{1,253}(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
PATH = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/\-]*")
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
TIMEOUT_S = 5.0
DEFAULT_POLL_S = 60.0


class HttpAdapter(Adapter):
    protocol = HTTP
    slug = "http"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client = httpx.AsyncClient(timeout=TIMEOUT_S)
        self._polls: dict[str, asyncio.Task[None]] = {}

    @staticmethod
    async def check(parameters: Mapping[str, Any]) -> str:
        return f"HTTP devices are reached with httpx {httpx.__version__}\n"

    async def pair(self, device: PairedDevice) -> bool:
        base = _base(device)
        try:
            answer = await self._client.get(f"{base}/shelly")
        except httpx.HTTPError as exc:
            self.log.warning("device %s at %s does not answer: %s", device.id, base, exc)
            return False
        if answer.status_code >= 500:
            self.log.warning("device %s at %s answers %s", device.id, base, answer.status_code)
            return False
        await self.unpair(device.id)
        frequency = device.parameters.get("frequency", DEFAULT_POLL_S)
        if isinstance(frequency, int | float) and not isinstance(frequency, bool) and frequency > 0:
            path = _path(device.parameters.get("pollPath"), "/status")
            self._polls[device.id] = asyncio.create_task(
                self._poll(device.id, f"{base}{path}", float(frequency))
            )
        self.log.info("device %s paired at %s", device.id, base)
        return True

    async def unpair(self, device_id: str) -> None:
        task = self._polls.pop(device_id, None)
        if task is not None:
            task.cancel()

    async def control(self, device: PairedDevice, request: Mapping[str, Any]) -> None:
        answer = await self._call(device, request, default_method="POST", default_path="/")
        self.log.info(
            "device %s: %s %s -> %s",
            device.id,
            answer.request.method,
            answer.request.url.path,
            answer.status_code,
        )

    async def status(self, device: PairedDevice, request: Mapping[str, Any]) -> Any:
        answer = await self._call(device, request, default_method="GET", default_path="/status")
        try:
            return answer.json()
        except ValueError:
            return {"status": answer.status_code, "body": answer.text}

    async def close(self) -> None:
        for device_id in list(self._polls):
            await self.unpair(device_id)
        await self._client.aclose()

    async def _call(
        self, device: PairedDevice, request: Mapping[str, Any], *, default_method: str, default_path: str
    ) -> httpx.Response:
        method = str(request.get("method") or default_method).upper()
        if method not in METHODS:
            raise AdapterError(f"instathings-method must be one of {', '.join(sorted(METHODS))}")
        path = _path(request.get("path"), default_path)
        query = request.get("query") or {}
        body = request.get("body")
        try:
            return await self._client.request(
                method,
                f"{_base(device)}{path}",
                params={str(k): str(v) for k, v in dict(query).items()},
                json=body if body is not None and method != "GET" else None,
            )
        except httpx.HTTPError as exc:
            raise AdapterError(f"device {device.id} did not answer: {exc}") from exc

    async def _poll(self, device_id: str, url: str, frequency_s: float) -> None:
        while True:
            try:
                answer = await self._client.get(url)
                await self._emit(device_id, answer.json())
            except (httpx.HTTPError, ValueError) as exc:
                self.log.warning("device %s: polling %s failed: %s", device_id, url, exc)
            except OutboxFull as exc:
                self.log.error("device %s: a reading was refused: %s", device_id, exc)
            await asyncio.sleep(frequency_s)


def _base(device: PairedDevice) -> str:
    host = device.parameters.get("host")
    if not isinstance(host, str) or not HOST.fullmatch(host):
        raise AdapterError("parameters.host must be the device's host[:port], e.g. 10.0.0.7:80")
    return f"http://{host}"


def _path(value: object, default: str) -> str:
    if value is None or value == "":
        return default
    if not isinstance(value, str) or not PATH.fullmatch(value):
        raise AdapterError("instathings-path must be a path starting with /")
    return value
