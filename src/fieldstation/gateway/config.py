"""The agent's configuration: the bundle's `.env` (as the hub wrote it), overridden by the command line."""

from __future__ import annotations

import dataclasses
import zipfile
from dataclasses import dataclass
from pathlib import Path

from fieldstation.link.topics import Address

DEFAULT_OUTBOX_MAX = 1_000_000


class ConfigError(ValueError):
    """The configuration cannot work; the message says what to change."""


@dataclass(frozen=True, slots=True)
class AgentConfig:
    env: str
    broker_host: str
    broker_port: int
    project: str
    gateway: str
    certificate: Path
    private_key: Path
    ca_certificate: Path
    certificate_id: str
    data_dir: Path
    cloud_enabled: bool = True
    on_premise_enabled: bool = False
    on_premise_port: int = 1234
    on_premise_host: str = "0.0.0.0"
    on_premise_retention_days: int = 30
    outbox_max_records: int = DEFAULT_OUTBOX_MAX

    @property
    def address(self) -> Address:
        return Address(self.env, self.project, self.gateway)


def read_env(path: Path) -> dict[str, str]:
    """`KEY=VALUE` lines; blank lines and `#` comments skipped, surrounding quotes removed."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        key, equals, value = text.partition("=")
        if not equals:
            raise ConfigError(f"{path}:{number}: expected KEY=VALUE, got {text!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _flag(values: dict[str, str], key: str, default: bool) -> bool:
    text = values.get(key)
    if text is None:
        return default
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{key} must be true or false, got {text!r}")


def _integer(values: dict[str, str], key: str, default: int, maximum: int) -> int:
    text = values.get(key)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= maximum:
        raise ConfigError(f"{key} must be a whole number from 1 to {maximum}, got {text!r}")
    return int(text)


def load(env_file: Path, data_dir: Path | None = None) -> AgentConfig:
    """The configuration in `env_file`; relative file names are relative to its folder."""
    if not env_file.is_file():
        raise ConfigError(f"no configuration file {env_file}: unzip the gateway's certificate bundle there")
    values = read_env(env_file)
    folder = env_file.parent
    cloud = _flag(values, "CLOUD_ENABLED", True)
    required = ["PROJECT_ID", "PARENT_DEVICE_ID"]
    if cloud:
        required += ["BROKER_HOST", "BROKER_PORT", "CERTIFICATE", "PRIVATE_KEY", "CA_CERTIFICATE"]
    missing = [key for key in required if not values.get(key)]
    if missing:
        raise ConfigError(f"{env_file} lacks {', '.join(missing)}: use the .env of the gateway's bundle")
    config = AgentConfig(
        env=values.get("ENV", "live"),
        broker_host=values.get("BROKER_HOST", ""),
        broker_port=_integer(values, "BROKER_PORT", 8883, 65_535),
        project=values["PROJECT_ID"],
        gateway=values["PARENT_DEVICE_ID"],
        certificate=folder / values.get("CERTIFICATE", "certificate.pem"),
        private_key=folder / values.get("PRIVATE_KEY", "private.key"),
        ca_certificate=folder / values.get("CA_CERTIFICATE", "ca.pem"),
        certificate_id=values.get("CERTIFICATE_ID", ""),
        data_dir=data_dir or folder / "data",
        cloud_enabled=cloud,
        on_premise_enabled=_flag(values, "ON_PREMISE_ENABLED", False),
        on_premise_port=_integer(values, "ON_PREMISE_PORT", 1234, 65_535),
        on_premise_host=values.get("ON_PREMISE_HOST", "0.0.0.0"),
        on_premise_retention_days=_integer(values, "ON_PREMISE_RETENTION_DAYS", 30, 36_500),
        outbox_max_records=_integer(values, "OUTBOX_MAX_RECORDS", DEFAULT_OUTBOX_MAX, 10**9),
    )
    if cloud:
        for path in (config.certificate, config.private_key, config.ca_certificate):
            if not path.is_file():
                raise ConfigError(f"{path} is missing: it comes with the gateway's certificate bundle")
    return config


def unpack_bundle(bundle: Path, into: Path) -> Path:
    """Unzip a certificate bundle into `into` (private files kept private); returns its `.env`. A file that
    is not one is refused before anything is made."""
    if not bundle.is_file():
        raise ConfigError(f"{bundle} does not exist: give the zip the hub made for the gateway")
    if not zipfile.is_zipfile(bundle):
        raise ConfigError(f"{bundle} is not a zip file: give the bundle the hub made for the gateway")
    if into.exists() and not into.is_dir():
        raise ConfigError(f"{bundle} unpacks into {into}, which is a file: move it or rename the bundle")
    into.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(bundle) as archive:
        for name in ("certificate.pem", "private.key", "ca.pem", ".env"):
            try:
                data = archive.read(name)
            except KeyError:
                raise ConfigError(f"{bundle} is not a gateway bundle: it has no {name}") from None
            target = into / name
            target.write_bytes(data)
            target.chmod(0o600)
    return into / ".env"


def with_overrides(config: AgentConfig, **changes: object) -> AgentConfig:
    return dataclasses.replace(config, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]
