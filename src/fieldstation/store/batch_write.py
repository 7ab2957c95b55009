"""Writing a batch of uplinks and readings in one transaction, deduplicated, on PostgreSQL (through
`AsyncConnection.run_sync`). SQLite's batches go to its writer process instead (`sqlite_batch`,
`writer_process`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, String, any_, bindparam, insert, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgres_insert

from fieldstation.core.ports import UID_KEY, ReadingToStore, StoredReading
from fieldstation.store import schema as t
from fieldstation.store.sqlite_batch import READING_COLUMNS, UPLINK_COLUMNS, Entry, Key, plan


def write_readings(
    conn: Connection, items: Sequence[ReadingToStore], inserted_us: int, dedup_window_us: int
) -> list[StoredReading]:
    """Write uplinks and their readings in one transaction. An item whose dedup key is already stored
    (within the window) is a duplicate: nothing is written for it and it answers with the first uid."""
    entries = plan(items, inserted_us)  # the rows, as SQLite's writer process gets them
    uplink_ids, duplicates = _insert_uplinks(conn, items, entries, inserted_us, dedup_window_us)
    rows = []
    for item, (_, _, reading), uplink_id in zip(items, entries, uplink_ids, strict=True):
        if uplink_id is None and item.uplink is not None:
            continue
        rows.append(dict(zip(READING_COLUMNS, reading, strict=True)) | {"uplink_id": uplink_id})
    if rows:
        conn.execute(insert(t.readings), rows)
    return [
        StoredReading(duplicates[index], True) if index in duplicates else StoredReading(item.uid, False)
        for index, item in enumerate(items)
    ]


def _key(item: ReadingToStore) -> Key | None:
    return None if item.dedup_key is None else (item.device.project_id, item.dedup_key)


def _insert_uplinks(
    conn: Connection,
    items: Sequence[ReadingToStore],
    entries: Sequence[Entry],
    inserted_us: int,
    dedup_window_us: int,
) -> tuple[list[int | None], dict[int, str]]:
    """Insert the items' uplinks; returns their ids (None for a duplicate or an item without uplink) and,
    by item index, the uid that each duplicate repeats."""
    u = t.uplinks
    ids: list[int | None] = [None] * len(items)
    first_by_key: dict[Key, int] = {}
    rows = []
    for index, (key, uplink, _) in enumerate(entries):
        if uplink is None:
            continue
        if key is not None and key in first_by_key:
            continue  # a repeat within this batch: the first one stands for it
        if key is not None:
            first_by_key[key] = index
        rows.append(dict(zip(UPLINK_COLUMNS, uplink, strict=True)) | {"_index": index})
    if not rows:
        return ids, {}
    # New keys are the common case: inserted straight away. The refused ones are then looked up once (one
    # query per project: when each was stored, and its reading's uid), not once for staleness and again
    # for the uid. Looking every key up before the insert made repeats twice as fast and new uplinks 11 %
    # slower (bench.ingest, PostgreSQL, two workers, three runs each).
    stored = _insert_new_keys(conn, rows)
    known = _stored_keys(
        conn, [(row["project_id"], row["dedup_key"]) for row in rows if row["_index"] not in stored]
    )
    retire = _stale(known, inserted_us - dedup_window_us)
    if retire:
        conn.execute(
            update(u)
            .where(u.c.id == bindparam("old_id"))
            .values(dedup_key=u.c.dedup_key + ":" + sql_cast(u.c.id, String)),
            [{"old_id": known[key][0]} for key in retire],
        )
        stored |= _insert_new_keys(
            conn, [row for row in rows if (row["project_id"], row["dedup_key"]) in retire]
        )
    for index, uplink_id in stored.items():
        ids[index] = uplink_id
    repeated: dict[int, Key] = {}
    for index, item in enumerate(items):
        key = _key(item)
        if item.uplink is not None and key is not None and index not in stored:
            repeated[index] = key
    first_uids = {key: uid for key, (_, _, uid) in known.items() if key not in retire}
    return ids, _first_uids(items, repeated, stored, first_uids)


def _insert_new_keys(conn: Connection, rows: list[dict[str, Any]]) -> dict[int, int]:
    """Insert rows whose dedup key is new in their project; returns item index -> uplink id of those
    inserted."""
    u = t.uplinks
    values = [{k: v for k, v in row.items() if k != "_index"} for row in rows]
    stmt = (
        postgres_insert(u)
        .on_conflict_do_nothing(index_elements=["project_id", "dedup_key"])
        .returning(u.c.id, u.c.project_id, u.c.dedup_key)
    )
    result = conn.execute(stmt, values)
    by_key: dict[Key, int] = {}
    unkeyed: list[int] = []
    for returned in result.all():
        if returned.dedup_key is None:
            unkeyed.append(returned.id)
        else:
            by_key[(returned.project_id, returned.dedup_key)] = returned.id
    unkeyed.sort()
    inserted: dict[int, int] = {}
    for row in rows:
        key = (row["project_id"], row["dedup_key"])
        if row["dedup_key"] is None:
            inserted[row["_index"]] = unkeyed.pop(0)
        elif key in by_key:
            inserted[row["_index"]] = by_key.pop(key)
    return inserted


def _stored_keys(conn: Connection, keys: list[Key]) -> dict[Key, tuple[int, int, str]]:
    """Of these keys, those already stored: key -> (uplink id, when it was inserted, its reading's uid).

    The keys go as one array (`= ANY($2)`), not an IN list: one statement text whatever their number, so
    asyncpg prepares it once per connection, and PostgreSQL does not parse and plan a list of hundreds of
    parameters for every batch. The reading's uid is a subquery per uplink, on the readings' uplink index:
    as a join, PostgreSQL estimated a handful of keys and hashed a scan of the whole readings table (84 ms
    for 500 repeats of a fresh database, and growing with it; 6 ms so)."""
    u, r = t.uplinks, t.readings
    uid = select(r.c.uid).where(r.c.uplink_id == u.c.id).limit(1).scalar_subquery()
    found: dict[Key, tuple[int, int, str]] = {}
    for project_id, dedup_keys in _by_project(keys).items():
        rows = conn.execute(
            select(u.c.dedup_key, u.c.id, u.c.inserted_us, uid.label("uid")).where(
                u.c.project_id == project_id,
                u.c.dedup_key == any_(bindparam("keys", dedup_keys, type_=ARRAY(String))),
            )
        )
        found.update(
            {(project_id, row.dedup_key): (row.id, row.inserted_us, row.uid) for row in rows if row.uid}
        )
    return found


def _stale(known: dict[Key, tuple[int, int, str]], horizon_us: int) -> set[Key]:
    """The stored keys from before the window began (hub time), which a new uplink may take over. A key
    made of the network's own id (an Astrocast messageGuid) never goes stale: that id names one message
    for ever."""
    return {
        key
        for key, (_, inserted_us, _) in known.items()
        if inserted_us < horizon_us and not key[1].startswith(UID_KEY)
    }


def _first_uids(
    items: Sequence[ReadingToStore],
    repeated: dict[int, Key],
    stored: dict[int, int],
    known: dict[Key, str],
) -> dict[int, str]:
    """For each repeated item, the uid of the reading its key first produced (in the same project): from
    this batch, or from the look-up of the refused keys. That look-up ran after the insert, which waited
    for any writer that held the key, so it saw every refused key's reading."""
    uid_by_key = dict(known)
    for index in stored:
        key = _key(items[index])
        if key is not None:
            uid_by_key[key] = items[index].uid
    return {index: uid_by_key[key] for index, key in repeated.items()}


def _by_project(keys: Iterable[Key]) -> dict[int, list[str]]:
    grouped: dict[int, list[str]] = defaultdict(list)
    for project_id, dedup_key in keys:
        grouped[project_id].append(dedup_key)
    return grouped
