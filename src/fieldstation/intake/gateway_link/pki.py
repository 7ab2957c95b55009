"""The files a broker and the hub's MQTT client need, made once from the link's certificate authority and
kept in the data dir (`mqtt/`): the CA, the broker's server certificate, the hub's client certificate."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fieldstation.core.certificates import CertificateAuthority

FOLDER = "mqtt"


@dataclass(frozen=True, slots=True)
class LinkFiles:
    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def server_certificate(self) -> Path:
        return self.folder / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.folder / "server.key"

    @property
    def hub_certificate(self) -> Path:
        return self.folder / "hub.pem"

    @property
    def hub_key(self) -> Path:
        return self.folder / "hub.key"


async def link_files(authority: CertificateAuthority, data_dir: Path, hosts: list[str]) -> LinkFiles:
    """The link's files in `data_dir`, made if missing (the server certificate for `hosts`)."""
    files = LinkFiles(data_dir / FOLDER)
    files.folder.mkdir(parents=True, exist_ok=True)
    new_authority = _write(files.ca, await authority.ca_pem(), secret=False)
    if new_authority or not files.server_certificate.exists() or not files.server_key.exists():
        server = await authority.issue_server(hosts)
        _write(files.server_key, server.private_key_pem, secret=True)
        _write(files.server_certificate, server.certificate_pem, secret=False)
    if new_authority or not files.hub_certificate.exists() or not files.hub_key.exists():
        hub = await authority.issue_hub()
        _write(files.hub_key, hub.private_key_pem, secret=True)
        _write(files.hub_certificate, hub.certificate_pem, secret=False)
    return files


def _write(path: Path, text: str, *, secret: bool) -> bool:
    """Whether the file changed."""
    if path.exists() and path.read_text() == text:
        return False
    temporary = path.with_suffix(path.suffix + ".new")
    temporary.write_text(text)
    os.chmod(temporary, 0o600 if secret else 0o644)
    temporary.replace(path)
    return True
