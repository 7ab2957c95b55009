"""The agent's wheel, made by the hub from its own installed code, so that a gateway installs the agent
from the hub that issued its bundle (checked against the SHA-256 in the bundle) and never looks a name up
on a public index. The wheel is reproducible: the same installed code gives the same bytes, hence the
same digest, on every start."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import fieldstation

DISTRIBUTION = "fieldstation"
EPOCH = (1980, 1, 1, 0, 0, 0)
SKIPPED = ("__pycache__", "node_modules")
"""Not in the agent's wheel: bytecode, and the portal's browser packages from npm (8 MB a gateway never
serves; building a wheel with them cost every hub start 1.2 s)."""


@dataclass(frozen=True, slots=True)
class AgentWheel:
    name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def build() -> AgentWheel:
    """A pure-Python wheel of the installed `fieldstation` package and its metadata."""
    metadata = importlib.metadata.distribution(DISTRIBUTION)
    version = metadata.version
    dist_info = f"{DISTRIBUTION}-{version}.dist-info"
    package = Path(fieldstation.__file__).parent
    files: list[tuple[str, bytes]] = []
    for path in sorted(package.rglob("*")):
        if path.is_file() and not any(part in SKIPPED or part.endswith(".pyc") for part in path.parts):
            files.append((f"{DISTRIBUTION}/{path.relative_to(package).as_posix()}", path.read_bytes()))
    files.append((f"{dist_info}/METADATA", (metadata.read_text("METADATA") or "").encode()))
    files.append(
        (
            f"{dist_info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: fieldstation\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
    )
    entry_points = metadata.read_text("entry_points.txt")
    if entry_points:
        files.append((f"{dist_info}/entry_points.txt", entry_points.encode()))
    record = "".join(f"{name},sha256={_digest(data)},{len(data)}\n" for name, data in files)
    files.append((f"{dist_info}/RECORD", (record + f"{dist_info}/RECORD,,\n").encode()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files:
            info = zipfile.ZipInfo(name, EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(info, data)
    return AgentWheel(f"{DISTRIBUTION}-{version}-py3-none-any.whl", buffer.getvalue())


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
