"""The Astrocast Pull API (`x-api-key`): messages by received-date windows, devices, commands (send, list,
cancel, wait for a final status), and CSV downloads streamed to a file. A 503 carries the "try after" period
(`Retry-After`, 15 minutes): the client waits it out and retries.

    with AstrocastClient(api_key, base_url="http://hub:8000/astrocast/v1") as astrocast:
        for message in astrocast.messages(since=datetime(2026, 11, 1, tzinfo=UTC)):
            print(message["deviceGuid"], base64.b64decode(message["data"]).hex())
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Generator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict

import httpx

from fieldstation.client.clock import SYSTEM_CLOCK, Clock
from fieldstation.client.errors import ApiError
from fieldstation.client.exchange import (
    AsyncClient,
    AsyncDriver,
    Call,
    Emit,
    Plan,
    Policy,
    Step,
    Stream,
    SyncClient,
    SyncDriver,
    object_of,
    objects_of,
)

VENDOR_BASE_URL = "https://api.astrocast.com/v1"
WINDOW = timedelta(days=1)
"""Messages are asked for a window of received dates at a time: every answer stays small, whatever the
account's history (the vendor documents no paging)."""
ACKNOWLEDGED = 4
FINAL_STATUSES = frozenset({2, 3, 4, 5})
"""failed, cancelled, acknowledged, expired: a command in one of these changes no more (docs/astrocast.md;
Astrocast documents 4)."""
POLL_S = 5.0


class Message(TypedDict):
    messageGuid: str
    deviceGuid: str
    deviceGroupGuid: str | None
    createdDate: str | None
    receivedDate: str
    latitude: float | None
    longitude: float | None
    data: str
    messageSize: int
    callbackDeliveryStatus: int


class Device(TypedDict, total=False):
    deviceGuid: str
    name: str
    description: str | None
    deviceType: int
    deviceState: int
    lastMessageDate: str | None
    lastLatitude: float | None
    lastLongitude: float | None


class Command(TypedDict):
    commandGuid: str
    commandReference: str | None
    deviceGuid: str
    createdDate: str
    expirationDate: str | None
    receivedDate: str | None
    ackReceivedDate: str | None
    cancelledDate: str | None
    commandData: str
    commandSize: int
    commandStatus: int


class Window(TypedDict):
    start: str
    end: str
    messages: list[Message]


def iso(moment: datetime) -> str:
    """A date as the API reads it: UTC, `Z`; a naive datetime is UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{moment.microsecond:06d}Z" if moment.microsecond else "Z"
    )


class AstrocastPolicy(Policy):
    busy_statuses = frozenset({429, 503})

    def __init__(self, base_url: str, api_key: str, clock: Clock) -> None:
        super().__init__(base_url, clock, {}, polite=True)
        self._api_key = api_key

    def headers(self, call: Call) -> Generator[Step, httpx.Response | None, dict[str, str]]:
        return {"X-Api-Key": self._api_key}
        yield


class _Plans:
    policy: Policy

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.policy.clock.time(), UTC)

    def _list(self, path: str, params: dict[str, str] | None = None) -> Plan[list[Any]]:
        response = yield Call("GET", path, params or {})
        found: list[Any] = objects_of(response)
        return found

    def _one(self, method: str, path: str, body: object = None) -> Plan[Any]:
        response = yield Call(method, path, json=body)
        return object_of(response)

    def _command(self, method: str, command_guid: str) -> Plan[Command]:
        command: Command = yield from self._one(method, f"/commands/{command_guid}")
        return command

    def _device(self, device_guid: str) -> Plan[Device]:
        device: Device = yield from self._one("GET", f"/devices/{device_guid}")
        return device

    def _windows(
        self, since: datetime, until: datetime | None, device_guid: str | None, window: timedelta
    ) -> Stream[Window]:
        start = since
        end = until or self._now()
        previous: set[object] = set()
        while start < end:
            stop = min(start + window, end)
            params = {"startReceivedDate": iso(start), "endReceivedDate": iso(stop)}
            if device_guid:
                params["deviceGuid"] = device_guid
            response = yield Call("GET", "/messages", params)
            assert response is not None
            # Windows meet at their ends, which a server may count in both: a message received at the very
            # instant is listed once, in the earlier window.
            listed: list[Message] = objects_of(response)
            fresh = [m for m in listed if _guid_key(m) not in previous]
            previous = {_guid_key(m) for m in listed}
            yield Emit(Window(start=iso(start), end=iso(stop), messages=fresh))
            start = stop

    def _send(
        self, device_guid: str, data: bytes, reference: str | None, expires: datetime | None
    ) -> Plan[Command]:
        body: dict[str, object] = {"deviceGuid": device_guid, "data": base64.b64encode(data).decode()}
        if reference is not None:
            body["commandReference"] = reference
        if expires is not None:
            body["expirationDate"] = iso(expires)
        command: Command = yield from self._one("POST", "/commands", body)
        return command

    def _commands(self, device_guid: str | None, status: int | None) -> Plan[list[Command]]:
        params = {"deviceGuid": device_guid, "commandStatus": None if status is None else str(status)}
        return self._list("/commands", {k: v for k, v in params.items() if v is not None})

    def _download(self, path: str, params: dict[str, str], into: Path) -> Plan[Path]:
        response = yield Call("GET", path, params, accept="text/csv", into=into)
        if response.status_code >= 300:  # nothing was written: a redirect is not the file
            raise ApiError.of(response)
        return into


def _guid_key(message: Message) -> str | None:
    guid = message.get("messageGuid")
    return guid if isinstance(guid, str) else None


def _message_params(
    since: datetime | None, until: datetime | None, device_guid: str | None
) -> dict[str, str]:
    params = {
        "startReceivedDate": None if since is None else iso(since),
        "endReceivedDate": None if until is None else iso(until),
        "deviceGuid": device_guid,
    }
    return {name: value for name, value in params.items() if value is not None}


class AstrocastClient(_Plans, SyncClient):
    """The Astrocast Pull API, synchronously. Raises `ApiError` with the status and `{"message": ...}`."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = VENDOR_BASE_URL,
        http: httpx.Client | None = None,
        clock: Clock = SYSTEM_CLOCK,
        timeout_s: float = 120.0,
    ) -> None:
        self.policy = AstrocastPolicy(base_url, api_key, clock)
        self._driver = SyncDriver(self.policy, http, timeout_s)

    def message_windows(
        self,
        since: datetime,
        until: datetime | None = None,
        *,
        device_guid: str | None = None,
        window: timedelta = WINDOW,
    ) -> Iterator[Window]:
        """The messages received in [since, until) (until: now), a window of received dates at a time."""
        return self._driver.stream(self._windows(since, until, device_guid, window))

    def messages(
        self,
        since: datetime,
        until: datetime | None = None,
        *,
        device_guid: str | None = None,
        window: timedelta = WINDOW,
    ) -> Iterator[Message]:
        """The messages received in [since, until), oldest first."""
        for each in self.message_windows(since, until, device_guid=device_guid, window=window):
            yield from each["messages"]

    def download_messages_csv(
        self,
        into: Path,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        device_guid: str | None = None,
    ) -> Path:
        """The messages as CSV, streamed into a file (written whole or not at all)."""
        return self._driver.run(self._download("/messages", _message_params(since, until, device_guid), into))

    def devices(self) -> list[Device]:
        return self._driver.run(self._list("/devices"))

    def device(self, device_guid: str) -> Device:
        return self._driver.run(self._device(device_guid))

    def send_command(
        self, device_guid: str, data: bytes, *, reference: str | None = None, expires: datetime | None = None
    ) -> Command:
        """Queue a command (8 or 40 bytes of user data) for a device."""
        return self._driver.run(self._send(device_guid, data, reference, expires))

    def commands(self, device_guid: str | None = None, status: int | None = None) -> list[Command]:
        return self._driver.run(self._commands(device_guid, status))

    def command(self, command_guid: str) -> Command:
        return self._driver.run(self._command("GET", command_guid))

    def cancel_command(self, command_guid: str) -> Command:
        return self._driver.run(self._command("DELETE", command_guid))

    def wait_for_command(self, command_guid: str, timeout_s: float, poll_s: float = POLL_S) -> Command:
        """The command once its status is final (acknowledged, failed, cancelled or expired); raises
        `TimeoutError` when it is not within `timeout_s`."""
        deadline = self.policy.clock.time() + timeout_s
        while True:
            command = self.command(command_guid)
            if command["commandStatus"] in FINAL_STATUSES:
                return command
            if self.policy.clock.time() + poll_s > deadline:
                raise TimeoutError(f"command {command_guid} still has status {command['commandStatus']}")
            self.policy.clock.sleep(poll_s)


class AsyncAstrocastClient(_Plans, AsyncClient):
    """`AstrocastClient`, for asyncio."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = VENDOR_BASE_URL,
        http: httpx.AsyncClient | None = None,
        clock: Clock = SYSTEM_CLOCK,
        timeout_s: float = 120.0,
    ) -> None:
        self.policy = AstrocastPolicy(base_url, api_key, clock)
        self._driver = AsyncDriver(self.policy, http, timeout_s)

    def message_windows(
        self,
        since: datetime,
        until: datetime | None = None,
        *,
        device_guid: str | None = None,
        window: timedelta = WINDOW,
    ) -> AsyncIterator[Window]:
        return self._driver.stream(self._windows(since, until, device_guid, window))

    async def messages(
        self,
        since: datetime,
        until: datetime | None = None,
        *,
        device_guid: str | None = None,
        window: timedelta = WINDOW,
    ) -> AsyncIterator[Message]:
        async for each in self.message_windows(since, until, device_guid=device_guid, window=window):
            for message in each["messages"]:
                yield message

    async def download_messages_csv(
        self,
        into: Path,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        device_guid: str | None = None,
    ) -> Path:
        return await self._driver.run(
            self._download("/messages", _message_params(since, until, device_guid), into)
        )

    async def devices(self) -> list[Device]:
        return await self._driver.run(self._list("/devices"))

    async def device(self, device_guid: str) -> Device:
        return await self._driver.run(self._device(device_guid))

    async def send_command(
        self, device_guid: str, data: bytes, *, reference: str | None = None, expires: datetime | None = None
    ) -> Command:
        return await self._driver.run(self._send(device_guid, data, reference, expires))

    async def commands(self, device_guid: str | None = None, status: int | None = None) -> list[Command]:
        return await self._driver.run(self._commands(device_guid, status))

    async def command(self, command_guid: str) -> Command:
        return await self._driver.run(self._command("GET", command_guid))

    async def cancel_command(self, command_guid: str) -> Command:
        return await self._driver.run(self._command("DELETE", command_guid))

    async def wait_for_command(self, command_guid: str, timeout_s: float, poll_s: float = POLL_S) -> Command:
        deadline = self.policy.clock.time() + timeout_s
        while True:
            command = await self.command(command_guid)
            if command["commandStatus"] in FINAL_STATUSES:
                return command
            if self.policy.clock.time() + poll_s > deadline:
                raise TimeoutError(f"command {command_guid} still has status {command['commandStatus']}")
            await self.policy.clock.asleep(poll_s)
