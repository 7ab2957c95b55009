"""A batch of uplinks and readings written to SQLite in a handful of statements, whatever its size.

Two halves. `plan` runs in the hub: it turns the batch into plain rows. `write` runs in the writer process
(`store.writer_process`), which holds the database's one write connection: `BEGIN IMMEDIATE`, one look-up
of the keys the batch repeats (answered as one JSON row), multi-row inserts of its new uplinks and
readings, and the commit.

The write lock is taken before the look-up, so nothing can store one of the batch's keys between the
look-up and the inserts; the inserts then need no conflict clause, and the ids of one multi-row insert are
consecutive (SQLite gives a new row the largest rowid plus one), so they are known without `RETURNING`.

This module is imported by the writer process, which must start fast: the standard library and orjson
only, and the core's plain types."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from fieldstation.core.ports import UID_KEY, ReadingToStore

CHUNK_ROWS = 64
"""Rows per multi-row insert: big enough that a statement's cost is spread thin, small enough that a
statement holds well under SQLite's 32,766 variables, and that the few statement texts (a full chunk and
the remainders) stay in the connection's statement cache."""

UPLINKS, READINGS = "uplinks", "readings"
UPLINK_COLUMNS = (
    "project_id", "device_id", "source", "received_us", "inserted_us", "eui", "f_cnt", "f_port", "payload",
    "raw", "meta", "dedup_key",
)  # fmt: skip
READING_COLUMNS = (
    "uid", "project_id", "device_id", "uplink_id", "time_us", "inserted_us", "latitude", "longitude",
    "values_json", "error", "warnings", "awt_json", "partition_us",
)  # fmt: skip
UPLINK_ID_COLUMN = READING_COLUMNS.index("uplink_id")

_STORED_KEYS = f"""
SELECT json_group_array(json_array(u.project_id, u.dedup_key, u.id, u.inserted_us, r.uid))
FROM json_each(?) AS k
CROSS JOIN {UPLINKS} AS u
LEFT JOIN {READINGS} AS r ON r.uplink_id = u.id
WHERE u.project_id = json_extract(k.value, '$[0]') AND u.dedup_key = json_extract(k.value, '$[1]')
"""
"""The batch's keys that are already stored: (project, key, uplink id, inserted, first reading's uid)."""
_TAKEN_UIDS = f"""
SELECT json_group_array(json_array(r.project_id, r.uid))
FROM json_each(?) AS k
CROSS JOIN {READINGS} AS r
WHERE r.project_id = json_extract(k.value, '$[0]') AND r.uid = json_extract(k.value, '$[1]')
"""
"""Of the batch's outside ids (an Astrocast messageGuid, a vendor's record id), those that already name a
reading of their project that came another way (its id made by the hub)."""

Key = tuple[int, str]
"""(project id, dedup key): projects share batches, never keys."""
Row = tuple[Any, ...]
Entry = tuple[Key | None, Row | None, Row]
"""One item of a planned batch: its dedup key, its uplink's row (None for a reading without an uplink),
its reading's row (whose uplink id is filled in when the uplink is inserted)."""
Written = tuple[str, bool]
"""What an item became: the uid of its reading (the first one's, for a duplicate), and whether it was one."""


def plan(items: Sequence[ReadingToStore], inserted_us: int) -> list[Entry]:
    entries: list[Entry] = []
    for item in items:
        up, decoded, device = item.uplink, item.decoded, item.device
        at_us = item.inserted_us or inserted_us
        time_us = decoded.device_time_us
        if time_us is None:
            time_us = up.received_us if up is not None else inserted_us
        reading = (
            item.uid, device.project_id, device.id, None, time_us, at_us, decoded.latitude,
            decoded.longitude, orjson.dumps(decoded.values).decode(), decoded.error,
            orjson.dumps(decoded.warnings).decode() if decoded.warnings else None, item.awt_json,
            max(at_us, time_us),
        )  # fmt: skip
        if up is None:
            entries.append((None, None, reading))
            continue
        uplink = (
            device.project_id, device.id, up.source, up.received_us, at_us, up.eui, up.f_cnt, up.f_port,
            up.payload, up.raw, orjson.dumps(up.meta).decode(), item.dedup_key,
        )  # fmt: skip
        key = None if item.dedup_key is None else (device.project_id, item.dedup_key)
        entries.append((key, uplink, reading))
    return entries


def write(driver: sqlite3.Connection, entries: Sequence[Entry], horizon_us: int) -> list[Written]:
    """Write a planned batch in one transaction and commit it. An entry whose key is stored and was stored
    after `horizon_us` (or that repeats an earlier entry of the batch) is a duplicate: nothing is written
    for it, and it answers with the uid of the reading its key first produced."""
    driver.execute("BEGIN IMMEDIATE")
    try:
        written = _write(driver, entries, horizon_us)
    except BaseException:
        driver.rollback()
        raise
    driver.commit()
    return written


def _write(driver: sqlite3.Connection, entries: Sequence[Entry], horizon_us: int) -> list[Written]:
    first_in_batch: dict[Key, int] = {}
    repeats: dict[int, Key] = {}
    for index, (key, _, _) in enumerate(entries):
        if key is None:
            continue
        if key in first_in_batch:
            repeats[index] = key
        else:
            first_in_batch[key] = index
    retire: list[int] = []
    first_uid: dict[Key, str] = {}
    for key, (uplink_id, stored_us, uid) in _stored_keys(driver, list(first_in_batch)).items():
        if uid is None or (stored_us < horizon_us and not key[1].startswith(UID_KEY)):
            # outside the window (or its reading is gone): a new uplink; the old one keeps its row
            retire.append(uplink_id)
        else:
            first_uid[key] = uid
            repeats[first_in_batch[key]] = key
    for key in _taken_uids(driver, [key for key in first_in_batch if key not in first_uid]):
        first_uid[key] = key[1].removeprefix(UID_KEY)
        repeats[first_in_batch[key]] = key
    if retire:
        driver.execute(
            f"UPDATE {UPLINKS} SET dedup_key = dedup_key || ':' || id "
            "WHERE id IN (SELECT value FROM json_each(?))",
            (orjson.dumps(retire).decode(),),
        )
    new = [index for index in range(len(entries)) if index not in repeats]
    with_uplink: list[int] = []
    uplink_rows: list[Row] = []
    for index in new:
        uplink = entries[index][1]
        if uplink is not None:
            with_uplink.append(index)
            uplink_rows.append(uplink)
    uplink_ids = dict(zip(with_uplink, _insert(driver, UPLINKS, UPLINK_COLUMNS, uplink_rows), strict=True))
    readings = []
    for index in new:
        key, _, reading = entries[index]
        if key is not None:
            first_uid[key] = reading[0]
        if index in uplink_ids:
            reading = (*reading[:UPLINK_ID_COLUMN], uplink_ids[index], *reading[UPLINK_ID_COLUMN + 1 :])
        readings.append(reading)
    _insert(driver, READINGS, READING_COLUMNS, readings)
    return [
        (first_uid[repeats[index]], True) if index in repeats else (reading[0], False)
        for index, (_, _, reading) in enumerate(entries)
    ]


def _stored_keys(driver: sqlite3.Connection, keys: list[Key]) -> dict[Key, tuple[int, int, str | None]]:
    if not keys:
        return {}
    (found,) = driver.execute(_STORED_KEYS, (orjson.dumps(keys).decode(),)).fetchone()
    return {
        (project_id, dedup_key): (uplink_id, stored_us, uid)
        for project_id, dedup_key, uplink_id, stored_us, uid in orjson.loads(found)
    }


def _taken_uids(driver: sqlite3.Connection, keys: list[Key]) -> list[Key]:
    """Of these keys, the outside ids (`UID_KEY`) that a reading of the project already has as its uid: a
    message that brings one is a repeat of that reading, never a second reading with the same id."""
    asked = [(project_id, key.removeprefix(UID_KEY)) for project_id, key in keys if key.startswith(UID_KEY)]
    if not asked:
        return []
    (found,) = driver.execute(_TAKEN_UIDS, (orjson.dumps(asked).decode(),)).fetchone()
    return [(project_id, f"{UID_KEY}{uid}") for project_id, uid in orjson.loads(found)]


def _insert(driver: sqlite3.Connection, table: str, columns: Sequence[str], rows: list[Row]) -> list[int]:
    """Insert rows in chunks of multi-row statements; returns their ids, in the rows' order."""
    ids: list[int] = []
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
    values = "(" + ", ".join("?" * len(columns)) + ")"
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = rows[start : start + CHUNK_ROWS]
        cursor = driver.execute(head + ", ".join([values] * len(chunk)), [v for row in chunk for v in row])
        last = cursor.lastrowid
        if cursor.rowcount != len(chunk) or last is None:
            raise RuntimeError(f"an insert into {table} stored {cursor.rowcount} of {len(chunk)} rows")
        ids.extend(range(last - len(chunk) + 1, last + 1))
    return ids
