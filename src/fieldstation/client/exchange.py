"""The clients' machinery, written once for both the sync and the async clients (sans I/O).

A client call is a *plan*: a generator that yields the `Call`s it needs and receives their responses, and
returns its result (or yields `Emit`s, for an iterator of pages). A vendor's `Policy` turns one `Call` into
the steps of one exchange: wait (pacing, `Retry-After`), send (with the vendor's credentials, fetching a
token first when needed). A driver runs plans and exchanges on `httpx.Client` and the clock's `sleep`, or on
`httpx.AsyncClient` and `asleep`. The vendors' rules so live in one place, whichever way they are driven."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Generic, Self, TypeVar

import httpx
import orjson

from fieldstation.client.clock import Clock
from fieldstation.client.errors import ApiError, GaveUp, UnexpectedAnswer

T = TypeVar("T")
ItemT = TypeVar("ItemT")

USER_AGENT = "fieldstation-client/0.1"
RETRIES = 5
"""Waits for `Retry-After` before a call gives up: a polite client never needs the first."""
PACING_MARGIN_S = 0.25
"""Added to a limit's interval: the server counts from when it received the previous call, a little after
the client sent it."""
DEFAULT_RETRY_S = 1.0
"""A 429 or 503 without `Retry-After` (not the vendors' way) is retried after this."""
MAX_RETRY_AFTER_S = 3_600.0
"""The longest wait a server can ask for: the vendors ask for at most 15 minutes; a larger figure is a
server's mistake, not a reason to stall for days."""


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    group: str | None = None
    """The vendor's rate-limit group of this endpoint, paced up front."""
    accept: str = "application/json"
    into: Path | None = None
    """Stream a successful answer's body into this file (written whole or not at all)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Headers of this call beside the vendor's credentials."""


@dataclass(frozen=True)
class Emit(Generic[ItemT]):
    """An item for the caller of an iterating plan."""

    item: ItemT


Wait = float
Step = httpx.Request | Wait
Exchange = Generator[Step, httpx.Response | None, httpx.Response]
Plan = Generator[Call, httpx.Response, T]
Stream = Generator[Call | Emit[ItemT], httpx.Response | None, None]


def json_of(response: httpx.Response) -> Any:
    """The body of a successful answer; an `ApiError` for any other."""
    if response.status_code >= 400:
        raise ApiError.of(response)
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise UnexpectedAnswer.of(response) from None


def objects_of(response: httpx.Response) -> list[Any]:
    """A successful answer that is a list of objects, as every listing of the three APIs is."""
    value = json_of(response)
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise UnexpectedAnswer.of(response, "a list of objects")
    return value


def object_of(response: httpx.Response) -> dict[str, Any]:
    value = json_of(response)
    if not isinstance(value, dict):
        raise UnexpectedAnswer.of(response, "an object")
    return value


def retry_after_s(response: httpx.Response) -> float:
    """The wait a busy answer asks for (`Retry-After`, or Astrocast's `retryAfter` in the body), at most
    `MAX_RETRY_AFTER_S`."""
    value = response.headers.get("retry-after", "")
    if value.isascii() and value.isdigit() and len(value) <= 9:
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        body = orjson.loads(response.content)
        seconds = body.get("retryAfter") if isinstance(body, dict) else None
    except orjson.JSONDecodeError:
        seconds = None
    if isinstance(seconds, int | float) and not isinstance(seconds, bool) and 0 <= seconds < float("inf"):
        return min(float(seconds), MAX_RETRY_AFTER_S)
    return DEFAULT_RETRY_S


class Pacer:
    """The vendor's published "one request every N seconds" per group, kept by the client: a polite client
    waits before a call rather than being refused after it."""

    def __init__(self, intervals: Mapping[str, float], clock: Clock) -> None:
        self._intervals = dict(intervals)
        self._clock = clock
        self._next: dict[str, float] = {}

    def wait_s(self, group: str | None) -> float:
        if group is None:
            return 0.0
        return max(0.0, self._next.get(group, 0.0) - self._clock.time())

    def spent(self, group: str | None) -> None:
        if group is not None and self._intervals.get(group, 0) > 0:
            self._next[group] = self._clock.time() + self._intervals[group] + PACING_MARGIN_S

    def state(self) -> dict[str, float]:
        """When each group may be called next (epoch seconds): kept by a program that stops and starts
        again, so that its next run keeps the limits too (`fieldstation import` does)."""
        now = self._clock.time()
        return {group: at for group, at in self._next.items() if at > now}

    def restore(self, state: dict[str, float]) -> None:
        for group, at in state.items():
            self._next[group] = max(self._next.get(group, 0.0), float(at))

    def refused(self, group: str | None, retry_after: float) -> None:
        if group is not None:
            self._next[group] = max(self._next.get(group, 0.0), self._clock.time() + retry_after)


class Policy:
    """How one vendor's API is called: its base URL, its credentials, its limits and its answers to wait on
    (`busy_statuses`). Subclasses add their credentials in `headers` (which may exchange for a token)."""

    busy_statuses: frozenset[int] = frozenset({429})

    def __init__(self, base_url: str, clock: Clock, intervals: Mapping[str, float], polite: bool) -> None:
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.pacer = Pacer(intervals if polite else {}, clock)
        self.on_wait: Callable[[Call, float, str], None] | None = None
        """Told of every wait before it starts (the call, seconds, why): a program can say why it pauses."""

    def headers(self, call: Call) -> Generator[Step, httpx.Response | None, dict[str, str]]:
        """The call's credentials; may exchange a token first."""
        return {}
        yield  # a generator, for the subclasses that exchange

    def unauthorized(self, call: Call) -> bool:
        """A 401: forget what may have gone stale and say whether the call is worth one more try."""
        return False

    def _waiting(self, call: Call, seconds: float, why: str) -> None:
        if self.on_wait is not None:
            self.on_wait(call, seconds, why)

    def request(self, call: Call, headers: Mapping[str, str]) -> httpx.Request:
        return httpx.Request(
            call.method,
            self.base_url + call.path,
            params=dict(call.params) or None,
            content=None if call.json is None else orjson.dumps(call.json),
            headers={
                "Accept": call.accept,
                "User-Agent": USER_AGENT,
                **({} if call.json is None else {"Content-Type": "application/json"}),
                **call.headers,
                **headers,
            },
        )

    def exchange(self, call: Call) -> Exchange:
        """One call: pace, authenticate, send; wait and retry on a busy answer; refresh once on 401."""
        retried_unauthorized = False
        busy = 0
        while True:
            headers = yield from self.headers(call)
            wait = self.pacer.wait_s(call.group)
            if wait > 0:
                self._waiting(call, wait, "the API's rate limit")
                yield wait
            self.pacer.spent(call.group)
            response = yield self.request(call, headers)
            assert response is not None
            if response.status_code in self.busy_statuses:
                if busy == RETRIES:
                    raise GaveUp(f"{call.method} {call.path}: still refused after {RETRIES} waits") from (
                        ApiError.of(response)
                    )
                busy += 1
                seconds = retry_after_s(response)
                self.pacer.refused(call.group, seconds + PACING_MARGIN_S)
                self._waiting(call, seconds + PACING_MARGIN_S, f"the API answered {response.status_code}")
                yield seconds + PACING_MARGIN_S
                continue
            if response.status_code == 401 and not retried_unauthorized and self.unauthorized(call):
                retried_unauthorized = True
                continue
            return response


class SyncDriver:
    def __init__(self, policy: Policy, http: httpx.Client | None, timeout_s: float) -> None:
        self.policy = policy
        self._own = http is None
        self.http = http if http is not None else httpx.Client(timeout=timeout_s)

    def exchange(self, call: Call) -> httpx.Response:
        return self.drive(self.policy.exchange(call), call.into)

    def drive(self, steps: Generator[Step, httpx.Response | None, T], into: Path | None = None) -> T:
        """Run a policy's steps: send its requests, sleep its waits."""
        result: httpx.Response | None = None
        try:
            while True:
                step = steps.send(result)
                if isinstance(step, httpx.Request):
                    result = self.http.send(step) if into is None else self._download(step, into)
                else:
                    self.policy.clock.sleep(step)
                    result = None
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def _download(self, request: httpx.Request, into: Path) -> httpx.Response:
        response = self.http.send(request, stream=True)
        try:
            if response.status_code >= 300:
                response.read()
                return response
            with partial_file(into) as target:
                for chunk in response.iter_bytes():
                    target.write(chunk)
            return response
        finally:
            response.close()

    def run(self, plan: Plan[T]) -> T:
        try:
            call = next(plan)
            while True:
                call = plan.send(self.exchange(call))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def stream(self, plan: Stream[ItemT]) -> Iterator[ItemT]:
        sent: httpx.Response | None = None
        while True:
            try:
                step = plan.send(sent)
            except StopIteration:
                return
            if isinstance(step, Emit):
                sent = None
                yield step.item
            else:
                sent = self.exchange(step)

    def close(self) -> None:
        if self._own:
            self.http.close()


class AsyncDriver:
    def __init__(self, policy: Policy, http: httpx.AsyncClient | None, timeout_s: float) -> None:
        self.policy = policy
        self._own = http is None
        self.http = http if http is not None else httpx.AsyncClient(timeout=timeout_s)

    async def exchange(self, call: Call) -> httpx.Response:
        return await self.drive(self.policy.exchange(call), call.into)

    async def drive(self, steps: Generator[Step, httpx.Response | None, T], into: Path | None = None) -> T:
        result: httpx.Response | None = None
        try:
            while True:
                step = steps.send(result)
                if isinstance(step, httpx.Request):
                    if into is None:
                        result = await self.http.send(step)
                    else:
                        result = await self._download(step, into)
                else:
                    await self.policy.clock.asleep(step)
                    result = None
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def _download(self, request: httpx.Request, into: Path) -> httpx.Response:
        response = await self.http.send(request, stream=True)
        try:
            if response.status_code >= 300:
                await response.aread()
                return response
            with partial_file(into) as target:
                async for chunk in response.aiter_bytes():
                    target.write(chunk)
            return response
        finally:
            await response.aclose()

    async def run(self, plan: Plan[T]) -> T:
        try:
            call = next(plan)
            while True:
                call = plan.send(await self.exchange(call))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def stream(self, plan: Stream[ItemT]) -> AsyncIterator[ItemT]:
        sent: httpx.Response | None = None
        while True:
            try:
                step = plan.send(sent)
            except StopIteration:
                return
            if isinstance(step, Emit):
                sent = None
                yield step.item
            else:
                sent = await self.exchange(step)

    async def aclose(self) -> None:
        if self._own:
            await self.http.aclose()


class RepeatedPage(GaveUp):
    """A page the same as the one before it: the server does not page (it ignores `offset` or `page`), and
    reading on would never end."""

    def __init__(self, path: str, position: int) -> None:
        super().__init__(
            f"{path}: the page at {position} repeats the one before it; the server does not page"
        )


@contextlib.contextmanager
def partial_file(path: Path) -> Iterator[BinaryIO]:
    """A file written under a temporary name and renamed once complete."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("wb") as target:
            yield target
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)


def offset_pages(call: Call, page_size: int) -> Stream[list[Any]]:
    """Pages of a list endpoint paged by `offset`, to the first short page."""
    offset = int(call.params.get("offset", "0"))
    previous_ends: tuple[Any, Any] | None = None
    while True:
        params = {**call.params, "offset": str(offset)} if offset else dict(call.params)
        response = yield dataclasses.replace(call, params=params)
        assert response is not None
        page = objects_of(response)
        count = len(page)
        del response  # a page is large (an AWT archive page, 20 MB): let it go before the next is read
        ends = (page[0], page[-1]) if page else None
        if ends is not None and ends == previous_ends:
            raise RepeatedPage(call.path, offset)
        previous_ends = ends
        if page:
            yield Emit(page)
        del page
        if count < page_size:
            return
        offset += count


class SyncClient:
    """What every sync client shares: its driver, closing, `with`."""

    _driver: SyncDriver

    def close(self) -> None:
        self._driver.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient:
    """What every async client shares: its driver, closing, `async with`."""

    _driver: AsyncDriver

    async def aclose(self) -> None:
        await self._driver.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
