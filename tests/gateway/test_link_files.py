"""The broker's and the hub's certificates in the data dir: made once, kept across starts, and the broker's
made again when the host name gateways reach it by changes (their TLS checks that name)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cryptography import x509

from fieldstation.core.certificates import CertificateAuthority
from fieldstation.core.clock import SystemClock
from fieldstation.intake.gateway_link.pki import link_files


class Settings:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def setting(self, key: str) -> str | None:
        return self.values.get(key)

    async def setting_or_create(self, key: str, value: str) -> str:
        return self.values.setdefault(key, value)


def _hosts(path: Path) -> list[str]:
    names = x509.load_pem_x509_certificate(path.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    return [str(n) for n in names.value.get_values_for_type(x509.DNSName)]


def test_the_brokers_certificate_follows_its_public_name(tmp_path: Path) -> None:
    authority = CertificateAuthority(Settings(), SystemClock())
    files = asyncio.run(link_files(authority, tmp_path, ["broker.example.org", "localhost"]))
    first_server, first_hub = files.server_certificate.read_text(), files.hub_certificate.read_text()
    assert _hosts(files.server_certificate) == ["broker.example.org", "localhost"]
    asyncio.run(link_files(authority, tmp_path, ["localhost"]))  # a name it has: nothing made
    assert files.server_certificate.read_text() == first_server
    asyncio.run(link_files(authority, tmp_path, ["gw.example.net", "localhost"]))
    assert _hosts(files.server_certificate) == ["gw.example.net", "localhost"]
    assert files.hub_certificate.read_text() == first_hub  # the hub's own is kept
    files.hub_key.unlink()
    asyncio.run(link_files(authority, tmp_path, ["localhost"]))
    assert files.hub_key.exists() and files.hub_certificate.read_text() != first_hub
