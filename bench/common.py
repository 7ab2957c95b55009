"""What the benchmarks share: a server process on a prepared data dir, its memory, and timing helpers."""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fieldstation.dialects.awt.rate_limits import RATE_POLICY

ROOT = Path(__file__).resolve().parent
CACHE = ROOT / ".cache"


def add_store_options(parser: argparse.ArgumentParser) -> None:
    """--database-url, --redis-url and --workers: the hub as production runs it (docs/operations.md)."""
    parser.add_argument("--database-url", help="PostgreSQL instead of SQLite: postgresql+asyncpg://...")
    parser.add_argument("--redis-url", help="Redis, with --workers above 1")
    parser.add_argument("--workers", type=int, default=1)


def store_server_options(options: argparse.Namespace) -> tuple[dict[str, str], tuple[str, ...]]:
    """The environment and the `serve` arguments of `add_store_options`' choices."""
    env = {
        name: value
        for name, value in (
            ("FIELDSTATION_DATABASE_URL", options.database_url),
            ("FIELDSTATION_REDIS_URL", options.redis_url),
        )
        if value
    }
    args = ("--workers", str(options.workers), "--mqtt-port", "0") if options.workers > 1 else ()
    return env, args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`fieldstation serve` in its own process, rate limits lifted: the benchmark measures work, not waits.
    With `command`, another server module instead (the bare-ASGI ceiling)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
        args: tuple[str, ...] = (),
        demo: bool = False,
    ) -> None:
        self.args = args
        self.port = free_port()
        limits = json.dumps(dict.fromkeys(RATE_POLICY, 0))
        if command is None:
            command = [
                "fieldstation",
                "serve",
                "--demo" if demo else "--no-demo",
                "--port",
                str(self.port),
                "--data-dir",
                str(data_dir),
                *args,
            ]
        else:
            command = [*command, str(self.port)]
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log = data_dir.parent / f"server-{self.port}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", *command],
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "FIELDSTATION_ACCESS_LOG": "0", "FIELDSTATION_LOG_LEVEL": "warning",
                 "FIELDSTATION_RATE_LIMITS": limits, **(env or {})},
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
    ) -> tuple[int, bytes]:
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def serving_pids(self) -> list[int]:
        """The processes that answer requests: the server, or with `--workers` its workers (the first
        process only supervises them)."""
        if "--workers" not in self.args:
            return [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return [int(pid) for pid in children.split()]

    def memory_kib(self) -> dict[int, dict[str, int]]:
        """Per serving process, resident memory now and at its peak (VmRSS, VmHWM)."""
        memory = {}
        for pid in self.serving_pids():
            fields = {}
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    fields[key] = int(value.split()[0])
            memory[pid] = fields
        return memory

    def cpu_seconds(self) -> dict[str, float]:
        """User plus system CPU time so far, all threads, of the server (`serve`) and of each process it
        started, by the module that process runs (the SQLite writer, the gateway link's intake, workers)."""
        tick = os.sysconf("SC_CLK_TCK")
        seconds: dict[str, float] = {}
        for pid in process_tree(self.process.pid):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:  # ended meanwhile
                continue
            name = "serve" if pid == self.process.pid else _module(command)
            seconds[name] = seconds.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
        return seconds

    def reset_peak(self) -> None:
        """Make VmHWM start again from the current RSS (Linux: clear_refs 5), so a peak is the request's."""
        for pid in self.serving_pids():
            Path(f"/proc/{pid}/clear_refs").write_text("5")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def process_tree(pid: int) -> list[int]:
    """The process and its descendants."""
    found = [pid]
    for parent in found:
        with contextlib.suppress(OSError):
            found += [int(c) for c in Path(f"/proc/{parent}/task/{parent}/children").read_text().split()]
    return found


def _module(command: list[bytes]) -> str:
    """What a `python -m MODULE ...` process runs (its command's first word otherwise)."""
    if b"-m" in command[:-1]:
        return command[command.index(b"-m") + 1].decode(errors="replace")
    return Path(command[0].decode(errors="replace")).name


def timed(conn: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> tuple[float, bytes]:
    """Seconds from sending the request to the last byte of the answer, on a kept-alive connection."""
    start = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - start
    if response.status != 200:
        raise RuntimeError(f"{path}: {response.status} {body[:200]!r}")
    return elapsed, body


def summary(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p90_ms": round(ordered[int(len(ordered) * 0.9) - 1 if len(ordered) > 1 else 0] * 1000, 2),
        "min_ms": round(ordered[0] * 1000, 2),
        "runs": len(ordered),
    }
