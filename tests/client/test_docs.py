"""The examples of docs/client.md, run as they are written against a live hub: only the address and the
credentials file are the test's (the credentials fresh, so that no other test has spent their limits)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer, basic, ttn_uplink

DOC = Path(__file__).parents[2] / "docs" / "client.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)


def test_the_doc_has_its_examples() -> None:
    assert len(EXAMPLES) == 5


@pytest.mark.parametrize("number", range(len(EXAMPLES)))
def test_example_runs(live_server: LiveServer, tmp_path: Path, number: int) -> None:
    credentials = live_server.demo_credentials()
    fresh = live_server.cli("credential", "create", "--project", "demo", "--kind", "awt")
    credentials["awt"] = {k: fresh[k] for k in ("api_key", "username", "password")}
    (tmp_path / "fieldstation-data").mkdir()
    (tmp_path / "fieldstation-data" / "demo-credentials.json").write_text(json.dumps(credentials))
    code = EXAMPLES[number].replace("http://127.0.0.1:8000", live_server.base)
    example = subprocess.Popen(
        [sys.executable, "-c", code], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    if "client.events(" in code:  # it prints the next event: make one
        awt = live_server.demo_credentials()["awt"]
        headers = {"X-API-KEY": awt["api_key"], "Authorization": basic(awt["username"], awt["password"])}
        deadline = time.monotonic() + 30
        n = 0
        while example.poll() is None and time.monotonic() < deadline:
            n += 1
            body = ttn_uplink("A0C9B00000794AB6", 1338, 800_000 + n)
            httpx.post(f"{live_server.base}/awt/v2/ttn-webhook", content=body, headers=headers)
            time.sleep(0.3)
    out, err = example.communicate(timeout=60)
    assert example.returncode == 0, err
    assert out.strip()
