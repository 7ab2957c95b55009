"""A certificate authority per project, and X.509 client certificates for its gateways (their MQTT link
authenticates with them). A certificate's id is its SHA-256 fingerprint, 64 hex digits."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from fieldstation.core.clock import MICROS, Clock
from fieldstation.core.models import Device, Project
from fieldstation.core.ports import AuthorityStore

KEY_BITS = 2048
CA_YEARS = 20
DEVICE_YEARS = 10


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    certificate_id: str
    certificate_pem: str
    private_key_pem: str
    public_key_pem: str
    ca_pem: str


class CertificateAuthority:
    def __init__(self, store: AuthorityStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def issue(self, project: Project, device: Device) -> IssuedCertificate:
        ca_pem, ca_key_pem = await self._authority(project)
        ca_cert = x509.load_pem_x509_certificate(ca_pem.encode())
        ca_key = serialization.load_pem_private_key(ca_key_pem.encode(), password=None)
        assert isinstance(ca_key, rsa.RSAPrivateKey)
        key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        now = self._now()
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"fieldstation project {project.short_id}"),
                x509.NameAttribute(NameOID.COMMON_NAME, device.short_id),
            ]
        )
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365 * DEVICE_YEARS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
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

    async def _authority(self, project: Project) -> tuple[str, str]:
        existing = await self._store.authority(project.id)
        if existing is not None:
            return existing
        key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"fieldstation CA {project.short_id}")])
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
        pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        await self._store.save_authority(project.id, pem, key_pem, self._clock.now_us())
        stored = await self._store.authority(project.id)
        assert stored is not None
        return stored

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._clock.now_us() / MICROS, tz=dt.UTC)
