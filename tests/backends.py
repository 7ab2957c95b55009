"""The two stores the suites run on: SQLite in the data dir, and PostgreSQL with Redis (one throwaway
server of each for the whole session, a new database and an empty Redis for every test).

Tests of the dialects, ingestion and realtime take the `backend` fixture through `harness`, `limited` and
`live_server`; `tests/conftest.py` runs them once per backend. Elsewhere SQLite alone."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from pathlib import Path

import redis

from fieldstation.store.database import connect, migrate
from tests.services import postgres_database, postgres_server, redis_server

SQLITE = "sqlite"
POSTGRES = "postgres+redis"
TEMPLATE = "fieldstation_migrated"
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


def runs_twice(path: Path, root: Path) -> bool:
    relative = path.relative_to(root).as_posix()
    return any(relative.startswith(prefix) for prefix in TWICE)
