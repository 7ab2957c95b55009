"""Throwaway instances of real servers (PostgreSQL; later Redis and Mosquitto) on free ports, started from
the machine's binaries. Where a binary is missing the test is skipped, except under CI=true, where that is
a failure: CI must run what the tests claim to check."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_database(server_url: str, name: str, template: str | None = None) -> str:
    """Create database `name` on a throwaway server (a copy of `template` if given); its URL."""
    createdb = _postgres_bin("createdb")
    assert createdb is not None
    host_port = server_url.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    copy = ["-T", template] if template else []
    made = subprocess.run(
        [createdb, "-h", host, "-p", port, "-U", "fieldstation", *copy, name], capture_output=True
    )
    if made.returncode != 0:
        raise RuntimeError(f"createdb {name} failed: {made.stderr.decode()}")
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def missing(what: str) -> None:
    message = f"{what} is not installed on this machine"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}, and CI must run every test")
    pytest.skip(message)


def _postgres_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _as_postgres_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root; a root test run hands the server to the `postgres` account."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yield the asyncpg URL of a new, empty PostgreSQL cluster; remove it afterwards."""
    initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        missing("PostgreSQL (initdb, pg_ctl)")
        raise AssertionError("unreachable")
    root = Path(tempfile.mkdtemp(prefix="fieldstation-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres_user([initdb, "-D", str(data), "-U", "fieldstation", "--auth=trust", "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    subprocess.run(
        _as_postgres_user([pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
    )
    try:
        createdb = _postgres_bin("createdb")
        assert createdb is not None
        deadline = time.monotonic() + 30
        while True:
            made = subprocess.run(
                [createdb, "-h", "127.0.0.1", "-p", str(port), "-U", "fieldstation", "fieldstation"],
                capture_output=True,
            )
            if made.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"createdb failed: {made.stderr.decode()}")
            time.sleep(0.2)
        yield f"postgresql+asyncpg://fieldstation@127.0.0.1:{port}/fieldstation"
    finally:
        subprocess.run(
            _as_postgres_user([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


class Mosquitto:
    """A Mosquitto process of the test's own, from a configuration file; it can be stopped and started
    again on the same port (a broker outage)."""

    def __init__(self, config: Path, port: int) -> None:
        self.config, self.port = config, port
        self.process: subprocess.Popen[bytes] | None = None
        self.log = config.with_suffix(".log")

    def start(self) -> None:
        binary = shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
        )
        if binary is None:
            missing("Mosquitto")
        self.process = subprocess.Popen(
            [str(binary), "-c", str(self.config)], stdout=self.log.open("ab"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text()[-2000:]}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port}: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """Yield the URL of a new Redis on a free port, keeping nothing on disk; stop it afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        missing("Redis (redis-server)")
        raise AssertionError("unreachable")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.kill()
        process.wait()
