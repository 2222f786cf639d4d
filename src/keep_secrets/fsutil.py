"""Atomic file writes: a temp file in the same directory, fsync, then rename.

A reader never sees a half-written file, and on any error the old file is left untouched and
no temp file remains.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write(path: Path | str, data: str | bytes, *, mode: int = 0o644, append: bool = False) -> None:
    """Write `data` to `path` atomically with permission `mode`.

    With `append=True` the existing content is kept and `data` added after it (still written
    as a whole new file and renamed, so a failure leaves the old file intact).
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if append and target.exists():
        payload = target.read_bytes() + payload
    directory = target.parent if str(target.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
