"""The link's certificate authority: one per installation. It signs the X.509 client certificates of every
project's gateways, the broker's server certificate and the hub's own client certificate, so that a broker
trusts one CA and a gateway verifies its broker with the `ca.pem` of its bundle. A gateway's certificate
names it `{projectId}/{clientId}` (`link.topics.Address.identity`), which confines it to its own topics. A
certificate's id is its SHA-256 fingerprint, 64 hex digits."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fieldstation.core.clock import MICROS, Clock
from fieldstation.core.models import Device, Project
from fieldstation.core.ports import SettingStore
from fieldstation.link.topics import Address

KEY_BITS = 2048
CA_YEARS = 20
DEVICE_YEARS = 10
AUTHORITY_SETTING = "link_authority"
HUB_IDENTITY = "fieldstation-hub"
"""The hub's own user name at a broker (its certificate's common name): it reads and writes every topic."""


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    certificate_id: str
    certificate_pem: str
    private_key_pem: str
    public_key_pem: str
    ca_pem: str


class CertificateAuthority:
    def __init__(self, store: SettingStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._loaded: tuple[x509.Certificate, rsa.RSAPrivateKey, str] | None = None

    async def issue(self, project: Project, device: Device, env: str) -> IssuedCertificate:
        """A gateway's client certificate, for the link of `env` (`live`, `sandbox`)."""
        identity = Address(env, project.short_id, device.short_id).identity
        return await self._issue(
            identity, client=True, organisation=f"fieldstation project {project.short_id}"
        )

    async def issue_hub(self) -> IssuedCertificate:
        return await self._issue(HUB_IDENTITY, client=True, organisation="fieldstation")

    async def issue_server(self, hosts: list[str]) -> IssuedCertificate:
        """The broker's certificate, valid for `hosts` (names or addresses)."""
        return await self._issue(hosts[0], client=False, organisation="fieldstation", hosts=hosts)

    async def ca_pem(self) -> str:
        return (await self._authority())[2]

    async def _issue(
        self, common_name: str, *, client: bool, organisation: str, hosts: list[str] | None = None
    ) -> IssuedCertificate:
        ca_cert, ca_key, ca_pem = await self._authority()
        key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        now = self._now()
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365 * DEVICE_YEARS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if hosts:
            names: list[x509.GeneralName] = []
            for host in hosts:
                try:
                    names.append(x509.IPAddress(ipaddress.ip_address(host)))
                except ValueError:
                    names.append(x509.DNSName(host))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        certificate = builder.sign(ca_key, hashes.SHA256())
        return IssuedCertificate(
            certificate_id=certificate.fingerprint(hashes.SHA256()).hex(),
            certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
            private_key_pem=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            ).decode(),
            public_key_pem=key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode(),
            ca_pem=ca_pem,
        )

    async def _authority(self) -> tuple[x509.Certificate, rsa.RSAPrivateKey, str]:
        if self._loaded is None:
            stored = await self._store.setting(AUTHORITY_SETTING)
            if stored is None:  # first use: two workers racing agree on one winner
                stored = await self._store.setting_or_create(AUTHORITY_SETTING, self._new_authority())
            pems = json.loads(stored)
            key = serialization.load_pem_private_key(pems["key"].encode(), password=None)
            assert isinstance(key, rsa.RSAPrivateKey)
            self._loaded = (
                x509.load_pem_x509_certificate(pems["certificate"].encode()),
                key,
                pems["certificate"],
            )
        return self._loaded

    def _new_authority(self) -> str:
        key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fieldstation link CA")])
        now = self._now()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256())
        )
        return json.dumps(
            {
                "certificate": certificate.public_bytes(serialization.Encoding.PEM).decode(),
                "key": key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ).decode(),
            }
        )

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._clock.now_us() / MICROS, tz=dt.UTC)
