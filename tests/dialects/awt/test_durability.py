"""Against a real server process: concurrent duplicates are stored once, and an uplink that got 201 is there
after the server is killed with SIGKILL and started again."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from fieldstation.codecs import awt_frame
from tests.conftest import LiveServer, start_server

pytestmark = pytest.mark.live
EUI = "04C46100008F2C4F"


def cli(data_dir: Path, *args: str) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "fieldstation", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    return run.stdout


@pytest.fixture
def prepared(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    data_dir = tmp_path / "data"
    credentials = json.loads(cli(data_dir, "project", "create", "field", "--json"))["awt"]
    cli(data_dir, "device", "add", "--project", "field", "--tag-id", "1337", "--eui", EUI)
    return data_dir, credentials


def headers(credentials: dict[str, str]) -> dict[str, str]:
    secret = base64.b64encode(f"{credentials['username']}:{credentials['password']}".encode()).decode()
    return {"X-API-KEY": credentials["api_key"], "Authorization": f"Basic {secret}"}


def body(n: int) -> dict[str, Any]:
    frame = awt_frame.encode(
        tag_id=1337, fix_time=1_789_000_000 + n, latitude=-24.0, longitude=31.5, voltage=3.8
    )
    return {
        "end_device_ids": {"dev_eui": EUI},
        "uplink_message": {"f_cnt": n, "frm_payload": base64.b64encode(frame).decode()},
    }


def stored_uids(data_dir: Path) -> set[str]:
    with sqlite3.connect(data_dir / "fieldstation.db") as db:
        return {row[0] for row in db.execute("SELECT uid FROM readings")}


def uplink_count(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "fieldstation.db") as db:
        return int(db.execute("SELECT count(*) FROM uplinks").fetchone()[0])


def stop(server: LiveServer) -> None:
    server.process.terminate()
    server.process.wait(timeout=10)


def test_concurrent_duplicates_are_stored_once(prepared: tuple[Path, dict[str, str]]) -> None:
    data_dir, credentials = prepared
    server = start_server(data_dir, "--no-demo")
    try:

        async def fire() -> list[httpx.Response]:
            async with httpx.AsyncClient(
                base_url=server.base, headers=headers(credentials), timeout=30
            ) as client:
                return await asyncio.gather(
                    *[client.post("/awt/v2/ttn-webhook", json=body(1)) for _ in range(40)]
                )

        responses = asyncio.run(fire())
    finally:
        stop(server)
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["recordId"] for r in responses}) == 1
    assert sum(not r.json()["duplicate"] for r in responses) == 1
    assert uplink_count(data_dir) == 1


def test_acknowledged_uplinks_survive_sigkill(prepared: tuple[Path, dict[str, str]]) -> None:
    data_dir, credentials = prepared
    server = start_server(data_dir, "--no-demo")
    acknowledged: list[str] = []

    async def fire() -> None:
        async with httpx.AsyncClient(
            base_url=server.base, headers=headers(credentials), timeout=10
        ) as client:
            semaphore = asyncio.Semaphore(16)

            async def one(n: int) -> None:
                async with semaphore:
                    try:
                        response = await client.post("/awt/v2/ttn-webhook", json=body(n))
                    except httpx.HTTPError:
                        return
                    if response.status_code == 201:
                        acknowledged.append(response.json()["recordId"])
                    if len(acknowledged) == 200:
                        server.process.send_signal(signal.SIGKILL)

            await asyncio.gather(*[one(n) for n in range(2_000)])

    asyncio.run(fire())
    server.process.wait(timeout=10)
    assert server.process.returncode == -signal.SIGKILL
    assert 200 <= len(acknowledged) < 2_000, "the kill landed mid-stream"
    restarted = start_server(data_dir, "--no-demo")
    stop(restarted)
    missing = set(acknowledged) - stored_uids(data_dir)
    assert not missing, f"{len(missing)} acknowledged uplinks were lost"
