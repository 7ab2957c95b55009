"""The operator CLI: other tools script against it, so its options and JSON are pinned here."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from fieldstation.cli import app
from fieldstation.config import Settings
from fieldstation.core.devices import HUB_TAG_BASE
from tests.conftest import LiveServer


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


def fieldstation(
    data_dir: Path,
    *args: str,
    check: bool = True,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> Ran:
    """The command, run in this process: the options, output and exit codes scripts rely on, without an
    interpreter's start per call (a second and a half each; `test_the_command_runs_as_a_process` keeps
    one real process)."""
    result = CliRunner().invoke(app, [*args, "--data-dir", str(data_dir)], input=stdin, env=env)
    if check and result.exit_code != 0:
        raise AssertionError(f"{args}: exit {result.exit_code}: {result.stderr}{result.exception!r}")
    return Ran(result.exit_code, result.stdout, result.stderr)


def as_json(data_dir: Path, *args: str) -> Any:
    return json.loads(fieldstation(data_dir, *args, "--json").stdout)


def test_project_create_json(tmp_path: Path) -> None:
    out = as_json(tmp_path, "project", "create", "kruger")
    assert set(out) == {"project", "awt", "astrocast", "instathings"}
    assert set(out["instathings"]) == {"project", "client_id", "client_secret"}
    assert set(out["astrocast"]) == {"api_key"}
    assert out["project"]["name"] == "kruger"
    assert len(out["project"]["short_id"]) == 8
    assert out["project"]["demo"] is False
    assert set(out["awt"]) == {"api_key", "username", "password"}
    assert len(out["awt"]["api_key"]) >= 40


def test_secrets_are_stored_hashed(tmp_path: Path) -> None:
    out = as_json(tmp_path, "project", "create", "kruger")
    database = (tmp_path / "fieldstation.db").read_bytes()
    wal = tmp_path / "fieldstation.db-wal"
    stored = database + (wal.read_bytes() if wal.exists() else b"")
    assert out["awt"]["api_key"].encode() not in stored
    assert out["awt"]["password"].encode() not in stored


def test_duplicate_project_is_a_clear_error(tmp_path: Path) -> None:
    fieldstation(tmp_path, "project", "create", "kruger")
    again = fieldstation(tmp_path, "project", "create", "kruger", check=False)
    assert again.returncode == 2
    assert "already exists" in again.stderr


def test_device_add_and_list(tmp_path: Path) -> None:
    fieldstation(tmp_path, "project", "create", "kruger")
    eui = "a0-c9-b0-00-00-79-4a-b5"
    added = as_json(
        tmp_path, "device", "add", "--project", "kruger", "--tag-id", "1337", "--eui", eui,
        "--name", "Tembo", "--asset", "Savannah Elephant",
    )  # fmt: skip
    assert added["eui"] == "A0C9B00000794AB5"
    listed = as_json(tmp_path, "device", "list", "--project", "kruger")
    assert [(d["tag_id"], d["name"], d["asset"]) for d in listed] == [(1337, "Tembo", "Savannah Elephant")]
    table = fieldstation(tmp_path, "device", "list", "--project", "kruger").stdout
    assert "Tembo" in table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["device", "add", "--project", "nope", "--tag-id", "1", "--eui", "0000000000000001"],
            "no project named",
        ),
        (["device", "add", "--project", "kruger", "--tag-id", "1", "--eui", "xyz"], "16 hexadecimal digits"),
        (["project", "create", "bad name!"], "not valid"),
    ],
)
def test_bad_input_says_what_to_do(tmp_path: Path, args: list[str], message: str) -> None:
    fieldstation(tmp_path, "project", "create", "kruger")
    result = fieldstation(tmp_path, *args, check=False)
    assert result.returncode == 2
    assert message in result.stderr


def test_duplicate_tag_is_refused(tmp_path: Path) -> None:
    fieldstation(tmp_path, "project", "create", "kruger")
    args = ["device", "add", "--project", "kruger", "--tag-id", "1", "--eui", "0000000000000001"]
    fieldstation(tmp_path, *args)
    again = fieldstation(tmp_path, *args, check=False)
    assert again.returncode == 2
    assert "already exists" in again.stderr


def test_demo_project_has_a_week_of_hourly_fixes(tmp_path: Path) -> None:
    as_json(tmp_path, "project", "create", "showcase", "--demo")
    devices = as_json(tmp_path, "device", "list", "--project", "showcase")
    assert len(devices) == 5


def test_help_explains_every_command() -> None:
    for args in ([], ["serve"], ["project", "create"], ["device", "add"], ["device", "list"], ["user"]):
        out = CliRunner().invoke(app, [*args, "--help"])
        assert out.exit_code == 0, args
        assert "Usage" in out.stdout


def test_the_configuration_reference_has_every_setting() -> None:
    reference = (Path(__file__).parents[2] / "docs/configuration.md").read_text()
    undocumented = [
        f"FIELDSTATION_{name.upper()}"
        for name in Settings.model_fields
        if f"`FIELDSTATION_{name.upper()}`" not in reference
    ]
    assert undocumented == []


@pytest.mark.parametrize("name", ["header_timeout_s", "body_timeout_s", "send_timeout_s"])
@pytest.mark.parametrize("value", ["0.001", "0", "-5", "inf", "nan", "86401", "1e309"])
def test_connection_deadlines_out_of_range_are_refused(
    name: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep wakes every quarter of the shortest deadline: a millisecond would spin it, inf never cuts."""
    monkeypatch.setenv(f"FIELDSTATION_{name.upper()}", value)
    with pytest.raises(ValidationError, match=name):
        Settings(data_dir=tmp_path)


def test_the_command_runs_as_a_process(tmp_path: Path) -> None:
    """`python -m fieldstation` (what the console script runs), its JSON on stdout and its exit codes."""
    made = subprocess.run(
        [sys.executable, "-m", "fieldstation", "project", "create", "kruger", "--json", "--data-dir", str(tmp_path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert made.returncode == 0 and json.loads(made.stdout)["project"]["name"] == "kruger"
    again = subprocess.run(
        [sys.executable, "-m", "fieldstation", "project", "create", "kruger", "--data-dir", str(tmp_path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert again.returncode == 2 and "already exists" in again.stderr


def test_the_served_hub_settles_its_garbage_collector(live_server: LiveServer) -> None:
    """Once up, `fieldstation serve` freezes what it holds out of the collector's walks (a full collection
    of it paused the event loop; docs/performance.md) and says so."""
    settled = re.search(r"garbage collector settled: (\d+) objects frozen", live_server.log.read_text())
    assert settled, live_server.log.read_text()[-2_000:]
    assert int(settled.group(1)) > 10_000  # the libraries and the app, not a handful


def test_credentials_create_list_revoke(tmp_path: Path) -> None:
    fieldstation(tmp_path, "project", "create", "kruger")
    issued = as_json(tmp_path, "credential", "create", "--project", "kruger", "--kind", "astrocast")
    assert issued["kind"] == "astrocast"
    assert len(issued["api_key"]) >= 40
    listed = as_json(tmp_path, "credential", "list", "--project", "kruger")
    assert [c["kind"] for c in listed] == ["awt", "astrocast", "instathings", "astrocast"]
    assert all("api_key" not in c for c in listed)
    fieldstation(tmp_path, "credential", "revoke", str(issued["id"]))
    revoked = [
        c for c in as_json(tmp_path, "credential", "list", "--project", "kruger") if c["id"] == issued["id"]
    ]
    assert revoked[0]["revoked_at"] is not None
    table = fieldstation(tmp_path, "credential", "list", "--project", "kruger").stdout
    minute = time.strftime("%Y-%m-%d %H:%M", time.gmtime(revoked[0]["revoked_at"]))
    assert minute in table and str(revoked[0]["revoked_at"]) not in table  # times as `user list` shows them
    again = fieldstation(tmp_path, "credential", "revoke", str(issued["id"]), check=False)
    assert again.returncode == 2
    assert "no active credential" in again.stderr


def test_maintenance_and_configure(tmp_path: Path) -> None:
    fieldstation(tmp_path, "project", "create", "kruger")
    assert "Maintenance on for kruger" in fieldstation(tmp_path, "maintenance", "on").stdout
    configured = as_json(tmp_path, "project", "configure", "kruger", "--astrocast-callback-secret", "s3")
    assert configured["settings"] == {"maintenance": True, "astrocast_callback_secret_sha256": "(set)"}
    fieldstation(tmp_path, "maintenance", "off", "--project", "kruger")
    configured = as_json(tmp_path, "project", "configure", "kruger", "--auto-register")
    assert configured["settings"] == {"astrocast_callback_secret_sha256": "(set)"}
    assert configured["auto_register"] is True
    assert fieldstation(tmp_path, "maintenance", "sideways", check=False).returncode == 2
    live = as_json(
        tmp_path, "project", "configure", "kruger", "--instathings-env", "live", "--retention-days", "30"
    )
    assert (live["settings"]["instathings_env"], live["settings"]["retention_days"]) == ("live", 30)
    assert (
        fieldstation(
            tmp_path, "project", "configure", "kruger", "--instathings-env", "prod", check=False
        ).returncode
        == 2
    )


def test_astrocast_device_by_guid(tmp_path: Path) -> None:
    fieldstation(tmp_path, "project", "create", "river")
    guid = "C984FF2B-E4D0-417F-8EA3-11D74A55D251"
    added = as_json(tmp_path, "device", "add", "--project", "river", "--guid", guid, "--type", "Astronode",
                    "--codec", "astrocast-geo")  # fmt: skip
    assert added["guid"] == guid.lower()
    assert added["tag_id"] == HUB_TAG_BASE  # a device without a tag id of its own gets one of the hub's
    assert (added["codec"], added["device_type"]) == ("astrocast-geo", "Astronode")
    bad = fieldstation(tmp_path, "device", "add", "--project", "river", "--guid", "nope", check=False)
    assert "is not a GUID" in bad.stderr
    none = fieldstation(tmp_path, "device", "add", "--project", "river", check=False)
    assert "give the device an identity" in none.stderr


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (("serve", "--port", "70000"), {}, "--port: Input should be less than or equal to 65535"),
        (
            ("project", "list"),
            {"FIELDSTATION_PORT": "abc"},
            "FIELDSTATION_PORT: Input should be a valid integer",
        ),
        (("project", "list"), {"FIELDSTATION_LOG_LEVEL": "verbose"}, "FIELDSTATION_LOG_LEVEL"),
        (("project", "list"), {"FIELDSTATION_RATE_LIMITS": "notjson"}, 'field "rate_limits"'),
    ],
)
def test_a_setting_that_cannot_be_used_is_named_without_a_traceback(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], said: str
) -> None:
    """A port past 65,535 used to be taken (uvicorn listened on the port modulo 65,536), and a bad
    environment variable ended every command, even one that does not use it, with pydantic's traceback."""
    ran = fieldstation(tmp_path / "data", *args, check=False, env=env)
    assert ran.returncode == 2
    assert said in " ".join(ran.stderr.split()), ran.stderr


@pytest.mark.parametrize("where", ["a-file", "a-file/below"])
def test_a_data_dir_that_cannot_be_used_says_so(tmp_path: Path, where: str) -> None:
    (tmp_path / "a-file").write_text("")
    ran = fieldstation(tmp_path / where, "project", "list", check=False)
    assert ran.returncode == 2
    assert "".join(f"the data dir {tmp_path / where}".split()) in "".join(
        ran.stderr.split()
    )  # wrapped anywhere


def test_every_option_and_argument_of_every_command_says_what_it_is() -> None:
    """`--help` of every command explains each of its parameters (the names of `project create` and the
    usernames of `user ...` had none)."""
    import typer.main

    silent: list[str] = []
    seen: list[str] = []

    def walk(command: Any, path: str) -> None:  # typer's own copy of click's classes
        seen.append(path)
        for param in command.params:
            if param.name != "help" and not getattr(param, "help", None):
                silent.append(f"{path} {param.name}")
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(typer.main.get_command(app), "fieldstation")
    assert "fieldstation user passwd" in seen and "fieldstation gateway device remove" in seen
    assert silent == []


def test_a_port_in_use_is_said_before_anything_is_made(tmp_path: Path) -> None:
    """The demo project, the first operator and the banner came first, then uvicorn's own error (exit 3)."""
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        ran = fieldstation(tmp_path / "data", "serve", "--port", str(port), check=False)
    assert ran.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in " ".join(ran.stderr.split()), ran.stderr
    assert not (tmp_path / "data").exists() or not list((tmp_path / "data").glob("*.db"))
