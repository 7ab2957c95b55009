"""`fieldstation serve --workers N`: N worker processes, each a whole hub, serving one port (SO_REUSEPORT:
the kernel spreads connections over them). They share the database (PostgreSQL), and through Redis the rate
limits and the event bus; this process only starts them, restarts one that dies, and stops them all."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

from prometheus_client.multiprocess import mark_process_dead

from fieldstation.config import REUSE_PORT_ENV, Settings

log = logging.getLogger("fieldstation")
RESTART_PAUSE_S = 1.0
METRICS_DIR = "metrics"


def refusal(settings: Settings) -> str | None:
    """Why these settings cannot run several workers, in a sentence that says what to set; None if they
    can."""
    if settings.workers <= 1:
        return None
    if not settings.database().startswith("postgresql"):
        return (
            "several workers need PostgreSQL: SQLite is written by one process. Set "
            "FIELDSTATION_DATABASE_URL=postgresql+asyncpg://user@host/db, or run one worker."
        )
    if not settings.redis_url:
        return (
            "several workers need Redis to share rate limits and live events: set "
            "FIELDSTATION_REDIS_URL=redis://host:6379/0, or run one worker."
        )
    if settings.mqtt_url is None and settings.mqtt_port != 0:
        return (
            "the embedded MQTT broker serves one worker: point the workers at Mosquitto with "
            "FIELDSTATION_MQTT_URL (see `fieldstation mqtt mosquitto-config`), or turn it off with "
            "--mqtt-port 0."
        )
    return None


def shared_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _environment(settings: Settings) -> dict[str, str]:
    """The settings as the workers read them: every FIELDSTATION_* variable (the demo project, if any, is
    made by this process before the workers start; they only extend its data, under a lease)."""
    env = dict(os.environ)
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            env.pop(f"FIELDSTATION_{name.upper()}", None)
            continue
        env[f"FIELDSTATION_{name.upper()}"] = (
            json.dumps(value) if isinstance(value, dict | list) else str(value)
        )
    env |= {"FIELDSTATION_WORKERS": "1", REUSE_PORT_ENV: "1"}
    metrics = settings.data_dir.resolve() / METRICS_DIR
    shutil.rmtree(metrics, ignore_errors=True)
    metrics.mkdir(parents=True)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)  # the workers' metrics, summed by whichever is asked
    env["FIELDSTATION_DATA_DIR"] = str(settings.data_dir.resolve())
    return env


def supervise(settings: Settings) -> int:
    """Run `settings.workers` workers until SIGTERM or SIGINT; a worker that dies is started again."""
    env = _environment(settings)
    command = [sys.executable, "-m", "fieldstation", "serve", "--quiet-start"]
    workers = [subprocess.Popen(command, env=env) for _ in range(settings.workers)]
    stopping = False

    def stop(signum: int, _: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        for index, worker in enumerate(workers):
            if worker.poll() is not None and not stopping:
                log.error("worker %s ended (exit %s); starting another", worker.pid, worker.returncode)
                with contextlib.suppress(Exception):
                    mark_process_dead(worker.pid, env["PROMETHEUS_MULTIPROC_DIR"])  # type: ignore[no-untyped-call]
                time.sleep(RESTART_PAUSE_S)
                workers[index] = subprocess.Popen(command, env=env)
        time.sleep(0.2)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    return 0
