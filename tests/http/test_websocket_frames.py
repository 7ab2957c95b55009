"""Events framed once and written straight to each subscriber's connection (`http.websocket_frames`): the
frames are what the websockets library itself would send, and under `fieldstation serve` every subscriber
gets every event, as a message of its own, in order."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import time
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import pytest
import websockets
from websockets.frames import Frame, Opcode

from fieldstation.http.websocket_frames import CLOSE_GRACE_S, text_frame
from tests.backends import Backend
from tests.conftest import LiveServer, basic, start_server, ttn_uplink

EUI = "00000000000000F7"


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65_535, 65_536, 70_000])
def test_a_frame_is_what_the_websockets_library_sends(size: int) -> None:
    text = "é" * (size // 2) + "x" * (size % 2)  # multi-byte characters: the length is of the UTF-8 bytes
    assert text_frame(text) == Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])


@pytest.mark.live
def test_every_subscriber_gets_every_event_framed_once(tmp_path: Path, backend: Backend) -> None:
    server = start_server(tmp_path / "data", "--no-demo", "--log-level", "debug", env=backend.environment())
    try:
        url, headers = _subscribable_project(server)
        record_ids, received = asyncio.run(_subscribe_and_post(url, headers, server.base, uplinks=60))
    finally:
        server.process.terminate()
        server.process.wait(timeout=10)
    assert all(ids == record_ids for ids in received)  # each event a message, in the order committed
    output = server.log.read_text()
    assert output.count("events framed once and written to the connection") == 2


@pytest.mark.live
def test_a_subscriber_that_stops_reading_is_closed_and_nobody_waits_for_it(tmp_path: Path) -> None:
    """Dashboards that stop reading (a frozen tab, a link gone without a FIN) have their frames pile up on
    the hub. Past `ws_max_unsent_bytes` (here its least, 64 KiB, so that a few thousand events do it) each
    is closed with 1013, logged, while the uplinks are answered and a subscriber that reads gets every
    event. One that reads again soon finds the close frame after its events; one that never does is cut
    off (`CLOSE_GRACE_S`) rather than holding its connection and its unsent events for ever."""
    server = start_server(
        tmp_path / "data", "--no-demo", env={"FIELDSTATION_WS_MAX_UNSENT_BYTES": str(64 * 1024)}
    )
    log = server.log
    try:
        url, headers = _subscribable_project(server)
        close_code, cut_off, received, posted = asyncio.run(_stall_two_and_post(url, headers, log))
        started = time.monotonic()
        server.process.terminate()
        server.process.wait(timeout=30)
        stopped_in = time.monotonic() - started
    finally:
        server.process.kill()
    assert (close_code, cut_off, received) == (1013, True, posted)
    assert log.read_text().count("that fell behind") == 2
    assert stopped_in < 5


@pytest.mark.live
def test_a_connection_that_takes_nothing_it_is_sent_is_cut_off(tmp_path: Path) -> None:
    """The connection's own deadline (`send_timeout_s`, here 1 s), whatever speaks on it: a subscriber
    whose unsent events are still under its limit (here 64 MiB), but that has taken none of them for that
    long, is cut off."""
    server = start_server(
        tmp_path / "data",
        "--no-demo",
        env={"FIELDSTATION_SEND_TIMEOUT_S": "1", "FIELDSTATION_WS_MAX_UNSENT_BYTES": str(64 * 1024 * 1024)},
    )
    log = server.log
    try:
        url, headers = _subscribable_project(server)
        cut_off = asyncio.run(_stall_one_until_cut_off(url, headers, log))
    finally:
        server.process.kill()
    assert cut_off
    assert "that fell behind" not in log.read_text()


async def _stall_one_until_cut_off(url: str, headers: dict[str, str], log: Path) -> bool:
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 80
    stalled = await _stalled_subscriber(host, port, f"{parts.path}?{parts.query}")
    await _post_until_logged(host, port, headers, log, "it has taken none of what it was sent", times=1)
    return await _cut_off(*stalled)


def _subscribable_project(server: LiveServer) -> tuple[str, dict[str, str]]:
    """The WebSocket URL of a new project with one tracker, and the headers of its TTN webhook."""
    created = server.cli("project", "create", "frames")
    server.cli("device", "add", "--project", "frames", "--tag-id", "7", "--eui", EUI)
    instathings, awt = created["instathings"], created["awt"]
    token = httpx.post(
        f"{server.base}/instathings/authentication/v1/oauth/token",
        json={"clientId": instathings["client_id"], "clientSecret": instathings["client_secret"]},
    ).json()["access_token"]
    url = server.base.replace("http", "ws") + (
        f"/instathings/ws?project={instathings['project']}&access_token={token}"
    )
    headers = {
        "X-API-KEY": awt["api_key"],
        "Authorization": basic(awt["username"], awt["password"]),
        "Content-Type": "application/json",
    }
    return url, headers


async def _stall_two_and_post(url: str, headers: dict[str, str], log: Path) -> tuple[int, bool, int, int]:
    """Two subscribers that stop reading after their handshake and one that reads; uplinks posted until the
    hub has closed both stalled ones (its log says so). Then the first reads again: the code of the close
    frame after its events; the second still does not, past the grace: whether the hub cut it off. And how
    many data events the reading subscriber got, of how many uplinks."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 80
    first, second = [await _stalled_subscriber(host, port, f"{parts.path}?{parts.query}") for _ in range(2)]
    reader = await websockets.connect(url, max_queue=None)
    received = 0

    async def read() -> None:
        nonlocal received
        async for message in reader:
            received += b'"action":"data"' in (message if isinstance(message, bytes) else message.encode())

    async def closed(subscribers: int) -> bool:
        return (await asyncio.to_thread(log.read_text)).count("that fell behind") >= subscribers

    async def first_reads_on_its_close() -> int:
        for _ in range(3_000):  # a minute at most
            if await closed(1):
                break
            await asyncio.sleep(0.02)
        return await _close_code_after_events(*first)

    reading = asyncio.create_task(read())
    close_code = asyncio.create_task(first_reads_on_its_close())
    # The kernel holds a megabyte or more for a stalled socket before the hub's own buffer grows, some
    # 4,000 events: posted over 16 plain keep-alive connections, which a full HTTP client is too slow for.
    posted = await _post_until_logged(host, port, headers, log, "that fell behind", times=2)
    for _ in range(400):  # 20 s at most
        if received == posted:
            break
        await asyncio.sleep(0.05)
    reading.cancel()
    await reader.close()
    await asyncio.sleep(CLOSE_GRACE_S + 1)
    return await close_code, await _cut_off(*second), received, posted


async def _stalled_subscriber(
    host: str, port: int, target: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket opened by hand that reads nothing after its handshake; with a small receive buffer, so
    that the kernel holds little for it."""
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.setblocking(False)
    await asyncio.get_running_loop().sock_connect(stalled, (host, port))
    reader, writer = await asyncio.open_connection(sock=stalled, limit=1 << 20)
    transport = _transport(writer)
    transport.pause_reading()
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    transport.resume_reading()
    answer = await reader.readuntil(b"\r\n\r\n")
    transport.pause_reading()
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return reader, writer  # the writer too: once collected, it closes the connection


def _transport(writer: asyncio.StreamWriter) -> asyncio.Transport:
    return cast(asyncio.Transport, writer.transport)


async def _post_until_logged(
    host: str, port: int, headers: dict[str, str], log: Path, line: str, times: int
) -> int:
    """Post uplinks in rounds of 1,000 until the hub's log holds `line` `times` times; how many were posted."""
    for posted in range(0, 20_000, 1_000):
        if (await asyncio.to_thread(log.read_text)).count(line) >= times:
            return posted
        rounds = [_post_all(host, port, headers, range(posted + n, posted + 1_000, 16)) for n in range(16)]
        assert {status for answered in await asyncio.gather(*rounds) for status in answered} == {201}
    raise AssertionError(f"{line!r} was not logged {times} times after 20,000 uplinks")


async def _post_all(host: str, port: int, headers: dict[str, str], numbers: range) -> list[int]:
    """Post the TTN uplinks of these frame counters, one after another on one connection; the statuses."""
    reader, writer = await asyncio.open_connection(host, port)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    statuses = []
    for n in numbers:
        body = ttn_uplink(EUI, 7, n)
        request = (
            f"POST /awt/v2/ttn-webhook HTTP/1.1\r\nHost: {host}\r\n{head}Content-Length: {len(body)}\r\n\r\n"
        )
        writer.write(request.encode() + body)
        answer = await reader.readuntil(b"\r\n\r\n")
        statuses.append(int(answer.split(b" ", 2)[1]))
        length = next(
            int(line.split(b":", 1)[1])
            for line in answer.lower().split(b"\r\n")
            if line.startswith(b"content-length:")
        )
        await reader.readexactly(length)
    writer.close()
    return statuses


async def _close_code_after_events(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    """Read a stalled subscriber's frames to their end: the code of the close frame that ends them."""
    _transport(writer).resume_reading()
    while True:
        first, size = await asyncio.wait_for(reader.readexactly(2), 10)
        size &= 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", await reader.readexactly(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", await reader.readexactly(8))
        payload = await reader.readexactly(size)
        if first & 0x0F == 0x8:
            return int(struct.unpack_from("!H", payload)[0])


async def _cut_off(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Whether the connection has ended: what is left of it read at once, then its end (or a reset)."""
    _transport(writer).resume_reading()
    try:
        while await asyncio.wait_for(reader.read(1 << 20), 2):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


async def _subscribe_and_post(
    url: str, headers: dict[str, str], base: str, uplinks: int
) -> tuple[list[str], list[list[str]]]:
    subscribers = [await websockets.connect(url) for _ in range(2)]

    async def read(socket: Any) -> list[str]:
        ids: list[str] = []
        while len(ids) < uplinks:
            event = json.loads(await asyncio.wait_for(socket.recv(), 10))
            if event["action"] == "data":
                ids.append(event["payload"]["id"])
        return ids

    readers = [asyncio.create_task(read(socket)) for socket in subscribers]
    async with httpx.AsyncClient(base_url=base) as client:
        answers = await asyncio.gather(
            *[
                client.post("/awt/v2/ttn-webhook", content=ttn_uplink(EUI, 7, n), headers=headers)
                for n in range(uplinks)
            ]
        )
    assert {answer.status_code for answer in answers} == {201}
    received = await asyncio.gather(*readers)
    for subscriber in subscribers:
        await subscriber.close()
    committed = {answer.json()["recordId"] for answer in answers}
    assert set(received[0]) == committed
    return received[0], list(received)
