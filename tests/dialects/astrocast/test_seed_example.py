"""The Astrocast seed's Python example against a live server. The published snippet lost its URL, the
`datetime.utcnow()` before `- timedelta` and its indentation; `golden/examples/astrocast_python_example.py`
restores exactly those, and this test checks that every line of the seed is in it, in order."""

from __future__ import annotations

import base64
import runpy
import warnings
from pathlib import Path

import pytest

from tests.conftest import GOLDEN, LiveServer

pytestmark = pytest.mark.live

SEED = (GOLDEN / "seeds" / "000_d6d716a1be185096.txt").read_text()
EXAMPLE = GOLDEN / "examples" / "astrocast_python_example.py"
VENDOR = "https://api.astrocast.com/v1"


def test_example_holds_every_line_of_the_seed_in_order() -> None:
    seed_code = SEED[SEED.index("import requests, base64") : SEED.index("var apiToken")]
    restored = [line.strip() for line in EXAMPLE.read_text().splitlines() if line.strip()]
    position = 0
    for line in (line.strip() for line in seed_code.splitlines() if line.strip()):
        line = line.replace('requests.get("" +', f'requests.get("{VENDOR}/messages?startReceivedDate=" +')
        line = line.replace(
            "startReceivedDate = - timedelta", "startReceivedDate = datetime.utcnow() - timedelta"
        )
        assert line in restored[position:], line
        position = restored.index(line, position) + 1


def test_seed_example_reads_the_demo_projects_last_hour(
    live_server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = live_server.demo_credentials()["astrocast"]["api_key"]
    code = EXAMPLE.read_text().replace(VENDOR, f"{live_server.base}/astrocast/v1")
    code = code.replace(
        "FVquFITiVsu3RJ6KbkigpOJccmQFUqMwo6ftCaiWoXXvkyutWZ7t3veZmost1nxEO6OUEMiabu0BZn0N1wR3ssB11ohoRX4a",
        key,
    )
    script = tmp_path / "example.py"
    script.write_text(code)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # datetime.utcnow(), deprecated from Python 3.12
        namespace = runpy.run_path(str(script))
    assert capsys.readouterr().out == ""
    messages = namespace["response"].json()
    assert len(messages) >= 5, "one fix an hour from each of the five demo tags"
    assert namespace["payload"] == base64.b64decode(messages[-1]["data"]).hex()
    assert isinstance(namespace["latitude"], float)
