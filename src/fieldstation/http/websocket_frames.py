"""WebSocket text messages framed once and written straight to every subscriber's connection.

Sent through ASGI, each message to each subscriber went through Starlette's WebSocket, uvicorn's ASGI
bridge and the websockets library's framing: about 13 µs, so a hundred dashboards held the hub to about 750
events a second (docs/performance.md). A server's frames are not masked, and without per-message deflate
the frame of a message is the same bytes for every connection: it is built once, and a subscriber's share
of a batch of events is one write to its transport.

This reaches under ASGI, to uvicorn's sans-I/O websockets protocol: the outermost layer (`http.guard`)
keeps the server's own `send` in the scope (`SERVER_SEND`), and `DirectFrames.of` accepts it only if it is
that protocol's bound method and no extension was negotiated. Anything else (another server, another
uvicorn implementation, deflate, the test client) gets `None`, and the caller sends through ASGI as before."""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from starlette.websockets import WebSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

SERVER_SEND = "fieldstation.server_send"
"""The scope key under which the outermost ASGI layer keeps the server's `send` of a WebSocket."""
MAX_UNSENT = "fieldstation.ws_max_unsent_bytes"
"""The scope key of the bytes a subscriber's connection may have waiting to be sent (the setting
`ws_max_unsent_bytes`, kept there by the same layer); past this it is too slow."""
CLOSE_GRACE_S = 5.0
"""How long a subscriber closed for being too slow has to take what was sent before the close frame."""
_FIN_TEXT = 0x81


def text_frame(text: str) -> bytes:
    """One unmasked, final text frame (RFC 6455, 5.2), as a server sends it."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        return bytes((_FIN_TEXT, size)) + payload
    if size < 65_536:
        return struct.pack("!BBH", _FIN_TEXT, 126, size) + payload
    return struct.pack("!BBQ", _FIN_TEXT, 127, size) + payload


class DirectFrames:
    def __init__(self, protocol: WebSocketsSansIOProtocol, max_unsent: int) -> None:
        self._protocol = protocol
        self._max_unsent = max_unsent

    @classmethod
    def of(cls, websocket: WebSocket) -> DirectFrames | None:
        send: Any = websocket.scope.get(SERVER_SEND)
        protocol = getattr(send, "__self__", None)
        if not isinstance(protocol, WebSocketsSansIOProtocol) or protocol.conn.extensions:
            return None
        return cls(protocol, int(websocket.scope[MAX_UNSENT]))

    def write(self, frames: bytes) -> bool:
        """Queue whole frames on the connection; False once it is closing (nothing is written then)."""
        protocol = self._protocol
        transport = protocol.transport
        if protocol.close_sent or transport is None or transport.is_closing():
            return False
        transport.write(frames)
        return True

    def cut_off_later(self) -> None:
        """Abort the connection if it is still open in `CLOSE_GRACE_S`. A close waits until the connection
        takes writes again, and closes it once everything before it is sent: a peer that stopped reading but
        keeps its TCP connection (a frozen tab, a hostile client) would hold the connection, its unsent
        events and the session for ever."""
        transport = self._protocol.transport
        if transport is not None:
            asyncio.get_running_loop().call_later(CLOSE_GRACE_S, transport.abort)

    def too_slow(self) -> bool:
        """Whether the subscriber has let more than its limit (`MAX_UNSENT`) pile up unsent."""
        transport = self._protocol.transport
        return transport is not None and transport.get_write_buffer_size() > self._max_unsent
