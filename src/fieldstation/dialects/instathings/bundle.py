"""The certificate bundle of a live project: everything a gateway needs to join, in one zip."""

from __future__ import annotations

import io
import zipfile

from fieldstation.core.certificates import IssuedCertificate
from fieldstation.core.models import Device, Project

INSTALL_SCRIPT = """#!/usr/bin/env bash
# Sets up and starts the fieldstation gateway agent with the credentials in this folder.
# Run it on the gateway, from the folder it was unzipped into:  bash install.sh
# The agent is installed from the hub that issued this bundle, checked against the digest below; its
# dependencies come from the Python package index the gateway's pip is configured with.
set -euo pipefail
cd "$(dirname "$0")"
HUB_URL="{hub_url}"
WHEEL="{wheel}"
WHEEL_SHA256="{sha256}"
CONFIG_DIR=${{FIELDSTATION_GATEWAY_DIR:-$HOME/.fieldstation-gateway}}
mkdir -p "$CONFIG_DIR"
install -m 600 certificate.pem private.key ca.pem .env "$CONFIG_DIR"/
python3 -m venv "$CONFIG_DIR/venv"
echo "Fetching the agent from $HUB_URL ..."
python3 - "$HUB_URL/gateway/agent/$WHEEL" "$CONFIG_DIR/$WHEEL" "$WHEEL_SHA256" <<'PY'
import hashlib, sys, urllib.request
url, target, expected = sys.argv[1:]
data = urllib.request.urlopen(url, timeout=60).read()
actual = hashlib.sha256(data).hexdigest()
if actual != expected:
    sys.exit(f"the agent from {{url}} has SHA-256 {{actual}}, the bundle expects {{expected}}: not installed")
open(target, "wb").write(data)
PY
"$CONFIG_DIR/venv/bin/pip" install --quiet "$CONFIG_DIR/$WHEEL"
echo "Starting the gateway agent (config in $CONFIG_DIR) ..."
exec "$CONFIG_DIR/venv/bin/fieldstation" gateway run --config "$CONFIG_DIR/.env"
"""


def certificate_zip(
    issued: IssuedCertificate,
    device: Device,
    project: Project,
    *,
    broker_host: str,
    broker_port: int,
    hub_url: str,
    agent: tuple[str, str],
) -> bytes:
    """`agent`: the agent wheel's file name and SHA-256, as the hub at `hub_url` serves it."""
    env = "\n".join(
        [
            "ENV=live",
            f"BROKER_HOST={broker_host}",
            f"BROKER_PORT={broker_port}",
            f"PROJECT_ID={project.short_id}",
            f"PARENT_DEVICE_ID={device.short_id}",
            f"CERTIFICATE_ID={issued.certificate_id}",
            "CERTIFICATE=certificate.pem",
            "PRIVATE_KEY=private.key",
            "CA_CERTIFICATE=ca.pem",
            "ON_PREMISE_ENABLED=false",
            "CLOUD_ENABLED=true",
        ]
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("certificate.pem", issued.certificate_pem)
        bundle.writestr("private.key", issued.private_key_pem)
        bundle.writestr("ca.pem", issued.ca_pem)
        bundle.writestr(".env", env + "\n")
        script = zipfile.ZipInfo("install.sh")
        script.external_attr = 0o755 << 16
        wheel, sha256 = agent
        bundle.writestr(script, INSTALL_SCRIPT.format(hub_url=hub_url, wheel=wheel, sha256=sha256))
    return buffer.getvalue()
