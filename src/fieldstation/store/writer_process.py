"""SQLite's batch writes in a process of their own.

The hub's event loop and a writer thread fought for one GIL: every call into sqlite3 releases it, and
taking it back from a busy loop cost up to a switch interval (5 ms), several times a batch. A batch of 63
uplinks took 17 ms on the thread against 2 ms alone (docs/performance.md). In a process of its own the
writer has a GIL of its own, and SQLite's work runs on the other core.

The hub sends planned batches (`sqlite_batch.plan`: plain rows) over a socket pair and reads back what each
item became; the process writes them one at a time, which is all SQLite allows anyway, and commits each
before it answers, so an answer means durable. If it dies, the batch it was writing was not committed
(SQLite rolls it back), the submitters of every batch it had not answered are told the store is
unavailable, and the next batch starts a new process. It exits when the
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
import threading
from collections import deque
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
CHECKPOINT_EVERY_S = 1.0
_LENGTH = struct.Struct(">I")
STOP_TIMEOUT_S = 10.0


class WriteRefused(Exception):
    """The database refused a batch (a value it cannot hold, a broken constraint): the batch, not the
    store, is at fault."""


class WriterProcess:
    """The hub's end: started at the first batch, restarted after a death. Batches are pipelined: the
    next one is sent while the process is still writing the one before, so that it never waits for the
    event loop to get round to sending it; answers come back in the order the batches were sent."""

    def __init__(self, database: Path) -> None:
        self._database = database
        self._link: _Link | None = None
        self._starting = asyncio.Lock()

    async def write(self, entries: Sequence[Entry], horizon_us: int) -> list[Written]:
        """Write and commit a planned batch. A caller that is cancelled once its batch is sent does not
        stop it: the batch is written, and its answer dropped."""
        request = pickle.dumps((entries, horizon_us), protocol=5)
        link = self._link
        if link is None or not link.alive:
            link = await self._live_link()
        kind, value = await link.send(request)
        if kind == "ok":
            written: list[Written] = value
            return written
        if kind == "unavailable":
            raise StoreUnavailable(f"the database cannot be reached: {value}")
        raise WriteRefused(value)

    async def _live_link(self) -> _Link:
        async with self._starting:
            if self._link is None or not self._link.alive:
                if self._link is not None:
                    await self._link.close()
                self._link = await _Link.start(self._database)
            return self._link

    @property
    def pid(self) -> int | None:
        return None if self._link is None else self._link.process.pid

    async def close(self) -> None:
        """Let the batches in flight finish, then stop the process."""
        async with self._starting:
            if self._link is not None:
                await self._link.close()
                self._link = None


class _Link:
    """One writer process, its socket, and the answers it owes, oldest first."""

    def __init__(
        self, process: asyncio.subprocess.Process, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.process = process
        self._reader, self._writer = reader, writer
        self._owed: deque[asyncio.Future[tuple[str, Any]]] = deque()
        self.alive = True
        self._answers = asyncio.create_task(self._read_answers(), name="fieldstation-sqlite-writer-answers")

    @classmethod
    async def start(cls, database: Path) -> _Link:
        ours, theirs = socket.socketpair()
        with theirs:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", MODULE, str(theirs.fileno()), str(database),
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
            )  # fmt: skip
        reader, writer = await asyncio.open_connection(sock=ours)
        return cls(process, reader, writer)

    def send(self, request: bytes) -> asyncio.Future[tuple[str, Any]]:
        answer: asyncio.Future[tuple[str, Any]] = asyncio.get_running_loop().create_future()
        self._owed.append(answer)
        self._writer.write(_LENGTH.pack(len(request)) + request)
        return answer

    async def _read_answers(self) -> None:
        try:
            while True:
                (size,) = _LENGTH.unpack(await self._reader.readexactly(_LENGTH.size))
                answer = pickle.loads(await self._reader.readexactly(size))
                owed = self._owed.popleft()
                if not owed.done():  # its caller may have been cancelled
                    owed.set_result(answer)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self._fail(StoreUnavailable(f"the SQLite writer process stopped during a write: {exc}"))

    def _fail(self, error: Exception) -> None:
        self.alive = False
        while self._owed:
            owed = self._owed.popleft()
            if not owed.done():
                owed.set_exception(error)

    async def close(self) -> None:
        self.alive = False
        if self._owed:
            await asyncio.wait(list(self._owed))
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()
        try:
            await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            log.error("the SQLite writer process did not stop within %s s; killed", STOP_TIMEOUT_S)
            self.process.kill()
            await self.process.wait()
        self._answers.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._answers


def connect(database: Path | str) -> sqlite3.Connection:
    """The write connection, with the hub's pragmas; transactions are begun and ended explicitly."""
    connection = sqlite3.connect(database, isolation_level=None, cached_statements=256)
    for pragma in SQLITE_PRAGMAS:
        connection.execute(f"PRAGMA {pragma}")
    return connection


def _checkpoint(database: str, stop: threading.Event) -> None:
    """Copy the WAL's committed pages into the database every `CHECKPOINT_EVERY_S`, on a connection of its
    own. Left to SQLite, it is done inside the commit that takes the WAL past 1,000 pages, and that batch's
    uplinks wait for it: measured in-process, commits took p90 7–11 ms that way against 2.5–3 ms with this
    thread. PASSIVE: it never waits for, or blocks, a reader or the writer."""
    connection = connect(database)
    try:
        while not stop.wait(CHECKPOINT_EVERY_S):
            try:
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:  # the next round tries again; meanwhile the WAL only grows
                print(f"fieldstation writer: WAL checkpoint failed: {exc}", file=sys.stderr, flush=True)
    finally:
        connection.close()


def serve(fd: int, database: str) -> None:
    """The process's end: answer batches until the hub hangs up."""
    connection = connect(database)
    connection.execute("PRAGMA wal_autocheckpoint=0")  # `_checkpoint` does it, off the commit path
    stop = threading.Event()
    checkpoints = threading.Thread(target=_checkpoint, args=(database, stop), name="checkpoint", daemon=True)
    checkpoints.start()
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
    stop.set()
    checkpoints.join()
    connection.close()


if __name__ == "__main__":
    # Ctrl-C and a service manager's SIGTERM reach the whole process group; the hub then drains its queue
    # through this process, which stops when the hub hangs up.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    serve(int(sys.argv[1]), sys.argv[2])
