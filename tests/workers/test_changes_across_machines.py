"""Two hubs that share PostgreSQL and Redis but no disk (two machines): a change made through one, or with
the CLI beside it, applies to the next request of the other, as it does between the processes of one
machine (tests/http/test_front_door.py), with no cache TTL to wait out."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.backends import SharedServers
from tests.conftest import LiveServer, start_server


@pytest.fixture(scope="module")
def machines(
    tmp_path_factory: pytest.TempPathFactory, servers: SharedServers
) -> Iterator[tuple[LiveServer, LiveServer]]:
    environment = servers.environment()
    first = start_server(tmp_path_factory.mktemp("machine-a") / "data", "--no-demo", env=environment)
    second = start_server(tmp_path_factory.mktemp("machine-b") / "data", "--no-demo", env=environment)
    try:
        yield first, second
    finally:
        for server in (first, second):
            server.process.terminate()
            server.process.wait(timeout=15)


def _command(server: LiveServer, *args: str) -> None:
    """A CLI command beside `server` (its data dir and settings), as an operator on that machine runs it."""
    subprocess.run(
        [sys.executable, "-m", "fieldstation", *args, "--data-dir", str(server.data_dir)],
        check=True, capture_output=True, env=server.env,
    )  # fmt: skip


def _status_soon(url: str, headers: dict[str, str], wanted: int) -> int:
    """The status once it is `wanted`, or the last one after a second: an announcement crosses Redis in
    about a millisecond, the caches' backstop TTL is a minute."""
    deadline = time.monotonic() + 1
    while True:
        status = httpx.get(url, headers=headers).status_code
        if status == wanted or time.monotonic() > deadline:
            return status
        time.sleep(0.02)


def test_a_credential_revoked_on_one_machine_is_refused_on_the_other(
    machines: tuple[LiveServer, LiveServer],
) -> None:
    first, second = machines
    created = first.cli("project", "create", "revoked")
    key = created["astrocast"]["api_key"]
    headers = {"x-api-key": key}
    url = f"{second.base}/astrocast/v1/devices"
    assert httpx.get(url, headers=headers).status_code == 200  # now remembered by the second machine
    listed = first.cli("credential", "list", "--project", "revoked")
    astrocast_id = next(c["id"] for c in listed if c["kind"] == "astrocast")
    _command(first, "credential", "revoke", str(astrocast_id))
    assert _status_soon(url, headers, 401) == 401


def test_maintenance_set_on_one_machine_applies_on_the_other(machines: tuple[LiveServer, LiveServer]) -> None:
    first, second = machines
    created = first.cli("project", "create", "maintained")
    headers = {"x-api-key": created["astrocast"]["api_key"]}
    url = f"{second.base}/astrocast/v1/devices"
    assert httpx.get(url, headers=headers).status_code == 200
    _command(first, "maintenance", "on", "--project", "maintained")
    assert _status_soon(url, headers, 503) == 503
