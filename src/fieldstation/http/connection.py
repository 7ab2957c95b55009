"""Connection limits that uvicorn does not set: a client must finish a request's headers within
`HEADER_TIMEOUT_S` of starting it (or of connecting), or the connection is cut.

uvicorn arms its keep-alive timer only after a response and disarms it at the first byte of the next
request; a connection that sends half a request line, or nothing at all, is otherwise kept for ever, and a
few thousand such connections take every file descriptor of the hub (slowloris). Bodies have their own
deadline in `guard.RequestGuard`; idle keep-alive connections are closed after `KEEP_ALIVE_S`."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT_S = 10.0
"""Time from the connection (or the request's first byte) to the end of its headers."""
KEEP_ALIVE_S = 5
"""An idle keep-alive connection is closed after this (uvicorn's `timeout_keep_alive`)."""
MAX_HEADER_BYTES = 16 * 1024
"""Request line plus headers; more is answered 400 (also h11's `max_incomplete_event_size`)."""
WS_MAX_MESSAGE_BYTES = 64 * 1024
"""The WebSocket API only sends; a client's message larger than this closes its connection."""


class DeadlineHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline on the request line and headers."""

    header_timeout_s = HEADER_TIMEOUT_S

    @classmethod
    def with_header_timeout(cls, seconds: float) -> type[DeadlineHttpProtocol]:
        """The protocol class for uvicorn's `http` setting, with its own header deadline."""
        return type(cls.__name__, (cls,), {"header_timeout_s": seconds})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        waiting_for_headers = self._header_deadline is not None
        super().data_received(data)
        if waiting_for_headers and self._header_deadline is not None:  # still no end of headers
            self._header_bytes += len(data)
            if self._header_bytes > MAX_HEADER_BYTES and not self.transport.is_closing():
                self._disarm_header_deadline()
                self.send_400_response("Request headers are too large.")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_deadline is None:  # the next request on a kept-alive connection
            self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        super().on_headers_complete()

    def _arm_header_deadline(self) -> None:
        self._header_bytes = 0
        self._header_deadline = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.logger.info(
                "closing a connection whose request headers took over %s s", self.header_timeout_s
            )
            self.transport.close()


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
