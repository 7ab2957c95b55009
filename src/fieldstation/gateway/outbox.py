"""What the agent keeps on disk (SQLite in its data dir): the outbox of data records not yet acknowledged by
the hub, the devices it paired and the protocols it installed. A record is committed (`synchronous=FULL`)
before `add` returns, so that a source is acknowledged only for what survives a crash."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from fieldstation.core.ids import ordered_guid

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    device TEXT NOT NULL,
    ts INTEGER NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,
    protocol TEXT NOT NULL,
    name TEXT NOT NULL,
    parameters TEXT NOT NULL,
    device_type TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS local_records (
    id TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    ts INTEGER NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_local_records_device ON local_records (device, ts, id);
CREATE TABLE IF NOT EXISTS deliveries (
    key TEXT PRIMARY KEY,
    digest TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS protocols (
    id TEXT PRIMARY KEY,
    installed_ms INTEGER NOT NULL
);
"""


class OutboxFull(Exception):
    """The outbox holds its configured maximum: new records are refused, never an old one dropped."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where a record came from, as its source numbers it: a source that sends a message again (a broker
    whose acknowledgement was lost in a crash) sends it under the same key, saying so (`again`)."""

    key: str
    again: bool


@dataclass(frozen=True, slots=True)
class OutRecord:
    seq: int
    id: str
    device: str
    ts: int
    payload: str
    """The device's JSON, as text."""

    def wire(self) -> dict[str, Any]:
        return {"id": self.id, "deviceId": self.device, "ts": self.ts, "payload": orjson.loads(self.payload)}


@dataclass(frozen=True, slots=True)
class PairedDevice:
    id: str
    protocol: str
    name: str
    parameters: dict[str, Any]
    device_type: dict[str, Any]


class AgentStore:
    def __init__(self, data_dir: Path, max_records: int) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(data_dir / "agent.db", isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self.max_records = max_records
        self._pending = self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]

    def close(self) -> None:
        self._db.close()

    # the outbox ----------------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        return int(self._pending)

    def add(
        self,
        records: Iterable[tuple[str, Any, int | None]],
        *,
        outbox: bool = True,
        local: bool = False,
        deliveries: Sequence[Delivery | None] | None = None,
    ) -> list[OutRecord | None]:
        """Keep (device id, JSON payload, epoch ms or None for now) records: in the outbox for the hub, and in
        the local store for the on-premise API when `local`, in one transaction, committed on return. Records
        not in the outbox come back with `seq` 0.

        With `deliveries` (one per record, or None), a record that its source sends again (`again`, under
        the key and with the device and payload of one already kept) is not kept twice: it comes back as
        None. The agent may have crashed after keeping it and before the source heard so."""
        now = int(time.time() * 1000)
        rows = [
            (ordered_guid(), device, now if ts is None else ts, orjson.dumps(payload).decode())
            for device, payload, ts in records
        ]
        sources = list(deliveries) if deliveries is not None else [None] * len(rows)
        if outbox and self._pending + len(rows) > self.max_records:
            raise OutboxFull(
                f"the outbox holds {self._pending} records, its maximum is {self.max_records}: new records "
                "are refused until the hub takes some (OUTBOX_MAX_RECORDS raises it)"
            )
        first = 0
        with self._transaction():
            kept = [self._first_delivery(row, source) for row, source in zip(rows, sources, strict=True)]
            new_rows = [row for row, keep in zip(rows, kept, strict=True) if keep]
            if local:
                self._db.executemany(
                    "INSERT INTO local_records (id, device, ts, payload) VALUES (?, ?, ?, ?)",
                    [(object_id(ts), device, ts, payload) for _, device, ts, payload in new_rows],
                )
            if outbox:
                first = self._db.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]
                self._db.executemany(
                    "INSERT INTO outbox (id, device, ts, payload) VALUES (?, ?, ?, ?)", new_rows
                )
        if not outbox:
            stored = iter([OutRecord(0, *row) for row in new_rows])
        else:
            self._pending += len(new_rows)
            cursor = self._db.execute(
                "SELECT seq, id, device, ts, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (first, len(new_rows)),
            )
            stored = iter([OutRecord(*row) for row in cursor])
        return [next(stored) if keep else None for keep in kept]

    def _first_delivery(self, row: tuple[str, str, int, str], source: Delivery | None) -> bool:
        """Whether the row is new (else its source sent it again); notes its delivery either way."""
        if source is None:
            return True
        digest = hashlib.sha256(f"{row[1]}\n{row[3]}".encode()).hexdigest()[:32]
        if source.again:
            seen = self._db.execute("SELECT digest FROM deliveries WHERE key = ?", (source.key,)).fetchone()
            if seen is not None and seen[0] == digest:
                return False
        self._db.execute(
            "INSERT INTO deliveries (key, digest) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET digest = ?",
            (source.key, digest, digest),
        )
        return True

    def after(self, seq: int, limit: int) -> list[OutRecord]:
        cursor = self._db.execute(
            "SELECT seq, id, device, ts, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
        )
        return [OutRecord(*row) for row in cursor]

    def remove(self, first_seq: int, last_seq: int) -> int:
        """Forget records the hub has committed; returns how many went. Without a disk sync of its own: a
        removal lost in a crash only sends the records again, which the hub stores once (the next record
        kept syncs it anyway)."""
        self._db.execute("PRAGMA synchronous=NORMAL")
        try:
            with self._transaction():
                gone = self._db.execute(
                    "DELETE FROM outbox WHERE seq BETWEEN ? AND ?", (first_seq, last_seq)
                ).rowcount
        finally:
            self._db.execute("PRAGMA synchronous=FULL")
        self._pending -= gone
        return int(gone)

    # the local store (on-premise) ---------------------------------------------------------------------

    def local_page(
        self,
        device: str,
        start_ms: int | None,
        end_ms: int | None,
        offset: int,
        limit: int,
        newest_first: bool,
    ) -> tuple[list[tuple[str, str, int, str]], int]:
        """A page of a device's local records (id, device, ts, payload) in time order, and their total."""
        where = "device = ?"
        args: list[object] = [device]
        if start_ms is not None and end_ms is not None:
            where += " AND ts >= ? AND ts <= ?"
            args += [start_ms, end_ms]
        order = "DESC" if newest_first else "ASC"
        rows = self._db.execute(
            f"SELECT id, device, ts, payload FROM local_records WHERE {where} "
            f"ORDER BY ts {order}, id {order} LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
        total = self._db.execute(f"SELECT count(*) FROM local_records WHERE {where}", args).fetchone()[0]
        return rows, int(total)

    def purge_local(self, before_ms: int) -> int:
        with self._transaction():
            return int(self._db.execute("DELETE FROM local_records WHERE ts < ?", (before_ms,)).rowcount)

    # devices and protocols -----------------------------------------------------------------------------

    def paired(self) -> list[PairedDevice]:
        rows = self._db.execute("SELECT id, protocol, name, parameters, device_type FROM devices ORDER BY id")
        return [PairedDevice(i, p, n, orjson.loads(params), orjson.loads(t)) for i, p, n, params, t in rows]

    def keep_device(self, device: PairedDevice) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO devices VALUES (?, ?, ?, ?, ?)",
                (
                    device.id,
                    device.protocol,
                    device.name,
                    orjson.dumps(device.parameters).decode(),
                    orjson.dumps(device.device_type).decode(),
                ),
            )

    def forget_device(self, device_id: str) -> bool:
        with self._transaction():
            return bool(self._db.execute("DELETE FROM devices WHERE id = ?", (device_id,)).rowcount)

    def protocols(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT id FROM protocols ORDER BY id")]

    def keep_protocol(self, protocol: str) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO protocols VALUES (?, ?)", (protocol, int(time.time() * 1000))
            )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


_object_counter = [secrets.randbelow(2**24)]
_object_process = secrets.token_bytes(5)


def object_id(ts_ms: int) -> str:
    """An id in the shape of the seed's `_id` (a MongoDB ObjectId: 24 hex digits, seconds first)."""
    _object_counter[0] = (_object_counter[0] + 1) % 2**24
    return (
        (ts_ms // 1000 % 2**32).to_bytes(4, "big") + _object_process + _object_counter[0].to_bytes(3, "big")
    ).hex()
