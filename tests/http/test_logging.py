"""Secrets that clients must put in URLs stay out of the access log."""

from __future__ import annotations

import logging
import queue
import sys
from pathlib import Path

import httpx
import orjson

from fieldstation.http.connection import RedactSecrets
from fieldstation.logs import JsonFormatter, _Enqueue
from tests.conftest import start_server


def test_access_tokens_are_hidden_in_access_log_lines() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/instathings/ws?project=p1&access_token=abc.def.ghi", "1.1", 101),
        None,
    )
    assert RedactSecrets().filter(record)
    line = record.getMessage()
    assert "abc.def.ghi" not in line
    assert "/instathings/ws?project=p1&access_token=(hidden)" in line
    actility = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, "%s", ("/awt/v2/actility?LrnDevEui=1&Token=f00",), None
    )
    RedactSecrets().filter(actility)
    assert actility.getMessage() == "/awt/v2/actility?LrnDevEui=1&Token=(hidden)"


def test_json_logs_of_a_running_hub(tmp_path: Path) -> None:
    """`--log-format json --access-log`: every line on the hub's output after its banner is a JSON object;
    an access line has its fields, with the URL's secret hidden; the hub's own loggers are written too."""
    server = start_server(tmp_path / "data", "--no-demo", "--log-format", "json", "--access-log")
    try:
        assert httpx.get(f"{server.base}/healthz?access_token=s3cret", timeout=5).status_code == 200
        assert httpx.get(f"{server.base}/awt/v2/no-such-path", timeout=5).status_code == 404
    finally:
        server.process.terminate()
        server.process.wait(timeout=10)
    output = server.log.read_text()
    lines = [orjson.loads(line) for line in output.splitlines() if line.startswith('{"')]  # not the banner's
    access = [line for line in lines if line["logger"] == "uvicorn.access"][-2:]  # after the start-up probes
    assert [(a["method"], a["status"]) for a in access] == [("GET", 200), ("GET", 404)]
    assert "s3cret" not in output and "access_token=" in access[0]["path"]
    assert {"time", "level", "message", "client", "http_version"} <= set(access[0])
    assert any(line["logger"].startswith("fieldstation") for line in lines), lines
    assert all(line["level"] in ("info", "warning", "error") for line in lines)
    # stopped by a signal, which uvicorn raises again once it has shut down: the last records are written
    assert any(line["message"].startswith("hub closed") for line in lines)


def test_a_json_line_carries_the_exception_and_the_callers_fields() -> None:
    """What the writing thread receives is final (message and traceback made where it was logged)."""
    try:
        raise ValueError("the frame is 3 bytes short")
    except ValueError:
        record = logging.LogRecord(
            "fieldstation.ingest", logging.ERROR, __file__, 1, "uplink %s failed", ("x1",), sys.exc_info()
        )
    record.device = 7  # as `extra={"device": 7}` sets it
    prepared = _Enqueue(queue.SimpleQueue()).prepare(record)
    line = orjson.loads(JsonFormatter().format(prepared))
    assert line["message"] == "uplink x1 failed" and line["level"] == "error" and line["device"] == 7
    assert line["logger"] == "fieldstation.ingest" and line["time"].endswith("+00:00")
    assert "ValueError: the frame is 3 bytes short" in line["exception"]
