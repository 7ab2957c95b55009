"""A live project's bundle, installed as a person would: `bash install.sh` fetches the agent's wheel from the
hub that issued the bundle, checks it against the bundle's SHA-256, installs it in a venv and starts the
agent on the credentials. The venv and pip are stand-ins (the wheel's dependencies would come from an
index); the fetch, the check and the files are real."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.conftest import start_server
from tests.gateway.conftest import GATEWAY_TYPE, cli


def _bundle(tmp_path: Path) -> tuple[zipfile.ZipFile, str, subprocess.Popen[bytes]]:
    data_dir = tmp_path / "hub"
    data_dir.mkdir()
    server = start_server(data_dir)
    cli(data_dir, "project", "configure", "demo", "--instathings-env", "live")
    api = f"{server.base}/instathings"
    auth = {"Authorization": f"Bearer {server.instathings_token()}"}
    gateway = httpx.post(
        f"{api}/device/v1/devices", json={"name": "gw", "isGateway": True, "type": GATEWAY_TYPE}, headers=auth
    ).json()
    response = httpx.post(f"{api}/devices/{gateway['id']}/credentials/certificate", headers=auth)
    assert response.status_code == 200, response.text
    return zipfile.ZipFile(io.BytesIO(response.content)), server.base, server.process


def _install(
    archive: zipfile.ZipFile, tmp_path: Path, script: str | None = None
) -> subprocess.CompletedProcess[str]:
    unpacked, tools = tmp_path / "bundle", tmp_path / "tools"
    archive.extractall(unpacked)
    if script is not None:
        (unpacked / "install.sh").write_text(script)
    tools.mkdir(exist_ok=True)
    fake_python = tools / "python3"
    fake_python.write_text(
        "#!/bin/sh\n"  # `python3 -m venv DIR` makes a stand-in venv; anything else is the real Python
        'if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then\n'
        '  mkdir -p "$3/bin"\n'
        '  printf "#!/bin/sh\\necho \\"\\$@\\" > %s/pip-ran\\n" "$3" > "$3/bin/pip"\n'
        '  printf "#!/bin/sh\\necho \\"\\$@\\" > %s/agent-ran\\n" "$3" > "$3/bin/fieldstation"\n'
        '  chmod +x "$3/bin/pip" "$3/bin/fieldstation"\n'
        "  exit 0\n"
        "fi\n"
        f'exec {sys.executable} "$@"\n'
    )
    fake_python.chmod(0o755)
    env = {
        "PATH": f"{tools}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "FIELDSTATION_GATEWAY_DIR": str(tmp_path / "gw"),
    }
    return subprocess.run(
        ["bash", str(unpacked / "install.sh")], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory):
    archive, base, process = _bundle(tmp_path_factory.mktemp("bundle-hub"))
    yield archive, base
    process.terminate()
    process.wait(timeout=15)


def test_install_sh_installs_the_hubs_own_agent(issued, tmp_path: Path) -> None:
    archive, base = issued
    done = _install(archive, tmp_path)
    assert done.returncode == 0, done.stderr
    home = tmp_path / "gw"
    for name in ("certificate.pem", "private.key", "ca.pem", ".env"):
        assert (home / name).read_bytes() == archive.read(name)
        assert (home / name).stat().st_mode & 0o777 == 0o600
    [wheel] = home.glob("fieldstation-*.whl")
    served = httpx.get(f"{base}/gateway/agent/{wheel.name}").content
    assert wheel.read_bytes() == served
    assert hashlib.sha256(served).hexdigest() in archive.read("install.sh").decode()
    assert (home / "venv" / "pip-ran").read_text().split() == ["install", "--quiet", str(wheel)]
    assert (home / "venv" / "agent-ran").read_text().split() == ["gateway", "run", "--config", f"{home}/.env"]
    # The agent's code, not the portal's browser packages (megabytes over a satellite or LoRa backhaul).
    names = zipfile.ZipFile(io.BytesIO(served)).namelist()
    assert "fieldstation/gateway/agent.py" in names
    assert not [name for name in names if "node_modules" in name]
    assert len(served) < 1_000_000


def test_install_sh_refuses_an_agent_that_does_not_match_the_bundle(issued, tmp_path: Path) -> None:
    archive, _ = issued
    script = archive.read("install.sh").decode()
    digest = script.split('WHEEL_SHA256="', 1)[1].split('"', 1)[0]
    done = _install(archive, tmp_path, script.replace(digest, "0" * 64))
    assert done.returncode != 0
    assert "the bundle expects 000" in done.stderr
    assert not (tmp_path / "gw" / "venv" / "pip-ran").exists()
