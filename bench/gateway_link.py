"""Records from a gateway over MQTT, committed in the hub's store (issue 12).

A throwaway Mosquitto with TLS and client certificates (`fieldstation mqtt mosquitto-config`), the hub
(`fieldstation serve`, SQLite) pointed at it, one gateway of a live project. Three measures, one run:

1. Ceiling: the same messages (batches of 500 records, as the agent sends them) through the broker alone,
   from one aiomqtt client to another (QoS 1, the same library the agent and the hub use).
2. Drain: an outbox of 100,000 records (made while the hub was unreachable) sent by the agent, in
   process here, until the hub has acknowledged the last: records per second, and the time it took.
3. Live: records produced at a steady rate; from the record's making to its `data` event on the hub's
   WebSocket (so after its commit): p50 and p99.

Targets (issue 12): at least 20,000 records a second committed through Mosquitto; a 100,000-record outbox
drained in under 10 s; at least half of the broker-alone rate for the same messages.

    python -m bench.gateway_link [--records 100000] [--rate 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import orjson
from websockets.asyncio.client import connect

from bench.common import Server, free_port
from fieldstation.gateway.agent import Agent
from fieldstation.gateway.config import AgentConfig, load, unpack_bundle, with_overrides
from fieldstation.gateway.link import BATCH_RECORDS
from fieldstation.gateway.outbox import AgentStore

PAYLOAD = {"temperature": 21.5, "humidity": 40, "battery": 3.61}
GATEWAY_TYPE = "4023bd5d-9f88-4761-97c2-0e682aef5437"
VIRTUAL_TYPE = "5f0d7b9a-0c1e-4d2f-9a3b-4c5d6e7f8a9b"
RECORDS_TARGET, DRAIN_TARGET_S, CEILING_SHARE = 20_000, 10.0, 0.5


def cli(data_dir: Path, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "fieldstation", *args, "--data-dir", str(data_dir)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


def tls(folder: Path, certificate: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(folder / "ca.pem"))
    context.load_cert_chain(str(folder / certificate), str(folder / key))
    return context


async def broker_alone(port: int, files: Path, messages: int, body: bytes) -> float:
    """Records a second through the broker alone: one client publishes the batches (QoS 1, pipelined as
    the agent does), another receives them all."""
    received = asyncio.Event()
    async with aiomqtt.Client(
        "127.0.0.1", port, identifier="ceiling-in", tls_context=tls(files, "hub.pem", "hub.key")
    ) as sink:
        await sink.subscribe("ceiling/#", qos=1)

        async def drain() -> None:
            count = 0
            async for _ in sink.messages:
                count += 1
                if count == messages:
                    received.set()
                    return

        reader = asyncio.create_task(drain())
        async with aiomqtt.Client(
            "127.0.0.1",
            port,
            identifier="ceiling-out",
            tls_context=tls(files, "hub.pem", "hub.key"),
            max_inflight_messages=32,
        ) as source:
            start = time.perf_counter()
            window = asyncio.Semaphore(8)

            async def one() -> None:
                async with window:
                    await source.publish("ceiling/batch", body, qos=1)

            await asyncio.gather(*(one() for _ in range(messages)))
            await received.wait()
            elapsed = time.perf_counter() - start
        reader.cancel()
    return messages * BATCH_RECORDS / elapsed


@dataclass
class Scene:
    broker: subprocess.Popen[bytes]
    broker_port: int
    server: Server
    files: Path
    token: str
    project: str
    probe: str
    config: AgentConfig
    http: httpx.Client

    def close(self) -> None:
        self.server.stop()
        self.broker.kill()


def prepare(root: Path, records: int) -> Scene:
    """The broker, the hub, a live project's gateway and its bundle, and an outbox of `records` records made
    while the hub was out of reach."""
    data_dir = root / "hub"
    data_dir.mkdir(parents=True)
    port = free_port()
    (root / "mosquitto.conf").write_text(
        cli(data_dir, "mqtt", "mosquitto-config", "--port", str(port), "--host", "127.0.0.1")
    )
    broker = subprocess.Popen(
        ["mosquitto", "-c", str(root / "mosquitto.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    created = json.loads(cli(data_dir, "project", "create", "bench", "--json"))
    cli(data_dir, "project", "configure", "bench", "--instathings-env", "live")
    server = Server(data_dir, env={"FIELDSTATION_MQTT_URL": f"mqtts://127.0.0.1:{port}"})
    api = f"http://127.0.0.1:{server.port}/instathings"
    secret = created["instathings"]
    token = httpx.post(
        f"{api}/authentication/v1/oauth/token",
        json={"clientId": secret["client_id"], "clientSecret": secret["client_secret"]},
    ).json()["access_token"]
    http = httpx.Client(base_url=api, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    gateway = http.post(
        "/device/v1/devices", json={"name": "gw", "isGateway": True, "type": GATEWAY_TYPE}
    ).json()
    probe = http.post(
        "/device/v1/devices",
        json={
            "name": "probe",
            "type": VIRTUAL_TYPE,
            "parentDevice": gateway["id"],
            "parameters": {"frequency": 86400},
        },
    ).json()
    bundle = root / "gw.zip"
    bundle.write_bytes(http.post(f"/devices/{gateway['id']}/credentials/certificate").content)
    config = with_overrides(load(unpack_bundle(bundle, root / "gw")), data_dir=root / "agent")
    store = AgentStore(config.data_dir, config.outbox_max_records)
    store.add((probe["id"], PAYLOAD | {"n": n}, None) for n in range(records))
    store.close()
    return Scene(
        broker, port, server, data_dir / "mqtt", token, gateway["projectId"], probe["id"], config, http
    )


async def measure(scene: Scene, options: argparse.Namespace) -> dict[str, Any]:
    sample = orjson.dumps(
        {
            "batch": 1,
            "first": 1,
            "records": [
                {"id": "0" * 36, "deviceId": scene.probe, "ts": 0, "payload": PAYLOAD | {"n": n}}
                for n in range(BATCH_RECORDS)
            ],
        }
    )
    ceiling = await broker_alone(
        scene.broker_port, scene.files, max(20, options.records // BATCH_RECORDS), sample
    )
    # For scale: one record a message (a gateway that does not batch), QoS 1, through the broker alone.
    single = orjson.dumps({"id": "0" * 36, "deviceId": scene.probe, "ts": 0, "payload": PAYLOAD})
    per_record = await broker_alone(scene.broker_port, scene.files, 5_000, single) / BATCH_RECORDS

    agent = Agent(scene.config)
    running = asyncio.create_task(agent.run())
    start = time.perf_counter()
    while agent.store.pending:  # noqa: ASYNC110 (polling the agent's own count is the measurement)
        await asyncio.sleep(0.05)
    drain_s = time.perf_counter() - start

    latencies: list[float] = []
    ws = f"ws://127.0.0.1:{scene.server.port}/instathings/ws?project={scene.project}&access_token={scene.token}"
    async with connect(ws) as socket:

        async def listen() -> None:
            async for message in socket:
                event = json.loads(message)
                if event["action"] == "data" and "sent" in event["payload"]["data"]:
                    latencies.append(time.time() - event["payload"]["data"]["sent"])

        listener = asyncio.create_task(listen())
        # A source at a steady rate, which does not wait for one record to be kept before making the next.
        producing: set[asyncio.Task[None]] = set()
        start_live, sent = time.monotonic(), 0
        while (elapsed := time.monotonic() - start_live) < options.live_s:
            while sent < elapsed * options.rate:
                task = asyncio.create_task(agent.record(scene.probe, {"sent": time.time()}))
                producing.add(task)
                task.add_done_callback(producing.discard)
                sent += 1
            await asyncio.sleep(0.001)
        await asyncio.sleep(2)
        listener.cancel()
    await agent.stop(running)
    latencies.sort()
    return {
        "records": options.records,
        "drain_s": round(drain_s, 2),
        "records_per_s": round(options.records / drain_s),
        "broker_alone_records_per_s": round(ceiling),
        "share_of_broker_alone": round(options.records / drain_s / ceiling, 2),
        "broker_alone_one_record_a_message_per_s": round(per_record),
        "live_rate": options.rate,
        "live_sent": sent,
        "live_delivered": len(latencies),
        "live_p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "live_p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000, 1)
        if latencies
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1_000, help="records a second in the live phase")
    parser.add_argument("--live-s", type=float, default=10.0)
    options = parser.parse_args()
    if shutil.which("mosquitto") is None:
        sys.exit("Mosquitto is needed (Debian: apt install mosquitto)")
    with tempfile.TemporaryDirectory(prefix="fieldstation-bench-") as root:
        scene = prepare(Path(root), options.records)
        try:
            result = asyncio.run(measure(scene, options))
            result["committed"] = scene.http.get(
                f"/device/v1/devices/{scene.probe}/data", params={"perPage": 1}
            ).json()["totalItems"]
        finally:
            scene.close()
    print(json.dumps(result, indent=2))
    verdicts = {
        f"records/s >= {RECORDS_TARGET:,} ({result['records_per_s']:,})": result["records_per_s"]
        >= RECORDS_TARGET,
        f"100,000-record outbox drained in < {DRAIN_TARGET_S:g} s ({result['drain_s']} s)": result["drain_s"]
        < DRAIN_TARGET_S,
        f">= {CEILING_SHARE} of the broker alone ({result['share_of_broker_alone']})": result[
            "share_of_broker_alone"
        ]
        >= CEILING_SHARE,
        f"every record committed ({result['committed']:,} of {result['records']:,})": result["committed"]
        >= result["records"],
    }
    for what, ok in verdicts.items():
        print(f"{'PASS' if ok else 'FAIL'}  {what}")


if __name__ == "__main__":
    main()
