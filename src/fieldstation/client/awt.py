"""Africa Wildlife Tracking API v2, as its seed document describes it: an API key and a bearer token on
every data call, the token fetched with the key and the account's password and refreshed before its hour is
up, the published rate limits kept before each call, and a 429 waited out (`Retry-After`) and retried.

    with AwtClient(api_key, username, password, base_url="http://hub:8000/awt/v2") as awt:
        for tag in awt.devices():
            print(tag["tag_id"], tag["asset"])
        for page in awt.archive_pages(start=1_700_000_000):
            ...
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any, Literal, TypedDict

import httpx

from fieldstation.client.clock import SYSTEM_CLOCK, Clock
from fieldstation.client.errors import ApiError, UnexpectedAnswer
from fieldstation.client.exchange import (
    AsyncClient,
    AsyncDriver,
    Call,
    Plan,
    Policy,
    Step,
    Stream,
    SyncClient,
    SyncDriver,
    object_of,
    objects_of,
    offset_pages,
)

VENDOR_BASE_URL = "https://api-next.africawildlifetracking.com/v2"
TOKEN, DEVICES, LATEST, DATA, ARCHIVE = "token", "devices", "latest", "data", "archive"
RATE_LIMITS_S = {TOKEN: 60.0, DEVICES: 60.0, LATEST: 10.0, DATA: 30.0, ARCHIVE: 30.0}
"""The seed's fair-usage table: seconds between two calls of one API key, by shared counter."""
RECENT_PAGE = 1_000
ARCHIVE_PAGE = 50_000
REFRESH_BEFORE_S = 300.0
"""A token is replaced when less than this is left of its life: a call never carries one about to expire."""
DEFAULT_TOKEN_LIFE_S = 3_600.0
MIN_TOKEN_LIFE_S = 60.0
MAX_TOKEN_LIFE_S = 86_400.0


class Tag(TypedDict):
    tag_id: str
    imei: str
    device_type: str
    asset: str
    software_version: int
    created_at: int


class Accelerometer(TypedDict):
    x: int
    y: int
    z: int


class Reading(TypedDict, total=False):
    """The seed's Reading object; `error` only on a reading whose payload could not be parsed."""

    recordId: str
    tagId: int
    softwareVersion: int | None
    reportingInterval: str | None
    voltage: float | None
    batteryPercentage: float | None
    timestamp: int | None
    latitude: float | None
    longitude: float | None
    accelerometer: Accelerometer | None
    hdop: str | None
    hdopRaw: int | None
    movement: bool | None
    alarm: bool | None
    coverage: bool | None
    retries: int | None
    speed: float | None
    temperature: float | None
    altitude: float | None
    lux: float | None
    error: str


def token_life_s(expires_in: Any) -> float:
    """`expires_in` as the seed gives it ("1h"), or in seconds; between a minute and a day, whatever a
    server says (a day-long figure of digits is not a reason to keep a token forever)."""
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
        life = float(expires_in)
    else:
        match = re.fullmatch(r"\s*([0-9]{1,9})\s*([hms]?)\s*", str(expires_in)[:40])
        if match is None:
            return DEFAULT_TOKEN_LIFE_S
        life = float(match[1]) * {"h": 3600, "m": 60, "s": 1, "": 1}[match[2]]
    return min(max(life, MIN_TOKEN_LIFE_S), MAX_TOKEN_LIFE_S) if life == life else DEFAULT_TOKEN_LIFE_S


class AwtPolicy(Policy):
    def __init__(
        self, base_url: str, api_key: str, username: str, password: str, clock: Clock, polite: bool
    ) -> None:
        super().__init__(base_url, clock, RATE_LIMITS_S, polite)
        self._api_key = api_key
        self._basic = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.token: str | None = None
        self.token_expires = 0.0
        self._refresh_before_s = REFRESH_BEFORE_S

    def headers(self, call: Call) -> Generator[Step, httpx.Response | None, dict[str, str]]:
        if call.group == TOKEN:
            return {"X-API-KEY": self._api_key, "Authorization": self._basic}
        if self.token is None or self.clock.time() >= self.token_expires - self._refresh_before_s:
            response = yield from self.exchange(Call("POST", "/token", group=TOKEN))
            issued = object_of(response)
            if not isinstance(issued.get("token"), str):
                raise UnexpectedAnswer.of(response, "a token")
            self.token = str(issued["token"])
            life = token_life_s(issued.get("expires_in"))
            self.token_expires = self.clock.time() + life
            # A short-lived token is replaced at half its life, not five minutes before a life of three.
            self._refresh_before_s = min(REFRESH_BEFORE_S, life / 2)
        return {"X-API-KEY": self._api_key, "Authorization": f"Bearer {self.token}"}

    def unauthorized(self, call: Call) -> bool:
        if call.group == TOKEN:
            return False  # the key or the password is wrong: no token will help
        self.token = None
        return True


def _window(start: int | None, end: int | None, offset: int = 0) -> dict[str, str]:
    params = {"start": start, "end": end, "offset": offset or None}
    return {name: str(value) for name, value in params.items() if value is not None}


def _data_path(kind: Literal["data", "archive"], tag_id: int | str | None) -> str:
    path = "/data" if kind == "data" else "/data/archive"
    return path if tag_id is None else f"{path}/{tag_id}"


class _Plans:
    """Every call as a plan, for either driver."""

    def _devices(self) -> Plan[list[Tag]]:
        response = yield Call("GET", "/devices", group=DEVICES)
        tags: list[Tag] = objects_of(response)
        return tags

    def _latest(self) -> Plan[list[Reading]]:
        response = yield Call("GET", "/data/latest", group=LATEST)
        readings: list[Reading] = objects_of(response)
        return readings

    def _page(
        self,
        kind: Literal["data", "archive"],
        tag_id: int | str | None,
        start: int | None,
        end: int | None,
        offset: int,
    ) -> Plan[list[Reading]]:
        group = DATA if kind == "data" else ARCHIVE
        response = yield Call("GET", _data_path(kind, tag_id), _window(start, end, offset), group=group)
        readings: list[Reading] = objects_of(response)
        return readings

    def _pages(
        self,
        kind: Literal["data", "archive"],
        tag_id: int | str | None,
        start: int | None,
        end: int | None,
        offset: int,
    ) -> Stream[list[Reading]]:
        group, size = (DATA, RECENT_PAGE) if kind == "data" else (ARCHIVE, ARCHIVE_PAGE)
        call = Call("GET", _data_path(kind, tag_id), _window(start, end, offset), group=group)
        return offset_pages(call, size)


class AwtClient(_Plans, SyncClient):
    """The AWT API v2, synchronously. Every call keeps the seed's rate limits (`polite=False` to leave that
    to the server's 429s); pages of `/data` (1,000) and `/data/archive` (50,000) are read to the end by the
    `*_pages` iterators. Raises `ApiError` with the status and the `{"error": ...}` body."""

    def __init__(
        self,
        api_key: str,
        username: str,
        password: str,
        *,
        base_url: str = VENDOR_BASE_URL,
        http: httpx.Client | None = None,
        clock: Clock = SYSTEM_CLOCK,
        polite: bool = True,
        timeout_s: float = 120.0,
    ) -> None:
        self.policy = AwtPolicy(base_url, api_key, username, password, clock, polite)
        self._driver = SyncDriver(self.policy, http, timeout_s)

    def devices(self) -> list[Tag]:
        return self._driver.run(self._devices())

    def latest(self) -> list[Reading]:
        """What arrived since the previous call with this key (at most the last 24 hours)."""
        return self._driver.run(self._latest())

    def data(
        self,
        tag_id: int | str | None = None,
        *,
        start: int | None = None,
        end: int | None = None,
        offset: int = 0,
    ) -> list[Reading]:
        """One page of readings received in the last 90 days (by arrival)."""
        return self._driver.run(self._page("data", tag_id, start, end, offset))

    def archive(
        self,
        tag_id: int | str | None = None,
        *,
        start: int | None = None,
        end: int | None = None,
        offset: int = 0,
    ) -> list[Reading]:
        """One page of readings by their own timestamp."""
        return self._driver.run(self._page("archive", tag_id, start, end, offset))

    def data_pages(
        self,
        tag_id: int | str | None = None,
        *,
        start: int | None = None,
        end: int | None = None,
        offset: int = 0,
    ) -> Iterator[list[Reading]]:
        return self._driver.stream(self._pages("data", tag_id, start, end, offset))

    def archive_pages(
        self,
        tag_id: int | str | None = None,
        *,
        start: int | None = None,
        end: int | None = None,
        offset: int = 0,
    ) -> Iterator[list[Reading]]:
        return self._driver.stream(self._pages("archive", tag_id, start, end, offset))


class AsyncAwtClient(_Plans, AsyncClient):
    """`AwtClient`, for asyncio."""

    def __init__(
        self,
        api_key: str,
        username: str,
        password: str,
        *,
        base_url: str = VENDOR_BASE_URL,
        http: httpx.AsyncClient | None = None,
        clock: Clock = SYSTEM_CLOCK,
        polite: bool = True,
        timeout_s: float = 120.0,
    ) -> None:
        self.policy = AwtPolicy(base_url, api_key, username, password, clock, polite)
        self._driver = AsyncDriver(self.policy, http, timeout_s)

    async def devices(self) -> list[Tag]:
        return await self._driver.run(self._devices())

    async def latest(self) -> list[Reading]:
        return await self._driver.run(self._latest())

    async def data(
        self,
        tag_id: int | str | None = None,
        *,
        start: int | None = None,
        end: int | None = None,
        offset: int = 0,
    ) -> list[Reading]:
        return await self._driver.run(self._page("data", tag_id, start, end, offset))

    async def archive(
        self,
        tag_id: int | str | None = None,
        *,
        start: int | None = None,
        end: int | None = None,
        offset: int = 0,
    ) -> list[Reading]:
        return await self._driver.run(self._page("archive", tag_id, start, end, offset))

    def data_pages(
        self,
        tag_id: int | str | None = None,
        *,
        start: int | None = None,
        end: int | None = None,
        offset: int = 0,
    ) -> AsyncIterator[list[Reading]]:
        return self._driver.stream(self._pages("data", tag_id, start, end, offset))

    def archive_pages(
        self,
        tag_id: int | str | None = None,
        *,
        start: int | None = None,
        end: int | None = None,
        offset: int = 0,
    ) -> AsyncIterator[list[Reading]]:
        return self._driver.stream(self._pages("archive", tag_id, start, end, offset))


__all__ = ["ApiError", "AsyncAwtClient", "AwtClient", "Reading", "Tag"]
