"""The files a broker and the hub's MQTT client need, made once from the link's certificate authority and
kept in the data dir (`mqtt/`): the CA, the broker's server certificate, the hub's client certificate."""

from __future__ import annotations

import functools
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from fieldstation.core.certificates import CertificateAuthority, IssuedCertificate

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
    made: tuple[tuple[Path, Path, Callable[[], Awaitable[IssuedCertificate]], list[str]], ...] = (
        (files.server_certificate, files.server_key, functools.partial(authority.issue_server, hosts), hosts),
        (files.hub_certificate, files.hub_key, authority.issue_hub, []),
    )
    for certificate, key, issue, names in made:
        current = certificate.exists() and key.exists() and _names(certificate) >= set(names)
        if new_authority or not current:
            issued = await issue()
            _write(key, issued.private_key_pem, secret=True)
            _write(certificate, issued.certificate_pem, secret=False)
    return files


def _names(path: Path) -> set[str]:
    """The host names and addresses a certificate is valid for: a broker's certificate made before
    `FIELDSTATION_MQTT_PUBLIC_HOST` changed is made again."""
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()  # a client certificate names no host
    return {str(n) for n in names.get_values_for_type(x509.DNSName)} | {
        str(a) for a in names.get_values_for_type(x509.IPAddress)
    }


def _write(path: Path, text: str, *, secret: bool) -> bool:
    """Whether the file changed."""
    if path.exists() and path.read_text() == text:
        return False
    temporary = path.with_suffix(path.suffix + ".new")
    temporary.write_text(text)
    os.chmod(temporary, 0o600 if secret else 0o644)
    temporary.replace(path)
    return True
