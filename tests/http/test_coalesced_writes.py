"""`http.connection.CoalescedWrites`: what a connection writes in one turn of the event loop leaves in one
write to the socket, in order; closing sends what is pending first, aborting drops it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

from fieldstation.http.connection import CoalescedWrites


async def _connected() -> tuple[CoalescedWrites, list[bytes], asyncio.StreamReader, asyncio.StreamWriter]:
    """A real connection over a socket pair: the wrapped end (with every write it makes to its socket's
    transport recorded) and a reader of the other end."""
    ours, theirs = socket.socketpair()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
    written: list[bytes] = []
    write = transport.write

    def recording(data: bytes | bytearray | memoryview) -> None:
        written.append(bytes(data))
        write(data)

    transport.write = recording  # type: ignore[method-assign]
    reader, writer = await asyncio.open_connection(sock=theirs)  # the writer kept: collected, it closes
    return CoalescedWrites(transport, loop), written, reader, writer


def _run(test: Callable[[CoalescedWrites, list[bytes], asyncio.StreamReader], Awaitable[None]]) -> None:
    async def main() -> None:
        coalesced, written, reader, writer = await _connected()
        try:
            await test(coalesced, written, reader)
        finally:
            coalesced.abort()
            writer.close()

    asyncio.run(main())


def test_writes_of_one_turn_leave_as_one() -> None:
    async def test(coalesced: CoalescedWrites, written: list[bytes], reader: asyncio.StreamReader) -> None:
        coalesced.write(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n")
        coalesced.write(b"{}")
        assert written == [] and coalesced.get_write_buffer_size() == 45
        await asyncio.sleep(0)
        assert written == [b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}"]
        coalesced.write(b"next")
        await asyncio.sleep(0)
        assert written[1:] == [b"next"]
        assert await reader.readexactly(49) == written[0] + b"next"

    _run(test)


def test_a_large_write_leaves_at_once() -> None:
    async def test(coalesced: CoalescedWrites, written: list[bytes], reader: asyncio.StreamReader) -> None:
        coalesced.write(b"head")
        coalesced.write(b"x" * CoalescedWrites.FLUSH_AT_BYTES)
        assert written == [b"head" + b"x" * CoalescedWrites.FLUSH_AT_BYTES]

    _run(test)


def test_closing_sends_what_is_pending_and_aborting_drops_it() -> None:
    async def test(coalesced: CoalescedWrites, written: list[bytes], reader: asyncio.StreamReader) -> None:
        coalesced.write(b"last words")
        coalesced.close()
        assert written == [b"last words"] and coalesced.is_closing()
        assert await reader.read() == b"last words"

    _run(test)

    async def aborted(coalesced: CoalescedWrites, written: list[bytes], reader: asyncio.StreamReader) -> None:
        coalesced.write(b"never sent")
        coalesced.abort()
        await asyncio.sleep(0)
        assert written == [] and coalesced.get_write_buffer_size() == 0

    _run(aborted)
