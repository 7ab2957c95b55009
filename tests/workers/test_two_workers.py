"""`fieldstation serve --workers 2` on PostgreSQL and Redis (throwaway instances of the machine's binaries):
two processes behind one port behave as one hub to every client. Settings that cannot run several workers
are refused at start with a sentence that says what to set."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.sync.client import connect

from tests.backends import SharedServers
from tests.conftest import LiveServer, basic, start_server, ttn_uplink
from tests.services import free_port

VIRTUAL_TYPE = "5f0d7b9a-0c1e-4d2f-9a3b-4c5d6e7f8a9b"


def _serve(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fieldstation", "serve", "--data-dir", str(data_dir), "--port", str(free_port()), *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_settings_that_cannot_run_several_workers_are_refused_saying_what_to_set(tmp_path: Path) -> None:
    sqlite = _serve(tmp_path / "a", "--workers", "2", "--mqtt-port", "0")
    assert sqlite.returncode == 2 and "several workers need PostgreSQL" in sqlite.stderr
    assert "FIELDSTATION_DATABASE_URL" in sqlite.stderr
    no_redis = _serve(
        tmp_path / "b", "--workers", "2", "--mqtt-port", "0",
        env={"FIELDSTATION_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none"},
    )  # fmt: skip
    assert no_redis.returncode == 2 and "FIELDSTATION_REDIS_URL" in no_redis.stderr
    embedded = _serve(
        tmp_path / "c", "--workers", "2",
        env={"FIELDSTATION_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none",
             "FIELDSTATION_REDIS_URL": "redis://127.0.0.1:1/0", "FIELDSTATION_MQTT_PORT": "8883"},
    )  # fmt: skip
    assert embedded.returncode == 2 and "FIELDSTATION_MQTT_URL" in embedded.stderr


DATABASE: dict[str, str] = {}


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory, servers: SharedServers) -> Iterator[LiveServer]:
    environment = servers.environment()
    DATABASE["url"] = environment["FIELDSTATION_DATABASE_URL"]
    server = start_server(
        tmp_path_factory.mktemp("workers") / "data", "--workers", "2", "--mqtt-port", "0", env=environment
    )
    try:
        yield server
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)


def _workers_seen(base: str, tries: int = 40) -> set[int]:
    return {httpx.get(f"{base}/healthz").json()["worker"] for _ in range(tries)}  # a new connection each


def test_two_worker_processes_share_the_port(two_workers: LiveServer) -> None:
    assert len(_workers_seen(two_workers.base)) == 2


def test_fifty_concurrent_calls_of_a_rate_limited_endpoint_admit_exactly_one(two_workers: LiveServer) -> None:
    awt = two_workers.demo_credentials()["awt"]
    headers = {"X-API-KEY": awt["api_key"], "Authorization": f"Bearer {_awt_token(two_workers.base, awt)}"}

    async def all_at_once() -> list[int]:
        async def one() -> int:
            async with httpx.AsyncClient() as client:  # a connection each: the kernel spreads them
                return (await client.get(f"{two_workers.base}/awt/v2/devices", headers=headers)).status_code

        return await asyncio.gather(*(one() for _ in range(50)))

    statuses = asyncio.run(all_at_once())
    assert sorted(statuses) == [200] + [429] * 49


def test_a_websocket_event_crosses_workers(two_workers: LiveServer) -> None:
    """Twenty subscribers, spread over both workers by the kernel, all receive the data of a virtual
    device, produced by whichever worker claims its tick."""
    api = f"{two_workers.base}/instathings"
    token = two_workers.instathings_token()
    auth = {"Authorization": f"Bearer {token}"}
    project = httpx.get(f"{api}/device/v1/devices", headers=auth).json()[0]["projectId"]
    url = (
        two_workers.base.replace("http://", "ws://")
        + f"/instathings/ws?project={project}&access_token={token}"
    )
    received: list[set[str]] = [set() for _ in range(20)]
    sockets = [connect(url, open_timeout=10) for _ in received]

    def listen(index: int) -> None:
        try:
            for message in sockets[index]:
                event = json.loads(message)
                if event["action"] == "data":
                    received[index].add(event["payload"]["deviceId"])
        except Exception:  # closed at the end of the test
            return

    threads = [threading.Thread(target=listen, args=(i,), daemon=True) for i in range(len(sockets))]
    for thread in threads:
        thread.start()
    device = httpx.post(
        f"{api}/device/v1/devices",
        json={"name": "probe", "isVirtual": True, "demoActive": True, "frequency": 30},
        headers=auth,
    ).json()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not all(device["id"] in seen for seen in received):
        time.sleep(0.1)
    for socket in sockets:
        socket.close()
    assert all(device["id"] in seen for seen in received), [len(seen) for seen in received]


def _awt_token(base: str, awt: dict[str, Any]) -> str:
    response = httpx.post(
        f"{base}/awt/v2/token",
        headers={"X-API-KEY": awt["api_key"], "Authorization": basic(awt["username"], awt["password"])},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def _holders() -> dict[str, str]:
    async def read() -> dict[str, str]:
        connection = await asyncpg.connect(DATABASE["url"].replace("+asyncpg", ""))
        try:
            rows = await connection.fetch(
                "SELECT name, holder FROM leases WHERE expires_us > $1", int(time.time() * 1e6)
            )
        finally:
            await connection.close()
        return {row["name"]: row["holder"] for row in rows}

    return asyncio.run(read())


def test_a_singleton_job_moves_when_its_worker_is_killed(two_workers: LiveServer) -> None:
    """Demo data, retention and command expiry are each done by one worker, under a lease; SIGKILL that
    worker and another takes the work over within seconds."""
    holders = _holders()
    assert set(holders) == {"demo data", "retention", "command expiry"}
    pids = {int(holder.split(":")[1]) for holder in holders.values()}
    assert pids <= _workers_seen(two_workers.base)
    victim = int(holders["retention"].split(":")[1])
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        now = _holders()
        if "retention" in now and int(now["retention"].split(":")[1]) != victim:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"the retention lease did not move from worker {victim}: {_holders()}")


def test_metrics_and_readiness_speak_for_every_worker(two_workers: LiveServer) -> None:
    seen = _workers_seen(two_workers.base, tries=30)
    assert len(seen) == 2
    for _ in range(4):  # whichever worker answers sums all of them
        text = httpx.get(f"{two_workers.base}/metrics").text
        counted = sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("fieldstation_http_requests_total{") and 'route="healthz"' in line
        )
        assert counted >= 30
    ready = httpx.get(f"{two_workers.base}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"store": "ok", "redis": "ok"}


def _stored_uids() -> set[str]:
    async def read() -> set[str]:
        connection = await asyncpg.connect(DATABASE["url"].replace("+asyncpg", ""))
        try:
            return {row["uid"] for row in await connection.fetch("SELECT uid FROM readings")}
        finally:
            await connection.close()

    return asyncio.run(read())


def test_nothing_acknowledged_is_lost_when_a_worker_is_killed_under_load(two_workers: LiveServer) -> None:
    """Sixteen uplink streams over both workers; one worker is SIGKILLed after 200 uplinks got their 201.
    Its open requests fail (never acknowledged), the other worker goes on, the supervisor starts a new one:
    every uplink that got a 201 is in the database."""
    awt = two_workers.demo_credentials()["awt"]
    eui = "70B3D5499A0C0001"
    two_workers.cli("device", "add", "--project", "demo", "--tag-id", "64001", "--eui", eui)
    headers = {"X-API-KEY": awt["api_key"], "Authorization": basic(awt["username"], awt["password"])}
    victim = next(iter(_workers_seen(two_workers.base)))
    acknowledged: list[str] = []
    failed = 0

    async def load() -> None:
        nonlocal failed
        limits = httpx.Limits(max_connections=16)
        async with httpx.AsyncClient(
            base_url=two_workers.base, headers=headers, timeout=10, limits=limits
        ) as client:
            semaphore = asyncio.Semaphore(16)

            async def one(n: int) -> None:
                nonlocal failed
                async with semaphore:
                    try:
                        response = await client.post("/awt/v2/ttn-webhook", content=ttn_uplink(eui, 64001, n))
                    except httpx.HTTPError:
                        failed += 1
                        return
                    if response.status_code == 201:
                        acknowledged.append(response.json()["recordId"])
                        if len(acknowledged) == 200:
                            os.kill(victim, signal.SIGKILL)

            await asyncio.gather(*(one(n) for n in range(1, 1_501)))

    asyncio.run(load())
    assert len(acknowledged) >= 200, "the load reached the kill"
    assert victim not in _workers_seen(two_workers.base), "the killed worker was replaced"
    missing = set(acknowledged) - _stored_uids()
    assert not missing, (
        f"{len(missing)} of {len(acknowledged)} acknowledged uplinks were lost ({failed} failed)"
    )
