"""The Instathings API: OAuth client credentials (a token fetched, and fetched again before its hour is up or
when refused), devices and gateways, data pages, control, status requests polled with `fetch` until the
device answers, log lines, protocols and types; and, asynchronously, the WebSocket events as an iterator that
reconnects by itself.

    with InstathingsClient(client_id, client_secret, base_url="http://hub:8000/instathings") as things:
        for device in things.devices():
            print(device["id"], device["name"])
        print(things.status("BSQuiDVl", timeout_s=30))
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from typing import Any, TypedDict
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
import orjson
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from fieldstation.client.clock import SYSTEM_CLOCK, Clock
from fieldstation.client.errors import ApiError, UnexpectedAnswer
from fieldstation.client.exchange import (
    AsyncClient,
    AsyncDriver,
    Call,
    Emit,
    Plan,
    Policy,
    RepeatedPage,
    Step,
    Stream,
    SyncClient,
    SyncDriver,
    json_of,
    object_of,
    objects_of,
)

log = logging.getLogger("fieldstation.client.instathings")

VENDOR_WS_URL = "wss://wss.instathings.io"
TOKEN_LIFE_S = 3_600.0
"""The token response says nothing of its life; the service's tokens last an hour."""
REFRESH_BEFORE_S = 300.0
PER_PAGE = 100
"""The most a data page holds."""
POLL_S = 1.0
RECONNECT_S = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Waits before the WebSocket's reconnections, the last repeated."""


def _data_page(found: dict[str, Any], response: httpx.Response) -> DataPage:
    records, total = found.get("data"), found.get("totalItems")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise UnexpectedAnswer.of(response, "a data page")
    if not isinstance(total, int) or isinstance(total, bool):
        raise UnexpectedAnswer.of(response, "a data page")
    return DataPage(data=records, totalItems=total)


def vendor_base_url(project: str) -> str:
    """The vendor's API for a project (`https://yourProjectName.instathings.io`)."""
    return f"https://{project}.instathings.io"


class DataRecord(TypedDict):
    ts: int
    deviceId: str
    data: dict[str, Any]
    ttl: int
    principal: str
    id: str
    clientId: str


class DataPage(TypedDict):
    data: list[DataRecord]
    totalItems: int


class Event(TypedDict):
    action: str
    payload: Any


class StatusPending(Exception):
    """The device did not answer a status request in time (`fetch` said 504, or the wait ran out)."""

    def __init__(self, request_id: str, answer: Any) -> None:
        super().__init__(f"status request {request_id}: no answer from the device ({answer})")
        self.request_id = request_id
        self.answer = answer


class InstathingsPolicy(Policy):
    def __init__(self, base_url: str, client_id: str, client_secret: str, clock: Clock) -> None:
        super().__init__(base_url, clock, {}, polite=True)
        self._credentials = {"clientId": client_id, "clientSecret": client_secret}
        self.token: str | None = None
        self.token_expires = 0.0

    def headers(self, call: Call) -> Generator[Step, httpx.Response | None, dict[str, str]]:
        if call.path == TOKEN_PATH:
            return {}
        token = yield from self.fresh_token()
        return {"Authorization": f"Bearer {token}"}

    def fresh_token(self) -> Generator[Step, httpx.Response | None, str]:
        if self.token is None or self.clock.time() >= self.token_expires - REFRESH_BEFORE_S:
            response = yield from self.exchange(Call("POST", TOKEN_PATH, json=self._credentials))
            issued = object_of(response)
            if not isinstance(issued.get("access_token"), str):
                raise UnexpectedAnswer.of(response, "a token")
            self.token = str(issued["access_token"])
            self.token_expires = self.clock.time() + TOKEN_LIFE_S
        return self.token

    def unauthorized(self, call: Call) -> bool:
        if call.path == TOKEN_PATH:
            return False
        self.token = None
        return True


TOKEN_PATH = "/authentication/v1/oauth/token"


def _http_device_headers(path: str | None, method: str | None) -> dict[str, str]:
    headers = {}
    if path is not None:
        headers["instathings-path"] = path
    if method is not None:
        headers["instathings-method"] = method
    return headers


class _Plans:
    policy: InstathingsPolicy

    def _object(
        self, method: str, path: str, params: Mapping[str, str] | None = None, body: object = None
    ) -> Plan[dict[str, Any]]:
        response = yield Call(method, path, params or {}, body)
        found: dict[str, Any] = object_of(response)
        return found

    def _list(self, path: str, params: Mapping[str, str] | None = None) -> Plan[list[dict[str, Any]]]:
        response = yield Call("GET", path, params or {})
        found: list[dict[str, Any]] = objects_of(response)
        return found

    def _page(self, device_id: str, params: Mapping[str, str]) -> Plan[DataPage]:
        response = yield Call("GET", f"/device/v1/devices/{device_id}/data", params)
        found: DataPage = _data_page(object_of(response), response)
        return found

    def _data(
        self, device_id: str, start_ms: int | None, end_ms: int | None, first_page: int
    ) -> Stream[list[DataRecord]]:
        page = first_page
        seen = (first_page - 1) * PER_PAGE
        previous_ends: tuple[Any, Any] | None = None
        while True:
            params = {"page": str(page), "perPage": str(PER_PAGE)}
            if start_ms is not None:
                params["start"] = str(start_ms)
            if end_ms is not None:
                params["end"] = str(end_ms)
            found = yield from self._page(device_id, params)
            ends = (found["data"][0], found["data"][-1]) if found["data"] else None
            if ends is not None and ends == previous_ends:
                raise RepeatedPage(f"/device/v1/devices/{device_id}/data", page)
            previous_ends = ends
            if found["data"]:
                yield Emit(found["data"])
            seen += len(found["data"])
            if len(found["data"]) < PER_PAGE or seen >= found["totalItems"]:
                return
            page += 1

    def _control(
        self,
        kind: str,
        device_id: str,
        body: object,
        query: Mapping[str, str] | None,
        path: str | None,
        method: str | None,
    ) -> Plan[httpx.Response]:
        headers = _http_device_headers(path, method)
        response = yield Call(
            "POST", f"/device/v1/control/{device_id}/{kind}", query or {}, body, headers=headers
        )
        if response.status_code >= 400:
            json_of(response)
        return response

    def _status(
        self,
        device_id: str,
        body: object,
        query: Mapping[str, str] | None,
        path: str | None,
        method: str | None,
    ) -> Plan[str]:
        response = yield from self._control("status", device_id, body, query, path, method)
        location: str = response.headers.get("location", "")
        parts = location.rstrip("/").split("/")
        if len(parts) < 2 or parts[-1] != "fetch" or not parts[-2]:
            raise UnexpectedAnswer.of(response, "a Location of .../control/{requestId}/fetch")
        return parts[-2]

    def _fetch(self, request_id: str) -> Plan[tuple[int, Any]]:
        response = yield Call("GET", f"/device/v1/control/{request_id}/fetch")
        if response.status_code not in (200, 202, 504):
            raise ApiError.of(response)
        try:
            return response.status_code, orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise UnexpectedAnswer.of(response) from None


class InstathingsClient(_Plans, SyncClient):
    """The Instathings API, synchronously. Raises `ApiError` with the status and `{"message": ...}`."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        base_url: str,
        http: httpx.Client | None = None,
        clock: Clock = SYSTEM_CLOCK,
        timeout_s: float = 60.0,
    ) -> None:
        self.policy = InstathingsPolicy(base_url, client_id, client_secret, clock)
        self._driver = SyncDriver(self.policy, http, timeout_s)

    def devices(self) -> list[dict[str, Any]]:
        return self._driver.run(self._list("/device/v1/devices"))

    def device(self, device_id: str) -> dict[str, Any]:
        return self._driver.run(self._object("GET", f"/device/v1/devices/{device_id}"))

    def create_device(self, device: Mapping[str, Any]) -> dict[str, Any]:
        return self._driver.run(self._object("POST", "/device/v1/devices", body=dict(device)))

    def update_device(self, device_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        path = f"/device/v1/devices/{device_id}"
        return self._driver.run(self._object("PATCH", path, body=dict(changes)))

    def delete_device(self, device_id: str) -> None:
        self._driver.run(self._object("DELETE", f"/device/v1/devices/{device_id}"))

    def data_page(
        self,
        device_id: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        page: int = 1,
        per_page: int = 10,
    ) -> DataPage:
        params = {"page": str(page), "perPage": str(per_page)}
        params |= {k: str(v) for k, v in (("start", start_ms), ("end", end_ms)) if v is not None}
        return self._driver.run(self._page(device_id, params))

    def data_pages(
        self, device_id: str, *, start_ms: int | None = None, end_ms: int | None = None, first_page: int = 1
    ) -> Iterator[list[DataRecord]]:
        """Every record of the device in [start_ms, end_ms], newest first, 100 a page (from `first_page`)."""
        return self._driver.stream(self._data(device_id, start_ms, end_ms, first_page))

    def control(
        self,
        device_id: str,
        body: object = None,
        *,
        query: Mapping[str, str] | None = None,
        path: str | None = None,
        method: str | None = None,
    ) -> None:
        """`set`: the body goes to the device as is; `path` and `method` for HTTP devices."""
        self._driver.run(self._control("set", device_id, body, query, path, method))

    def request_status(
        self,
        device_id: str,
        body: object = None,
        *,
        query: Mapping[str, str] | None = None,
        path: str | None = None,
        method: str | None = None,
    ) -> str:
        """Ask the device for its status; returns the request id to `fetch`."""
        return self._driver.run(self._status(device_id, body, query, path, method))

    def fetch(self, request_id: str) -> tuple[int, Any]:
        """(200, the answer), (202, pending) or (504, the device did not answer in time)."""
        return self._driver.run(self._fetch(request_id))

    def status(
        self,
        device_id: str,
        body: object = None,
        *,
        query: Mapping[str, str] | None = None,
        path: str | None = None,
        method: str | None = None,
        timeout_s: float = 30.0,
        poll_s: float = POLL_S,
    ) -> Any:
        """Ask for the device's status and poll until it answers; `StatusPending` when it does not."""
        request_id = self.request_status(device_id, body, query=query, path=path, method=method)
        deadline = self.policy.clock.time() + timeout_s
        while True:
            code, answer = self.fetch(request_id)
            if code == 200:
                return answer
            if code == 504 or self.policy.clock.time() + poll_s > deadline:
                raise StatusPending(request_id, answer)
            self.policy.clock.sleep(poll_s)

    def logs(
        self, device_id: str, container_id: str, *, start_ms: int | None = None, end_ms: int | None = None
    ) -> list[dict[str, Any]]:
        params = {k: str(v) for k, v in (("start", start_ms), ("end", end_ms)) if v is not None}
        return self._driver.run(self._list(f"/device/v1/devices/{device_id}/{container_id}/logs", params))

    def protocol(self, protocol_id: str) -> dict[str, Any]:
        return self._driver.run(self._object("GET", f"/device/v1/protocols/{protocol_id}"))

    def types(self) -> list[dict[str, Any]]:
        return self._driver.run(self._list("/device/v1/types"))


class AsyncInstathingsClient(_Plans, AsyncClient):
    """`InstathingsClient` for asyncio, with `events()`: the project's WebSocket events."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        base_url: str,
        ws_url: str | None = None,
        http: httpx.AsyncClient | None = None,
        clock: Clock = SYSTEM_CLOCK,
        timeout_s: float = 60.0,
    ) -> None:
        self.policy = InstathingsPolicy(base_url, client_id, client_secret, clock)
        self._driver = AsyncDriver(self.policy, http, timeout_s)
        self.ws_url = ws_url or _ws_url(base_url)

    async def devices(self) -> list[dict[str, Any]]:
        return await self._driver.run(self._list("/device/v1/devices"))

    async def device(self, device_id: str) -> dict[str, Any]:
        return await self._driver.run(self._object("GET", f"/device/v1/devices/{device_id}"))

    def data_pages(
        self, device_id: str, *, start_ms: int | None = None, end_ms: int | None = None, first_page: int = 1
    ) -> AsyncIterator[list[DataRecord]]:
        return self._driver.stream(self._data(device_id, start_ms, end_ms, first_page))

    async def control(
        self,
        device_id: str,
        body: object = None,
        *,
        query: Mapping[str, str] | None = None,
        path: str | None = None,
        method: str | None = None,
    ) -> None:
        await self._driver.run(self._control("set", device_id, body, query, path, method))

    async def request_status(
        self,
        device_id: str,
        body: object = None,
        *,
        query: Mapping[str, str] | None = None,
        path: str | None = None,
        method: str | None = None,
    ) -> str:
        return await self._driver.run(self._status(device_id, body, query, path, method))

    async def fetch(self, request_id: str) -> tuple[int, Any]:
        return await self._driver.run(self._fetch(request_id))

    async def status(
        self,
        device_id: str,
        body: object = None,
        *,
        query: Mapping[str, str] | None = None,
        path: str | None = None,
        method: str | None = None,
        timeout_s: float = 30.0,
        poll_s: float = POLL_S,
    ) -> Any:
        request_id = await self.request_status(device_id, body, query=query, path=path, method=method)
        deadline = self.policy.clock.time() + timeout_s
        while True:
            code, answer = await self.fetch(request_id)
            if code == 200:
                return answer
            if code == 504 or self.policy.clock.time() + poll_s > deadline:
                raise StatusPending(request_id, answer)
            await self.policy.clock.asleep(poll_s)

    async def events(self, project: str) -> AsyncIterator[Event]:
        """The project's events (its id or name), as they happen, until the caller stops iterating. A dropped
        connection is opened again (after 1, 2, 5, 10, then every 30 s), with a fresh token when the old one
        is refused; events that happen while it is down are not replayed (read the data pages for those)."""
        attempt = 0
        while True:
            token = await self._driver.drive(self.policy.fresh_token())
            url = f"{self.ws_url}?{urlencode({'project': project, 'access_token': token})}"
            try:
                async with websockets.connect(url, compression=None, open_timeout=30) as socket:
                    attempt = 0
                    async for message in socket:
                        try:
                            event = orjson.loads(message)
                        except orjson.JSONDecodeError:
                            log.warning("Instathings events: a message that is not JSON was skipped")
                            continue
                        if isinstance(event, dict) and isinstance(event.get("action"), str):
                            yield Event(action=event["action"], payload=event.get("payload"))
            except InvalidStatus as refused:
                answer = refused.response
                if answer.status_code != 403 or attempt > 1:
                    body = (answer.body or b"").decode("utf-8", "replace")[:200]
                    headers = httpx.Headers(list(answer.headers.raw_items()))
                    raise ApiError("GET", self.ws_url, answer.status_code, body, headers) from refused
                self.policy.token = None  # refused: perhaps a token revoked or expired early
            except (TimeoutError, ConnectionClosed, OSError) as lost:
                log.info("Instathings events: connection lost (%s); reconnecting", lost)
            await self.policy.clock.asleep(RECONNECT_S[min(attempt, len(RECONNECT_S) - 1)])
            attempt += 1


def _ws_url(base_url: str) -> str:
    """The vendor's WebSocket host for the vendor's API; for fieldstation, `/ws` under the API's base."""
    parts = urlsplit(base_url)
    if parts.hostname is not None and parts.hostname.endswith(".instathings.io"):
        return VENDOR_WS_URL
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws", "", ""))
