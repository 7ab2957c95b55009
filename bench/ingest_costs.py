"""Where an uplink's CPU goes, by layer: the per-uplink cost table of docs/performance.md.

    .venv/bin/python -m bench.ingest_costs [--seconds 20] [--connections 128]

Runs the load of `bench.ingest` against `fieldstation serve` and, over the middle of the run, reads the CPU
time of every thread of the hub and of its writer process (/proc), and samples the event loop's thread with
py-spy in GIL mode (only the thread that holds the GIL is sampled, so the samples are its Python time).
Each sample is charged to the innermost frame that belongs to a layer (the standard library's work to its
caller). A layer's cost per uplink is its share of the samples times the main thread's CPU per uplink;
the other threads and the writer process are reported as they are. To measure an older commit, put its
`src` first on PYTHONPATH: `PYTHONPATH=/path/to/old/src:. .venv/bin/python -m bench.ingest_costs`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from bench.common import CACHE, Server, process_tree
from bench.ingest import measure, prepare, webhook_headers

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("front door: proxy headers, size guard, connection deadlines",
     ("uvicorn/middleware/", "fieldstation/http/")),
    ("HTTP server: uvicorn's protocol, request and response", ("uvicorn/",)),
    ("framework objects (Starlette, FastAPI)", ("starlette/", "fastapi/")),
    ("authentication and cached look-ups",
     ("fieldstation/core/auth", "fieldstation/core/cache", "fieldstation/core/freshness",
      "fieldstation/store/change_signal", "fieldstation/core/projects", "fieldstation/core/devices")),
    ("parsing the network server's body", ("fieldstation/networks/",)),
    ("decoding the frame, rendering the views",
     ("fieldstation/codecs/", "fieldstation/dialects/", "fieldstation/core/ids")),
    ("webhook handler", ("fieldstation/intake/",)),
    ("group commit: queue, batch, hand-off to the writer",
     ("fieldstation/core/ingest", "fieldstation/store/", "sqlalchemy/", "aiosqlite/")),
)  # fmt: skip
EVENT_LOOP = "event loop (asyncio, uvloop callbacks)"


def layer_of(stack: list[str]) -> str:
    for frame in reversed(stack):
        path = frame.rpartition("(")[2]
        for layer, prefixes in LAYERS:
            if any(prefix in path for prefix in prefixes):
                return layer
    return EVENT_LOOP


def thread_cpu(root: int) -> dict[tuple[int, str], float]:
    """(process, thread name) -> CPU seconds so far, for the hub and its children."""
    tick = os.sysconf("SC_CLK_TCK")
    cpu: dict[tuple[int, str], float] = {}
    for pid in process_tree(root):
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                stat = (task / "stat").read_text()
            except OSError:
                continue
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat.rsplit(")", 1)[1].split()
            key = (pid, "main" if task.name == str(pid) else name)
            cpu[key] = cpu.get(key, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=128)
    options = parser.parse_args()
    data_dir = CACHE / "ingest-costs"
    shutil.rmtree(data_dir, ignore_errors=True)
    headers = webhook_headers(asyncio.run(prepare(data_dir)))
    server = Server(data_dir)
    window = options.seconds / 2
    raw = Path(tempfile.mkdtemp()) / "samples.txt"
    spy = [str(Path(sys.executable).with_name("py-spy")), "record", "--gil", "--threads", "--nonblocking",
           "--rate", "250", "--format", "raw", "--pid", str(server.process.pid),
           "--duration", str(int(window)), "-o", str(raw)]  # fmt: skip
    cpu: dict[str, dict[tuple[int, str], float]] = {}

    def observe() -> None:
        time.sleep(options.seconds / 4)
        cpu["before"] = thread_cpu(server.process.pid)
        subprocess.run(spy, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        cpu["after"] = thread_cpu(server.process.pid)

    observer = threading.Thread(target=observe)
    try:
        observer.start()
        result = measure(server, "uplinks", headers, options.seconds, options.connections)
        observer.join()
    finally:
        server.stop()
    rate = result["per_second"]
    spent = {key: cpu["after"][key] - cpu["before"].get(key, 0.0) for key in cpu["after"]}
    samples: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if frames and "MainThread" in frames[0]:
            samples[layer_of(frames[1:])] += int(count)
    main_us = spent.get((server.process.pid, "main"), 0.0) / window / rate * 1e6
    total = sum(samples.values()) or 1
    print(f"{rate} uplinks/s committed (p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms); "
          f"{total} GIL samples of the event loop's thread\n")  # fmt: skip
    print("| where | µs per uplink | share of the loop thread |")
    print("|---|---|---|")
    for layer, share in samples.most_common():
        print(f"| {layer} | {main_us * share / total:.0f} | {share / total:.0%} |")
    print(f"| **event loop's thread, all** | **{main_us:.0f}** | |")
    for (pid, name), seconds in sorted(spent.items()):
        if (pid, name) != (server.process.pid, "main") and seconds > 0.01 * window:
            where = "hub" if pid == server.process.pid else "writer process"
            print(f"| {where}: thread {name} | {seconds / window / rate * 1e6:.0f} | |")


if __name__ == "__main__":
    main()
