"""Live subscribers against ingest: TTN uplinks posted as fast as the hub takes them (the load of
`bench.ingest`), first with no Instathings WebSocket subscriber, then with 1, 10 and 100 on the same project.

    .venv/bin/python -m bench.realtime [--seconds 15] [--connections 64] [--subscribers 1,10,100]

For each run: committed uplinks per second and their share of the rate without subscribers (the ceiling,
measured in the same run), and the fraction of committed uplinks every subscriber received. The
subscribers run in a process of their own. Target (issue 11): with 100 subscribers, at least 90 % of the
rate without them, and every event delivered.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import shutil
import time
from pathlib import Path
from typing import Any

from bench.common import CACHE, Server
from bench.ingest import TAGS, measure
from fieldstation.assembly import close_hub, open_hub
from fieldstation.config import Settings
from fieldstation.core.models import CredentialKind, NewDevice

TARGET_SHARE = 0.90
SETTLE_S = 2.0
"""After the load stops, how long subscribers may take to receive the last events."""


async def prepare(data_dir: Path) -> dict[str, str]:
    hub = await open_hub(Settings(data_dir=data_dir, demo=False))
    try:
        created = await hub.projects.create("realtime")
        for n in range(1, TAGS + 1):
            await hub.devices.add(
                created.project, NewDevice(name=f"tag {n}", tag_id=n, eui=f"{n:016X}", software_version=70)
            )
        awt = created.credentials[CredentialKind.AWT]
        instathings = created.credentials[CredentialKind.INSTATHINGS]
        return {
            "api_key": awt.api_key,
            "username": awt.credential.username or "",
            "password": awt.password or "",
            "project": created.project.short_id,
            "client_id": instathings.credential.username or "",
            "client_secret": instathings.api_key,
        }
    finally:
        await close_hub(hub)


def subscriber_process(url: str, count: int, seconds: float, ready: Any, out: Any) -> None:
    """Runs in its own process: `count` WebSocket subscribers, each counting the data events it receives."""
    import uvloop
    import websockets

    async def main() -> list[int]:
        received = [0] * count
        sockets = [await websockets.connect(url, max_size=2**20, compression=None) for _ in range(count)]

        async def read(index: int, socket: Any) -> None:
            try:
                async for message in socket:
                    if b'"action":"data"' in (message if isinstance(message, bytes) else message.encode()):
                        received[index] += 1
            except websockets.ConnectionClosed:
                pass

        readers = [asyncio.create_task(read(i, s)) for i, s in enumerate(sockets)]
        ready.set()
        await asyncio.sleep(seconds + SETTLE_S)
        for socket in sockets:
            await socket.close()
        await asyncio.gather(*readers, return_exceptions=True)
        return received

    out.put(uvloop.run(main()))


RUN_SPACING = 10_000_000
"""Each run's uplinks start this far from the previous run's: new uplinks, never repeats of earlier ones."""


def run_with_subscribers(
    server: Server, credentials: dict[str, str], count: int, seconds: float, connections: int, first: int
) -> dict[str, Any]:
    import httpx

    token = httpx.post(
        f"http://127.0.0.1:{server.port}/instathings/authentication/v1/oauth/token",
        json={"clientId": credentials["client_id"], "clientSecret": credentials["client_secret"]},
    ).json()["access_token"]
    url = f"ws://127.0.0.1:{server.port}/instathings/ws?project={credentials['project']}&access_token={token}"
    ready = multiprocessing.Event()
    out: Any = multiprocessing.Queue()
    process = multiprocessing.Process(target=subscriber_process, args=(url, count, seconds, ready, out))
    process.start()
    ready.wait(60)
    uplinks = measure(server, "uplinks", _headers(credentials), seconds, connections, first)
    received: list[int] = out.get(timeout=seconds + 120)
    process.join()
    committed = uplinks["ok"]
    return {
        "subscribers": count,
        "uplinks_per_second": uplinks["per_second"],
        "p99_ms": uplinks["p99_ms"],
        "delivered_fraction_min": round(min(received) / committed, 4) if committed else 0.0,
        "delivered_fraction_mean": round(sum(received) / len(received) / committed, 4) if committed else 0.0,
    }


def _headers(credentials: dict[str, str]) -> dict[str, str]:
    secret = base64.b64encode(f"{credentials['username']}:{credentials['password']}".encode()).decode()
    return {
        "X-API-KEY": credentials["api_key"],
        "Authorization": f"Basic {secret}",
        "Content-Type": "application/json",
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--subscribers", default="1,10,100", help="Comma-separated subscriber counts.")
    options = parser.parse_args()
    counts = [int(n) for n in options.subscribers.split(",") if n.strip()]
    data_dir = CACHE / "realtime"
    shutil.rmtree(data_dir, ignore_errors=True)
    credentials = asyncio.run(prepare(data_dir))
    server = Server(data_dir)
    try:
        alone = measure(server, "uplinks", _headers(credentials), options.seconds, options.connections)
        runs = []
        for index, count in enumerate(counts, start=1):
            time.sleep(1)
            first = index * RUN_SPACING
            runs.append(
                run_with_subscribers(server, credentials, count, options.seconds, options.connections, first)
            )
    finally:
        server.stop()
    for run in runs:
        run["share_of_rate_without"] = round(run["uplinks_per_second"] / alone["per_second"], 3)
    print(
        json.dumps(
            {"without_subscribers": alone["per_second"], "p99_ms": alone["p99_ms"], "runs": runs}, indent=2
        )
    )
    largest = max(runs, key=lambda run: run["subscribers"]) if runs else None
    if largest is not None:
        verdicts = {
            f"with {largest['subscribers']} subscribers, >= {TARGET_SHARE:.0%} of the rate without": (
                largest["share_of_rate_without"] >= TARGET_SHARE
            ),
            f"with {largest['subscribers']} subscribers, every event delivered": largest[
                "delivered_fraction_min"
            ]
            >= 1.0,
        }
        for name, ok in verdicts.items():
            print(f"{'PASS' if ok else 'FAIL'}  {name}")


if __name__ == "__main__":
    main()
