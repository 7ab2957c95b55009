"""The seed's own Python example and curl lines, run unchanged against a live server but for the base URL
and the credentials. The example file is checked word for word against the seed."""

from __future__ import annotations

import base64
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GOLDEN, LiveServer

pytestmark = pytest.mark.live

SEED = (GOLDEN / "seeds" / "001_2a6442074f455a84.txt").read_text()
EXAMPLE = GOLDEN / "examples" / "awt_python_example.py"
VENDOR_BASE = "https://api-next.africawildlifetracking.com/v2"


def _words(text: str) -> list[str]:
    return text.split()


def test_example_file_is_the_seeds_code_word_for_word() -> None:
    start = SEED.index("import requests import base64")
    end = SEED.index("JavaScript / Node.js")
    seed_code = SEED[start:end].replace("Get Latest Tracking Data", "")
    assert _words(EXAMPLE.read_text()) == _words(seed_code)


def _configured_example(server: LiveServer, credentials: dict[str, Any], path: Path) -> Path:
    code = EXAMPLE.read_text()
    for name, value in (
        ("API_KEY", credentials["api_key"]),
        ("USERNAME", credentials["username"]),
        ("PASSWORD", credentials["password"]),
        ("BASE_URL", f"{server.base}/awt/v2"),
    ):
        code, count = re.subn(rf'^{name} = ".*"$', f'{name} = "{value}"', code, flags=re.M)
        assert count == 1
    path.write_text(code)
    return path


def test_seed_python_example_prints_demo_tags_and_latest_data(
    live_server: LiveServer, tmp_path: Path
) -> None:
    credentials = live_server.demo_credentials()["awt"]
    script = _configured_example(live_server, credentials, tmp_path / "example.py")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "Found 5 devices:"
    assert "  - Tag ID: 1337, Type: LoRA" in lines
    received = re.fullmatch(r"Received (\d+) readings", lines[-1])
    assert received is not None
    assert int(received.group(1)) >= 5 * 20, "a day of hourly fixes from five tags"


def _seed_curl_lines() -> list[str]:
    """Every curl command of the seed, as written (line continuations folded)."""
    return [line.replace(" \\ ", " ").strip() for line in re.findall(r"curl -X [^\n]+", SEED)]


def _run_curl(line: str, server: LiveServer, credentials: dict[str, str], token: str = "") -> Any:
    basic = base64.b64encode(f"{credentials['username']}:{credentials['password']}".encode()).decode()
    line = (
        line.replace(VENDOR_BASE, f"{server.base}/awt/v2")
        .replace("your_api_key_here", credentials["api_key"])
        .replace("'username:password'", shlex.quote(f"{credentials['username']}:{credentials['password']}"))
        .replace("dXNlcm5hbWU6cGFzc3dvcmQ=", basic)
        .replace("YOUR_TOKEN_HERE", token)
    )
    run = subprocess.run(
        ["bash", "-c", line + " -s -w '\\n%{http_code}'"], capture_output=True, text=True, timeout=30
    )
    body, status = run.stdout.rsplit("\n", 1)
    return int(status), json.loads(body)


def test_seed_curl_lines(live_server: LiveServer) -> None:
    credentials = live_server.cli("project", "create", "curl-seed", "--demo")["awt"]
    lines = _seed_curl_lines()
    assert len(lines) == 4, lines  # the token example, then the cURL section's three
    status, body = _run_curl(lines[1], live_server, credentials)
    assert status == 200, body
    token = body["token"]
    assert body["token_type"] == "Bearer"
    status, body = _run_curl(lines[2], live_server, credentials, token)
    assert status == 200
    assert len(body) >= 5 * 20
    status, body = _run_curl(lines[3], live_server, credentials, token)
    assert status == 200
    assert body == []  # the seed asks for January 2021; the demo tags were fitted a week ago
    # The first line (the Authentication section's) again, now rate limited: one token a minute.
    status, body = _run_curl(lines[0], live_server, credentials)
    assert status == 429
    assert body == {"error": "Rate limit reached - request rejected."}
