"""Connection limits that uvicorn does not set: a client must finish a request's headers within
`HEADER_TIMEOUT_S` of starting it (or of connecting), its body within `BODY_TIMEOUT_S` of its headers,
and take some of what the hub sends it (a response, WebSocket events) within `SEND_TIMEOUT_S` while any of
it waits, or the connection is cut.

uvicorn arms its keep-alive timer only after a response and disarms it at the first byte of the next
request; a connection that sends half a request line, or nothing at all, or a body one byte a minute, is
otherwise kept for ever, and a few thousand such connections take every file descriptor of the hub
(slowloris). Idle keep-alive connections are closed after `KEEP_ALIVE_S`."""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT_S = 10.0
"""Time from the connection (or the request's first byte) to the end of its headers."""
BODY_TIMEOUT_S = 30.0
"""Time from the end of a request's headers to the end of its body (64 KiB at most: a slow radio link's
worth)."""
SEND_TIMEOUT_S = 60.0
"""Time a connection with bytes waiting to be sent may take none of them. uvicorn closes a connection only
once what it was sent has left, and nothing times that: a client that stops reading (a frozen tab, a hostile
one) held its connection, its unsent bytes and the request or WebSocket session behind them for ever."""
KEEP_ALIVE_S = 5
"""An idle keep-alive connection is closed after this (uvicorn's `timeout_keep_alive`)."""
MAX_HEADER_BYTES = 16 * 1024
"""Request line plus headers; more is answered 400 (also h11's `max_incomplete_event_size`)."""
WS_MAX_MESSAGE_BYTES = 64 * 1024
"""The WebSocket API only sends; a client's message larger than this closes its connection."""


IDLE, HEADERS, BODY = 0, 1, 2
"""What a connection is waiting for from its client: nothing (a request is being answered, or the
connection is kept alive, which uvicorn times), the end of a request's headers, the end of its body."""


class DeadlineHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with deadlines on the request line and headers, then on the body.

    The callbacks only note what the connection waits for and since when (two attribute writes); one sweep
    a fraction of a second, over all connections, closes those past their deadline. A timer per request
    would cost more than the rest of a no-op request's deadline handling together."""

    header_timeout_s = HEADER_TIMEOUT_S
    body_timeout_s = BODY_TIMEOUT_S
    send_timeout_s = SEND_TIMEOUT_S

    @classmethod
    def with_timeouts(
        cls, header_s: float, body_s: float, send_s: float = SEND_TIMEOUT_S
    ) -> type[DeadlineHttpProtocol]:
        """The protocol class for uvicorn's `http` setting, with its own deadlines."""
        deadlines = {"header_timeout_s": header_s, "body_timeout_s": body_s, "send_timeout_s": send_s}
        return type(cls.__name__, (cls,), deadlines)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waiting_for = IDLE
        self.waiting_since = 0.0
        self._header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescedWrites(transport, self.loop))
        self._await(HEADERS)
        _Sweeper.watch(self.loop, self.connections, self.header_timeout_s, self.send_timeout_s)

    def data_received(self, data: bytes) -> None:
        if self.waiting_for == IDLE and (self.cycle is None or self.cycle.response_complete):
            # Bytes between requests (even blank lines, which start no request) are the next request's
            # beginning: its header deadline runs from here, or a trickle of them holds the connection.
            self._await(HEADERS)
        super().data_received(data)

    def on_url(self, url: bytes) -> None:
        self._count_header_bytes(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header_bytes(len(name) + len(value))
        super().on_header(name, value)

    def _count_header_bytes(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_HEADER_BYTES:
            # Raised inside the parser's callback: uvicorn answers 400 and closes the connection.
            raise ValueError(f"request line and headers are over {MAX_HEADER_BYTES} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.waiting_for == IDLE:  # the next request on a kept-alive connection
            self._await(HEADERS)

    def on_headers_complete(self) -> None:
        self._await(BODY)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.waiting_for = IDLE
        super().on_message_complete()

    def _await(self, what: int) -> None:
        self.waiting_for, self.waiting_since = what, self.loop.time()
        if what == HEADERS:
            self._header_bytes = 0

    def overdue(self, now: float) -> str | None:
        """What this connection has waited for too long, if anything."""
        if self.waiting_for == HEADERS and now - self.waiting_since > self.header_timeout_s:
            return f"request headers took over {self.header_timeout_s} s"
        if self.waiting_for == BODY and now - self.waiting_since > self.body_timeout_s:
            return f"request body took over {self.body_timeout_s} s"
        return None


class CoalescedWrites(asyncio.Transport):
    """A connection's transport whose writes in one turn of the event loop leave as one. uvicorn writes a
    response's head and its body separately: two system calls and two TCP segments for a 201, where one
    does (a loopback send costs more than the rest of uvicorn's answer). The bytes leave at the end of the
    turn that wrote them, in order, or at once past `FLUSH_AT_BYTES`."""

    FLUSH_AT_BYTES = 64 * 1024

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes | bytearray | memoryview] = []
        self._pending_bytes = 0
        self._handed_over = 0
        """Bytes given to the socket's transport so far; less those it still holds, what the peer took."""
        self._taken_at_last_look = 0
        self._waiting_since: float | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes > self.FLUSH_AT_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            pending = self._pending
            self._pending, self._pending_bytes = [], 0
            data = pending[0] if len(pending) == 1 else b"".join(pending)
            self._handed_over += len(data)
            self._transport.write(data)

    def stalled_for(self, now: float) -> float:
        """How long bytes have waited here with none of them taken by the peer (0 if none wait, or some
        were taken since the last look)."""
        unsent = self._transport.get_write_buffer_size()
        taken = self._handed_over - unsent
        if unsent == 0 or taken != self._taken_at_last_look:
            self._taken_at_last_look, self._waiting_since = taken, None
            return 0.0
        if self._waiting_since is None:
            self._waiting_since = now
        return now - self._waiting_since

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending, self._pending_bytes = [], 0
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._pending_bytes

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()


class _Sweeper:
    """One task per event loop that closes overdue connections."""

    _tasks: ClassVar[dict[asyncio.AbstractEventLoop, asyncio.Task[None]]] = {}

    @classmethod
    def watch(
        cls,
        loop: asyncio.AbstractEventLoop,
        connections: set[Any],
        header_timeout_s: float,
        send_timeout_s: float,
    ) -> None:
        task = cls._tasks.get(loop)
        if task is None or task.done():
            sweep = cls._sweep(loop, connections, header_timeout_s, send_timeout_s)
            cls._tasks[loop] = loop.create_task(sweep)

    @staticmethod
    async def _sweep(
        loop: asyncio.AbstractEventLoop, connections: set[Any], header_timeout_s: float, send_timeout_s: float
    ) -> None:
        # A connection upgraded to a WebSocket is another protocol object; until its opening handshake is
        # done it gets the header deadline too, counted from when a sweep first saw it.
        handshaking: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
        while True:
            await asyncio.sleep(min(1.0, header_timeout_s / 4, send_timeout_s / 4))
            now = loop.time()
            for connection in list(connections):
                try:
                    _sweep_one(connection, now, header_timeout_s, send_timeout_s, handshaking)
                except Exception:  # one connection's surprise must not end every deadline
                    logging.getLogger("fieldstation.http").exception(
                        "checking a connection's deadline failed"
                    )


def _sweep_one(
    connection: Any,
    now: float,
    header_timeout_s: float,
    send_timeout_s: float,
    handshaking: weakref.WeakKeyDictionary[Any, float],
) -> None:
    transport = getattr(connection, "transport", None)
    if transport is None:
        return
    # Before `is_closing`: a connection closed while bytes wait stays open until they leave.
    if isinstance(transport, CoalescedWrites) and transport.stalled_for(now) > send_timeout_s:
        logging.getLogger("fieldstation.http").warning(
            "cutting off %s: it has taken none of what it was sent for %s s",
            transport.get_extra_info("peername"),
            send_timeout_s,
        )
        transport.abort()
        return
    if transport.is_closing():
        return
    if isinstance(connection, DeadlineHttpProtocol):
        reason = connection.overdue(now)
        if reason is not None:
            connection.logger.info("closing a connection: its %s", reason)
            connection.waiting_for = IDLE
            transport.close()
        return
    opened = getattr(connection, "handshake_completed_event", None)
    handshake_overdue = opened is not None and not opened.is_set()
    if handshake_overdue and now - handshaking.setdefault(connection, now) > header_timeout_s:
        transport.close()


_SECRET_PARAMETER = re.compile(r"(access_token|token|Token)=[^&\s]*")


class RedactSecrets(logging.Filter):
    """Access-log lines without the secrets some clients must put in a URL (the Instathings WebSocket's
    `access_token`, ThingPark's `Token`): a log is read by more people than a secret should be."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _SECRET_PARAMETER.sub(r"\1=(hidden)", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True
