"""Writing files so that a reader never sees half of one: the one atomic write of the project."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PRIVATE = 0o600  # the default: run-directory files may hold secrets (keys, Secrets, object stores)


def atomic_write(path: Path, data: str | bytes, mode: int = PRIVATE, durable: bool = False) -> None:
    """Write `data` to a temporary file in `path`'s directory (made if missing), give it `mode`,
    then rename it over `path`: readers see the old file or the new one, never a part. `durable`:
    flushed to the disk before the rename (a store that answers only once its write is kept)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # a directory it makes is private too
    # mkstemp creates the file 0600, so a secret is never readable by others, not even briefly.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        if mode != PRIVATE:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def private_dir(path: Path) -> Path:
    """`path` as a directory only its owner may list or write (0700), made with its parents if
    missing. Search permission given to others (0711: unprivileged pods reach their own directory
    through the run directory) is kept; it lists nothing and opens nothing by itself."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = path.stat().st_mode
    if mode & 0o066:
        path.chmod(0o700 | (mode & 0o011))
    return path
