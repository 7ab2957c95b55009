"""A change signal that every process of one installation on one machine shares: a small file next to the
database, replaced on every announcement. Reading it is one `stat` (a few microseconds, no I/O to the disk
once cached by the kernel), so every cache can check it on every read.

Workers on several machines also hear each other's announcements over Redis (shared/changes.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path


class FileChangeSignal:
    def __init__(self, path: Path) -> None:
        self._path = path

    def stamp(self) -> object:
        try:
            status = os.stat(self._path)
        except FileNotFoundError:
            return None
        # A replaced file is a new inode: two announcements within one clock tick still differ.
        return status.st_ino, status.st_mtime_ns

    def announce(self) -> None:
        staging = self._path.with_name(f".{self._path.name}.{os.getpid()}")
        staging.write_text(str(os.getpid()))
        # The file system's own mtime may be coarser than two announcements are apart, and a freed inode
        # may come back: the nanosecond clock, set explicitly, keeps every stamp new.
        now_ns = time.time_ns()
        os.utime(staging, ns=(now_ns, now_ns))
        os.replace(staging, self._path)
