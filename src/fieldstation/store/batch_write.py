"""Writing a batch of uplinks and readings in one transaction, deduplicated, on PostgreSQL (through
`AsyncConnection.run_sync`). SQLite's batches go to its writer process instead (`sqlite_batch`,
`writer_process`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, String, any_, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgres_insert

from fieldstation.core.ports import UID_KEY, ReadingToStore, StoredReading
from fieldstation.store import schema as t
from fieldstation.store.sqlite_batch import READING_COLUMNS, UPLINK_COLUMNS, Entry, Key, plan

INSERTED_COLUMN = UPLINK_COLUMNS.index("inserted_us")
CLAIM_ATTEMPTS = 3
"""Rounds of claim and look-up for a batch's keys: a key can vanish (retention) or be taken over by another
writer between the two."""


def write_readings(
    conn: Connection, items: Sequence[ReadingToStore], inserted_us: int, dedup_window_us: int
) -> list[StoredReading]:
    """Write uplinks and their readings in one transaction. An item whose dedup key is already stored
    (within the window) is a duplicate: nothing is written for it and it answers with the first uid."""
    entries = plan(items, inserted_us)  # the rows, as SQLite's writer process gets them
    duplicates = _repeats(conn, entries, inserted_us - dedup_window_us)
    new = [index for index in range(len(entries)) if index not in duplicates]
    uplink_ids = _insert_uplinks(conn, entries, new)
    rows = [
        dict(zip(READING_COLUMNS, entries[index][2], strict=True)) | {"uplink_id": uplink_ids.get(index)}
        for index in new
    ]
    if rows:
        conn.execute(insert(t.readings), rows)
    return [
        StoredReading(duplicates[index], True) if index in duplicates else StoredReading(item.uid, False)
        for index, item in enumerate(items)
    ]


def _repeats(conn: Connection, entries: Sequence[Entry], horizon_us: int) -> dict[int, str]:
    """Claim the batch's dedup keys in `uplink_keys`; returns, by entry index, the uid that each repeat
    answers with (a key stored within the window, or one that an earlier entry of the batch brings).

    New keys are the common case: claimed straight away. Only the refused ones are looked up (one query
    per project), then those past the window are taken over. A claim waits for any transaction that holds
    the key and sees its outcome, so a key is never claimed twice; a take-over re-checks the key's time
    under its row lock, so two writers never both take one over."""
    first_in_batch: dict[Key, int] = {}
    repeats: dict[int, Key] = {}
    for index, (key, uplink, _) in enumerate(entries):
        if key is None or uplink is None:
            continue
        if key in first_in_batch:
            repeats[index] = key
        else:
            first_in_batch[key] = index
    claims = {key: _claim_of(entries[index]) for key, index in first_in_batch.items()}
    claimed = _claim(conn, claims)
    known: dict[Key, tuple[int, str]] = {}
    for _ in range(CLAIM_ATTEMPTS):
        refused = [key for key in claims if key not in claimed and key not in known]
        if not refused:
            break
        known |= _stored_keys(conn, refused)
        stale = {key: claims[key] for key in refused if key in known and _stale(key, known[key], horizon_us)}
        taken = _take_over(conn, stale, horizon_us)
        claimed |= taken
        for key in stale.keys() - taken:
            del known[key]  # another writer took it over first: look again
        # A refused key that is gone (retention deleted it meanwhile) is claimed again.
        vanished = {key: claims[key] for key in refused if key not in known and key not in stale}
        claimed |= _claim(conn, vanished)
    # An outside id that a reading of the project already has (its id made by the hub, the message come
    # another way) is a repeat of that reading: the key claimed for it keeps pointing at that uid.
    for key in _taken_uids(conn, [key for key in claimed if key[1].startswith(UID_KEY)]):
        known[key] = (claims[key][0], key[1].removeprefix(UID_KEY))
        claimed.discard(key)
    # A key taken over is this batch's now, whatever uid it held before.
    uid_of = {key: uid for key, (_, uid) in known.items()} | {key: claims[key][1] for key in claimed}
    for key, index in first_in_batch.items():
        if key not in claimed and key in known:
            repeats[index] = key
    # A key neither claimed nor found after every attempt is stored as new: at worst one reading twice,
    # rather than a failed batch for everyone in it.
    return {index: uid_of[key] for index, key in repeats.items() if key in uid_of}


def _claim_of(entry: Entry) -> tuple[int, str]:
    """(when the key is stored, the uid its uplink's reading gets)."""
    _, uplink, reading = entry
    assert uplink is not None
    return uplink[INSERTED_COLUMN], reading[0]


def _claim(conn: Connection, claims: dict[Key, tuple[int, str]]) -> set[Key]:
    """Store the keys that no uplink holds yet; returns those stored."""
    if not claims:
        return set()
    k = t.uplink_keys
    rows = [
        {"project_id": project_id, "dedup_key": dedup_key, "inserted_us": at_us, "uid": uid}
        for (project_id, dedup_key), (at_us, uid) in claims.items()
    ]
    stmt = postgres_insert(k).on_conflict_do_nothing().returning(k.c.project_id, k.c.dedup_key)
    return {(row.project_id, row.dedup_key) for row in conn.execute(stmt, rows)}


def _take_over(conn: Connection, claims: dict[Key, tuple[int, str]], horizon_us: int) -> set[Key]:
    """Give keys stored before the window to the uplinks that bring them again; returns those given. Rare
    (a key is a day's): one statement per key."""
    k = t.uplink_keys
    taken = set()
    for (project_id, dedup_key), (at_us, uid) in claims.items():
        stmt = (
            update(k)
            .where(k.c.project_id == project_id, k.c.dedup_key == dedup_key, k.c.inserted_us < horizon_us)
            .values(inserted_us=at_us, uid=uid)
        )
        if conn.execute(stmt).rowcount:
            taken.add((project_id, dedup_key))
    return taken


def _insert_uplinks(conn: Connection, entries: Sequence[Entry], new: list[int]) -> dict[int, int]:
    """Insert the new entries' uplinks; returns entry index -> uplink id."""
    u = t.uplinks
    with_uplink = [index for index in new if entries[index][1] is not None]
    if not with_uplink:
        return {}
    rows = [dict(zip(UPLINK_COLUMNS, entries[index][1] or (), strict=True)) for index in with_uplink]
    result = conn.execute(insert(u).returning(u.c.id, sort_by_parameter_order=True), rows)
    return dict(zip(with_uplink, result.scalars(), strict=True))


def _stored_keys(conn: Connection, keys: list[Key]) -> dict[Key, tuple[int, str]]:
    """Of these keys, those already stored: key -> (when, the uid of its uplink's reading).

    The keys go as one array (`= ANY($2)`), not an IN list: one statement text whatever their number, so
    asyncpg prepares it once per connection, and PostgreSQL does not parse and plan a list of hundreds of
    parameters for every batch."""
    k = t.uplink_keys
    found: dict[Key, tuple[int, str]] = {}
    for project_id, dedup_keys in _by_project(keys).items():
        rows = conn.execute(
            select(k.c.dedup_key, k.c.inserted_us, k.c.uid).where(
                k.c.project_id == project_id,
                k.c.dedup_key == any_(bindparam("keys", dedup_keys, type_=ARRAY(String))),
            )
        )
        found.update({(project_id, row.dedup_key): (row.inserted_us, row.uid) for row in rows})
    return found


def _taken_uids(conn: Connection, keys: list[Key]) -> list[Key]:
    """Of these outside-id keys (`UID_KEY`), those whose id a reading of the project already has."""
    r = t.readings
    taken: list[Key] = []
    for project_id, dedup_keys in _by_project(keys).items():
        uids = [key.removeprefix(UID_KEY) for key in dedup_keys]
        rows = conn.execute(
            select(r.c.uid).where(
                r.c.project_id == project_id, r.c.uid == any_(bindparam("uids", uids, type_=ARRAY(String)))
            )
        )
        taken += [(project_id, f"{UID_KEY}{uid}") for uid in rows.scalars()]
    return taken


def _stale(key: Key, stored: tuple[int, str], horizon_us: int) -> bool:
    """Whether a stored key is from before the window began (hub time), so that a new uplink may take it
    over. A key made of the network's own id (an Astrocast messageGuid) never goes stale: that id names
    one message for ever."""
    return stored[0] < horizon_us and not key[1].startswith(UID_KEY)


def _by_project(keys: Iterable[Key]) -> dict[int, list[str]]:
    grouped: dict[int, list[str]] = defaultdict(list)
    for project_id, dedup_key in keys:
        grouped[project_id].append(dedup_key)
    return grouped
