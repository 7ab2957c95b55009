"""The certificate bundle of a live project: everything a gateway needs to join, in one zip."""

from __future__ import annotations

import io
import zipfile

from fieldstation.core.certificates import IssuedCertificate
from fieldstation.core.models import Device, Project

INSTALL_SCRIPT = """#!/usr/bin/env bash
# Sets up and starts the fieldstation gateway agent with the credentials in this folder.
# Run it on the gateway, from the folder it was unzipped into:  bash install.sh
set -euo pipefail
cd "$(dirname "$0")"
CONFIG_DIR=${FIELDSTATION_GATEWAY_DIR:-$HOME/.fieldstation-gateway}
mkdir -p "$CONFIG_DIR"
install -m 600 certificate.pem private.key ca.pem .env "$CONFIG_DIR"/
python3 -m venv "$CONFIG_DIR/venv"
"$CONFIG_DIR/venv/bin/pip" install --quiet --upgrade pip fieldstation
echo "Starting the gateway agent (config in $CONFIG_DIR) ..."
exec "$CONFIG_DIR/venv/bin/fieldstation" gateway run --config "$CONFIG_DIR/.env"
"""


def certificate_zip(
    issued: IssuedCertificate, device: Device, project: Project, *, broker_host: str, broker_port: int
) -> bytes:
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
        bundle.writestr(script, INSTALL_SCRIPT)
    return buffer.getvalue()
