"""What the agent keeps on disk (SQLite in its data dir): the outbox of data records not yet acknowledged by
the hub, the devices it paired and the protocols it installed. A record is committed (`synchronous=FULL`)
before `add` returns, so that a source is acknowledged only for what survives a crash."""

from __future__ import annotations

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
CREATE TABLE IF NOT EXISTS protocols (
    id TEXT PRIMARY KEY,
    installed_ms INTEGER NOT NULL
);
"""


class OutboxFull(Exception):
    """The outbox holds its configured maximum: new records are refused, never an old one dropped."""


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

    def add(self, records: Iterable[tuple[str, Any, int | None]]) -> list[OutRecord]:
        """Keep (device id, JSON payload, epoch ms or None for now) records; committed on return."""
        now = int(time.time() * 1000)
        rows = [
            (ordered_guid(), device, now if ts is None else ts, orjson.dumps(payload).decode())
            for device, payload, ts in records
        ]
        if self._pending + len(rows) > self.max_records:
            raise OutboxFull(
                f"the outbox holds {self._pending} records, its maximum is {self.max_records}: new records "
                "are refused until the hub takes some (OUTBOX_MAX_RECORDS raises it)"
            )
        with self._transaction():
            first = self._db.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]
            self._db.executemany("INSERT INTO outbox (id, device, ts, payload) VALUES (?, ?, ?, ?)", rows)
        self._pending += len(rows)
        cursor = self._db.execute(
            "SELECT seq, id, device, ts, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
            (first, len(rows)),
        )
        return [OutRecord(*row) for row in cursor]

    def after(self, seq: int, limit: int) -> list[OutRecord]:
        cursor = self._db.execute(
            "SELECT seq, id, device, ts, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
        )
        return [OutRecord(*row) for row in cursor]

    def remove(self, first_seq: int, last_seq: int) -> int:
        """Forget records the hub has committed; returns how many went."""
        with self._transaction():
            gone = self._db.execute(
                "DELETE FROM outbox WHERE seq BETWEEN ? AND ?", (first_seq, last_seq)
            ).rowcount
        self._pending -= gone
        return int(gone)

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


def batch_seqs(records: Sequence[OutRecord]) -> tuple[int, int]:
    return records[0].seq, records[-1].seq
