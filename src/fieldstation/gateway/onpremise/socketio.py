"""socket.io for the on-premise API, for both generations of clients, as Node's server does with
`allowEIO3`: Engine.IO 4 (socket.io-client 3 and 4) and Engine.IO 3 (socket.io-client 2, and the seed's
`wscat -c 'ws://localhost:1234/socket.io/?EIO=3&transport=websocket'`), over WebSocket and over HTTP
long-polling with the upgrade to WebSocket. The server only emits events to the default namespace; what
clients emit is read and ignored. docs/decisions.md says why this is a layer of our own.

The two generations differ in four places, each a branch on `Client.eio`:
- polling payloads: EIO3 frames each packet as `<length>:<packet>` (length in UTF-16 units), EIO4
  separates packets with `\\x1e`;
- heartbeats: the EIO3 client pings (`2`) and the server answers (`3`); in EIO4 the server pings and the
  client answers;
- the default namespace: socket.io 2 is connected by the server at once (`40`); socket.io 3+ asks (`40`)
  and is answered `40{"sid": ...}`;
- the open packet: EIO4's carries `maxPayload`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Iterable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect

log = logging.getLogger("fieldstation.gateway.onpremise")

PING_INTERVAL_S = 25.0
PING_TIMEOUT_S = 20.0
MAX_PAYLOAD = 1_000_000
MAX_CLIENTS = 1_000
QUEUE_LIMIT = 1_000
"""Packets waiting for a client; one that falls further behind is closed."""
OPEN, CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP = "0", "1", "2", "3", "4", "5", "6"
CONNECT, DISCONNECT, EVENT = "0", "1", "2"


def _units(text: str) -> int:
    """A string's length as JavaScript counts it (UTF-16 code units): EIO3's payload framing."""
    return len(text.encode("utf-16-le")) // 2


def encode_payload(packets: list[str], eio: int) -> str:
    if eio == 3:
        return "".join(f"{_units(p)}:{p}" for p in packets)
    return "\x1e".join(packets)


def decode_payload(body: str, eio: int) -> list[str]:
    if eio != 3:
        return body.split("\x1e") if body else []
    packets, at = [], 0
    while at < len(body):
        colon = body.index(":", at)
        digits = body[at:colon]
        if not (digits.isascii() and digits.isdigit()) or colon + 1 + int(digits) > len(body):
            raise ValueError("a packet's length does not match the payload")
        length = int(digits)
        # `length` counts UTF-16 units; ASCII packets (all a client sends us) are one unit a character.
        packets.append(body[colon + 1 : colon + 1 + length])
        at = colon + 1 + length
    return packets


class Client:
    def __init__(self, sid: str, eio: int) -> None:
        self.sid = sid
        self.eio = eio
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.websocket: WebSocket | None = None
        self.connected = False
        """Connected to the default namespace: events go to it."""
        self.last_heard = time.monotonic()
        self.closed = asyncio.Event()

    def send(self, packet: str) -> None:
        if self.queue.qsize() >= QUEUE_LIMIT:
            log.warning("a socket.io client fell %d packets behind; closing it", QUEUE_LIMIT)
            self.closed.set()
            return
        self.queue.put_nowait(packet)

    def drain(self) -> list[str]:
        packets = []
        while not self.queue.empty():
            packets.append(self.queue.get_nowait())
        return packets


class SocketIoServer:
    def __init__(self) -> None:
        self.clients: dict[str, Client] = {}

    def emit(self, event: str, data: Any) -> None:
        """An event to every connected client."""
        packet = MESSAGE + EVENT + orjson.dumps([event, data]).decode()
        for client in list(self.clients.values()):
            if client.connected:
                client.send(packet)

    # HTTP long-polling ------------------------------------------------------------------------------

    async def polling(self, request: Request) -> Response:
        eio = _eio(request.query_params.get("EIO"))
        if eio is None:
            return _error(
                0, "Transport unknown" if request.query_params.get("EIO") else "Unsupported protocol version"
            )
        if request.query_params.get("transport") != "polling":
            return _error(0, "Transport unknown")
        sid = request.query_params.get("sid")
        if sid is None:
            if request.method != "GET":
                return _error(1, "Session ID unknown")
            opened = self._open(eio)
            packets = [self._open_packet(opened)]
            if eio == 3:  # socket.io 2 is connected to the default namespace by the server
                opened.connected = True
                packets.append(MESSAGE + CONNECT)
            return _payload(packets, eio)
        client = self.clients.get(sid)
        if client is None or client.eio != eio:
            return _error(1, "Session ID unknown")
        if request.method == "POST":
            declared = request.headers.get("content-length", "")
            if not (declared.isascii() and declared.isdigit()) or int(declared) > MAX_PAYLOAD:
                return _error(3, "Bad request")  # refused from its declared length, before reading it
            try:
                packets = decode_payload((await request.body()).decode(), eio)
            except (ValueError, UnicodeDecodeError):
                return _error(3, "Bad request")
            for packet in packets:
                self._received(client, packet)
            return PlainTextResponse("ok")
        return _payload(await self._wait_for_packets(client), eio)

    async def _wait_for_packets(self, client: Client) -> list[str]:
        if client.queue.empty() and not client.closed.is_set():
            getter = asyncio.ensure_future(client.queue.get())
            closing = asyncio.ensure_future(client.closed.wait())
            done, _ = await asyncio.wait(
                {getter, closing}, timeout=PING_INTERVAL_S, return_when=asyncio.FIRST_COMPLETED
            )
            closing.cancel()
            if getter in done:
                return [getter.result(), *client.drain()]
            getter.cancel()
            if client.closed.is_set():
                return [CLOSE]
            return [NOOP] if client.eio == 3 else [PING]
        if client.closed.is_set():
            return [CLOSE]
        return client.drain()

    # WebSocket --------------------------------------------------------------------------------------

    async def websocket(self, websocket: WebSocket) -> None:
        eio = _eio(websocket.query_params.get("EIO"))
        if eio is None or websocket.query_params.get("transport") != "websocket":
            await websocket.close(code=1008)
            return
        await websocket.accept()
        sid = websocket.query_params.get("sid")
        if sid is not None:
            upgrading = self.clients.get(sid)
            if upgrading is None or upgrading.eio != eio or not await self._upgrade(upgrading, websocket):
                await websocket.close()
                return
            client = upgrading
        else:
            client = self._open(eio)
            await websocket.send_text(self._open_packet(client))
            if eio == 3:
                client.connected = True
                await websocket.send_text(MESSAGE + CONNECT)
        client.websocket = websocket
        writer = asyncio.create_task(self._write(client, websocket))
        try:
            while True:
                message = await websocket.receive_text()
                if len(message) > MAX_PAYLOAD:
                    break
                self._received(client, message)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            writer.cancel()
            self._close(client)

    async def _upgrade(self, client: Client, websocket: WebSocket) -> bool:
        """The probe (`2probe` answered `3probe`), then `5`: the polling transport is released with a noop."""
        try:
            if await asyncio.wait_for(websocket.receive_text(), 10) != PING + "probe":
                return False
            await websocket.send_text(PONG + "probe")
            client.send(NOOP)  # answers the pending poll, so that the client may upgrade
            return await asyncio.wait_for(websocket.receive_text(), 10) == UPGRADE
        except (TimeoutError, WebSocketDisconnect):
            return False

    async def _write(self, client: Client, websocket: WebSocket) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while not client.closed.is_set():
                packet = await client.queue.get()
                if packet == NOOP:
                    continue  # for a poll, not for the socket
                await websocket.send_text(packet)
        with contextlib.suppress(Exception):
            await websocket.close()

    # both transports --------------------------------------------------------------------------------

    def _open(self, eio: int) -> Client:
        if len(self.clients) >= MAX_CLIENTS:
            oldest = next(iter(self.clients.values()))
            self._close(oldest)
        client = Client(secrets.token_urlsafe(15), eio)
        self.clients[client.sid] = client
        return client

    def _open_packet(self, client: Client) -> str:
        handshake: dict[str, Any] = {
            "sid": client.sid,
            "upgrades": ["websocket"] if client.websocket is None else [],
            "pingInterval": int(PING_INTERVAL_S * 1000),
            "pingTimeout": int(PING_TIMEOUT_S * 1000),
        }
        if client.eio == 4:
            handshake["maxPayload"] = MAX_PAYLOAD
        return OPEN + orjson.dumps(handshake).decode()

    def _received(self, client: Client, packet: str) -> None:
        client.last_heard = time.monotonic()
        if packet == PING and client.eio == 3:
            client.send(PONG)
        elif packet.startswith(PING + "probe"):
            client.send(PONG + "probe")
        elif packet == CLOSE:
            self._close(client)
        elif packet.startswith(MESSAGE + CONNECT) and client.eio == 4:
            namespace = packet[2:].split(",", 1)[0] if packet[2:3] == "/" else "/"
            if namespace == "/":
                client.connected = True
                client.send(MESSAGE + CONNECT + orjson.dumps({"sid": secrets.token_urlsafe(15)}).decode())
            else:
                client.send(
                    MESSAGE + "4" + namespace + "," + orjson.dumps({"message": "Invalid namespace"}).decode()
                )
        elif packet.startswith(MESSAGE + DISCONNECT):
            client.connected = False

    def _close(self, client: Client) -> None:
        client.closed.set()
        client.connected = False
        self.clients.pop(client.sid, None)

    async def keep_alive(self) -> None:
        """EIO4: ping every client each interval; either version: close the silent ones."""
        while True:
            await asyncio.sleep(PING_INTERVAL_S)
            now = time.monotonic()
            for client in list(self.clients.values()):
                if client.eio == 4:
                    client.send(PING)
                if now - client.last_heard > PING_INTERVAL_S + PING_TIMEOUT_S + (
                    PING_INTERVAL_S if client.eio == 4 else 0
                ):
                    self._close(client)


def _eio(value: str | None) -> int | None:
    return {"3": 3, "4": 4}.get(value or "")


def _payload(packets: Iterable[str], eio: int) -> Response:
    return PlainTextResponse(encode_payload(list(packets), eio), media_type="text/plain; charset=UTF-8")


def _error(code: int, message: str) -> Response:
    """Engine.IO's own error answers."""
    return Response(
        orjson.dumps({"code": code, "message": message}), status_code=400, media_type="application/json"
    )
