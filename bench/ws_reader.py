"""A minimal WebSocket reader for the benchmarks: the handshake, then frames parsed from the bytes as they
come, with nothing more per message than a look at how it begins. A hundred subscribers at 1,000 events a
second are 100,000 messages a second for one process; through a full client library the subscribers'
process, not the hub, was what the benchmark measured. Server frames only (unmasked, unfragmented); a ping
is answered, anything else ends the reading.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import Callable
from typing import cast
from urllib.parse import SplitResult, urlsplit

TEXT, CLOSE, PING = 0x1, 0x8, 0x9


async def read_messages(url: str, on_text: Callable[[bytes], None], ready: asyncio.Event) -> None:
    """Connect, set `ready` once the handshake is done, and call `on_text` with each text message's payload
    until the server closes or the task is cancelled."""
    reader, writer = await _handshake(url)
    ready.set()
    buffer = b""
    try:
        while chunk := await reader.read(1 << 16):
            buffer += chunk
            at = 0
            while len(buffer) - at >= 2:
                opcode, size = buffer[at] & 0x0F, buffer[at + 1] & 0x7F
                start = at + 2
                if size == 126:
                    if len(buffer) - at < 4:
                        break
                    (size,) = struct.unpack_from("!H", buffer, start)
                    start += 2
                elif size == 127:
                    if len(buffer) - at < 10:
                        break
                    (size,) = struct.unpack_from("!Q", buffer, start)
                    start += 8
                if len(buffer) < start + size:
                    break
                payload = buffer[start : start + size]
                at = start + size
                if opcode == TEXT:
                    on_text(payload)
                elif opcode == PING:  # a client's frames are masked (RFC 6455, 5.3); an all-zero mask
                    writer.write(bytes((0x8A, 0x80 | len(payload))) + b"\0\0\0\0" + payload)
                elif opcode == CLOSE:
                    return
            buffer = buffer[at:]
    finally:
        writer.close()


async def count_messages(
    url: str, beginning: bytes, counts: list[int], index: int, ready: asyncio.Event
) -> None:
    """Connect, set `ready`, and add to `counts[index]` every message that begins with `beginning`, found
    in the bytes as they come (one `bytes.count` each time the socket has data, in the protocol's callback:
    no stream, no task woken), until the server closes or the task is cancelled. For a beginning that
    cannot occur inside a message (a JSON object's opening keys: quotes inside JSON strings are escaped).
    Pings are not answered: for runs shorter than the server's ping interval."""
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    closed = loop.create_future()
    transport, _ = await loop.create_connection(
        lambda: _Counter(_request(parts), beginning, counts, index, ready, closed),
        parts.hostname or "127.0.0.1",
        parts.port or 80,
    )
    try:
        await closed
    finally:
        transport.close()


class _Counter(asyncio.Protocol):
    def __init__(
        self,
        request: bytes,
        beginning: bytes,
        counts: list[int],
        index: int,
        ready: asyncio.Event,
        closed: asyncio.Future[None],
    ) -> None:
        self._request, self._beginning, self._counts, self._index = request, beginning, counts, index
        self._ready, self._closed = ready, closed
        self._head: bytes | None = b""
        self._carry = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        cast(asyncio.WriteTransport, transport).write(self._request)  # uvloop's is not asyncio's class

    def data_received(self, data: bytes) -> None:
        if self._head is not None:  # still in the handshake's answer
            self._head += data
            if b"\r\n\r\n" not in self._head:
                return
            head, _, data = self._head.partition(b"\r\n\r\n")
            self._head = None
            if not head.startswith(b"HTTP/1.1 101"):
                refused = RuntimeError(f"the WebSocket handshake was refused: {head[:40]!r}")
                self._closed.set_exception(refused)
                return
            self._ready.set()
        data = self._carry + data
        self._counts[self._index] += data.count(self._beginning)
        self._carry = data[1 - len(self._beginning) :]  # too short to hold a whole one: never counted twice

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed.done():
            self._closed.set_result(None)


def _request(parts: SplitResult) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


async def _handshake(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(_request(parts))
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        writer.close()
        status_line = head.partition(b"\r\n")[0]
        raise RuntimeError(f"the WebSocket handshake was refused: {status_line!r}")
    return reader, writer
