"""The two stores the suites run on: SQLite in the data dir, and PostgreSQL with Redis (one throwaway
server of each for the whole session, a new database and an empty Redis for every test).

Tests of the dialects, ingestion and realtime take the `backend` fixture through `harness`, `limited` and
`live_server`; `tests/conftest.py` runs them once per backend. Elsewhere SQLite alone."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
import tempfile
from pathlib import Path

import redis

from fieldstation.store.database import connect, migrate
from tests.services import postgres_database, postgres_server, redis_server

SQLITE = "sqlite"
POSTGRES = "postgres+redis"
TEMPLATE = "fieldstation_migrated"
SQLITE_FILE = "fieldstation.db"
"""The SQLite store's file in a data dir (`Settings.database`)."""
TWICE = ("tests/dialects/", "tests/http/test_websocket_frames.py", "tests/export/")
"""Run on both backends: the dialects' suites, which hold ingestion by every network and the realtime
events too, the live subscribers' test, and the exports."""


class SharedServers:
    """PostgreSQL and Redis, started at the first test that needs them and kept until the session ends."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self._server: str | None = None
        self._redis: str | None = None
        self._databases = itertools.count()
        self._sqlite_template: Path | None = None

    def _start(self) -> tuple[str, str]:
        if self._server is None or self._redis is None:
            self._server = self._stack.enter_context(postgres_server())
            self._redis = self._stack.enter_context(redis_server())
            # Migrated once; every test's database is a copy (createdb -T), not nine migrations again.
            template = postgres_database(self._server, TEMPLATE)
            asyncio.run(_migrate(template))
        return self._server, self._redis

    def environment(self) -> dict[str, str]:
        """The settings of a hub on a new, migrated database and an empty Redis."""
        server, redis_url = self._start()
        database = postgres_database(server, f"test_{next(self._databases)}", template=TEMPLATE)
        with redis.Redis.from_url(redis_url) as client:
            client.flushdb()
        return {"FIELDSTATION_DATABASE_URL": database, "FIELDSTATION_REDIS_URL": redis_url}

    def sqlite_database(self, data_dir: Path) -> None:
        """A migrated SQLite database in `data_dir`: a copy of one migrated once for the session. Eleven
        migrations took 0.4 to 0.6 s of CPU, most of an in-process hub's start, before every test."""
        if self._sqlite_template is None:
            folder = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="fieldstation-")))
            template = folder / SQLITE_FILE
            asyncio.run(_migrate(f"sqlite+aiosqlite:///{template}"))
            # Every connection is closed: the WAL is folded into the file, which is whole on its own.
            assert not template.with_name(f"{SQLITE_FILE}-wal").exists()
            self._sqlite_template = template
        data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._sqlite_template, data_dir / SQLITE_FILE)

    def close(self) -> None:
        self._stack.close()


async def _migrate(url: str) -> None:
    engine = connect(url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


class Backend:
    def __init__(self, name: str, servers: SharedServers) -> None:
        self.name = name
        self._servers = servers

    def environment(self) -> dict[str, str]:
        """Settings (as environment variables) of a new hub: none for SQLite, whose store is the data dir."""
        return {} if self.name == SQLITE else self._servers.environment()

    def migrated(self, data_dir: Path) -> dict[str, str]:
        """As `environment`, with a SQLite store already migrated in `data_dir` (for hubs started in this
        process, many times a session)."""
        if self.name != SQLITE:
            return self._servers.environment()
        self._servers.sqlite_database(data_dir)
        return {}


def runs_twice(path: Path, root: Path) -> bool:
    relative = path.relative_to(root).as_posix()
    return any(relative.startswith(prefix) for prefix in TWICE)
