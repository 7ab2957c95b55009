"""SQLite's batch writes in a process of their own.

The hub's event loop and a writer thread fought for one GIL: every call into sqlite3 releases it, and
taking it back from a busy loop cost up to a switch interval (5 ms), several times a batch. A batch of 63
uplinks took 17 ms on the thread against 2 ms alone (docs/performance.md). In a process of its own the
writer has a GIL of its own, and SQLite's work runs on the other core.

The hub sends a planned batch (`sqlite_batch.plan`: plain rows) over a socket pair and reads back what each
item became; one batch at a time, which is all SQLite allows anyway. The process commits before it answers,
so an answer means durable. If it dies, the batch in flight was not committed (SQLite rolls it back), its
submitters are told the store is unavailable, and the next batch starts a new process. It exits when the
hub closes the socket or dies, never on a signal sent to the hub's process group: the hub drains its queue
through it first.

    python -m fieldstation.store.writer_process FD DATABASE   (started by the hub, not by hand)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fieldstation.core.errors import StoreUnavailable
from fieldstation.store.sqlite_batch import Entry, Written, write

log = logging.getLogger("fieldstation.store")

SQLITE_PRAGMAS = (
    "journal_mode=WAL",
    "synchronous=FULL",
    "foreign_keys=ON",
    "busy_timeout=10000",
    "cache_size=-4096",
    "temp_store=MEMORY",
)
"""Every connection's: WAL with a full fsync per commit, so that an acknowledged write survives a crash of
the process or the machine; a 4 MiB page cache."""
MODULE = "fieldstation.store.writer_process"
_LENGTH = struct.Struct(">I")
STOP_TIMEOUT_S = 10.0


class WriteRefused(Exception):
    """The database refused a batch (a value it cannot hold, a broken constraint): the batch, not the
    store, is at fault."""


class WriterProcess:
    """The hub's end: started at the first batch, restarted after a death."""

    def __init__(self, database: Path) -> None:
        self._database = database
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()

    async def write(self, entries: Sequence[Entry], horizon_us: int) -> list[Written]:
        """Write and commit a planned batch. A caller that is cancelled does not cut the exchange short
        (the next batch would read this one's answer): it completes without it."""
        return await asyncio.shield(self._exchange(pickle.dumps((entries, horizon_us), protocol=5)))

    async def _exchange(self, request: bytes) -> list[Written]:
        async with self._lock:
            if self._process is None or self._process.returncode is not None:
                await self._start()
            assert self._reader is not None and self._writer is not None
            try:
                self._writer.write(_LENGTH.pack(len(request)) + request)
                (size,) = _LENGTH.unpack(await self._reader.readexactly(_LENGTH.size))
                kind, value = pickle.loads(await self._reader.readexactly(size))
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                await self._stop()
                raise StoreUnavailable(f"the SQLite writer process stopped during a write: {exc}") from exc
        if kind == "ok":
            written: list[Written] = value
            return written
        if kind == "unavailable":
            raise StoreUnavailable(f"the database cannot be reached: {value}")
        raise WriteRefused(value)

    async def _start(self) -> None:
        await self._stop()
        ours, theirs = socket.socketpair()
        with theirs:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", MODULE, str(theirs.fileno()), str(self._database),
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
            )  # fmt: skip
        self._reader, self._writer = await asyncio.open_connection(sock=ours)

    async def _stop(self) -> None:
        writer, process = self._writer, self._process
        self._reader = self._writer = self._process = None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        if process is not None:
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                log.error("the SQLite writer process did not stop within %s s; killed", STOP_TIMEOUT_S)
                process.kill()
                await process.wait()

    async def close(self) -> None:
        """Let the batch in flight finish, then stop the process."""
        async with self._lock:
            await self._stop()


def connect(database: Path | str) -> sqlite3.Connection:
    """The write connection, with the hub's pragmas; transactions are begun and ended explicitly."""
    connection = sqlite3.connect(database, isolation_level=None, cached_statements=256)
    for pragma in SQLITE_PRAGMAS:
        connection.execute(f"PRAGMA {pragma}")
    return connection


def serve(fd: int, database: str) -> None:
    """The process's end: answer batches until the hub hangs up."""
    connection = connect(database)
    with socket.socket(fileno=fd) as channel, channel.makefile("rb") as incoming:
        while header := incoming.read(_LENGTH.size):
            if len(header) < _LENGTH.size:
                break
            (size,) = _LENGTH.unpack(header)
            entries, horizon_us = pickle.loads(incoming.read(size))
            answer: tuple[str, Any]
            try:
                answer = ("ok", write(connection, entries, horizon_us))
            except sqlite3.OperationalError as exc:  # locked past the timeout, disk full or gone
                answer = ("unavailable", str(exc))
            except Exception as exc:
                answer = ("refused", f"{type(exc).__name__}: {exc}")
            reply = pickle.dumps(answer, protocol=5)
            channel.sendall(_LENGTH.pack(len(reply)) + reply)
    connection.close()


if __name__ == "__main__":
    # Ctrl-C and a service manager's SIGTERM reach the whole process group; the hub then drains its queue
    # through this process, which stops when the hub hangs up.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    serve(int(sys.argv[1]), sys.argv[2])
