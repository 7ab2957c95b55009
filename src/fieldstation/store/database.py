"""Engines and migrations. SQLite runs in WAL mode with full fsync, so that an acknowledged write survives a
crash of the process or the machine; PostgreSQL is reached through asyncpg."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import Connection, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from fieldstation.store.writer_process import SQLITE_PRAGMAS

MIGRATIONS = Path(__file__).with_name("migrations")
HEAD = max(path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))
"""The newest revision (each migration's file name starts with its revision id; tests/store checks that
Alembic agrees). A store already there is not handed to Alembic at all: importing it and reading its
scripts cost every CLI command half a second."""
log = logging.getLogger("fieldstation.store")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def connect(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        # Last in, first out: a lone reader gets the connection it just used, whose page cache is warm. In
        # turn (the default), each of eight connections warmed its own 4 MB cache and a 1,000-row page read
        # mostly cold pages.
        engine = create_async_engine(url, pool_size=8, max_overflow=8, pool_use_lifo=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        connect_args={"server_settings": POSTGRES_SETTINGS},
    )


POSTGRES_SETTINGS = {"jit": "off", "plan_cache_mode": "force_custom_plan"}
"""Every connection's settings. JIT compilation pays off for long analytical queries; a large page's plan
crosses its cost threshold and spent 7 ms compiling (measured) for a query of 190. asyncpg prepares each
statement; after five runs PostgreSQL may switch a prepared statement to a generic plan, one made without
the arguments' values, which cannot leave out the partitions a window does not reach and misjudges the
page: on ten million readings an archive page went from 0.2 s to 3.2 s at its sixth run on one connection
(measured). A plan made for each run's values costs a millisecond or two."""


@contextlib.asynccontextmanager
async def streaming_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection held across the chunks of a stream. A client that goes away cancels the stream where it
    waits; the connection is then closed shielded from that cancellation. `async with engine.connect()`
    closes through `asyncio.shield`, which anyio's cancel scope cancels again at every step of the loop: it
    spun for 30 to 90 ms of the event loop's CPU per abandoned page (measured), which a client could repeat
    at will; a close cancelled outright leaves the connection's reset half done."""
    connection = await engine.connect()
    try:
        yield connection
    finally:
        with anyio.CancelScope(shield=True):
            await connection.close()


def _alembic_config(connection: Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to `revision`. Safe to run at every start and from several workers at once on
    PostgreSQL (Alembic takes the version table's row lock inside the transaction).

    On SQLite, foreign keys are not enforced while migrating: a batch migration recreates a table (copy,
    drop, rename), and dropping `devices` with enforcement on would cascade to every reading and uplink.
    SQLite ignores the pragma inside a transaction, so it is set before the migration's transaction; the
    keys are checked once it is done."""
    if revision == "head" and await _stored_revision(engine) == HEAD:
        return
    sqlite = engine.dialect.name == "sqlite"
    async with engine.connect() as connection:
        if sqlite:
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.commit()
        try:
            async with connection.begin():
                before, after = await connection.run_sync(_upgrade, revision)
                if sqlite:  # before the commit: a migration that breaks a foreign key is not kept
                    broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
                    if broken:
                        raise RuntimeError(f"the migration left {len(broken)} rows with broken foreign keys")
        finally:
            if sqlite:
                await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                await connection.commit()
    if after != before:
        log.info("database schema upgraded from %s to %s", before or "nothing (a new database)", after)


async def _stored_revision(engine: AsyncEngine) -> str | None:
    """The store's revision as Alembic records it; None for a new store."""
    try:
        async with engine.connect() as connection:
            return (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    except DBAPIError:  # no version table yet
        return None


def _upgrade(connection: Connection, revision: str) -> tuple[str | None, str | None]:
    """Upgrade on this connection; the revisions before and after."""
    from alembic import command

    before = _revision(connection)
    command.upgrade(_alembic_config(connection), revision)
    return before, _revision(connection)


def _revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_revision)
