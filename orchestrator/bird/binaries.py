"""Where the bird and birdc binaries of each BIRD dialect live on this machine.

Debian's `bird` (1.6) and `bird2` packages conflict, so BIRD 1.6 is the system's and BIRD 2
is unpacked into a private prefix by lab/install-bird2.sh (`make deps`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from orchestrator import PROJECT_ROOT
from orchestrator.errors import LabError

BIRD1_DIR = Path("/usr/sbin")
BIRD2_PREFIX = PROJECT_ROOT / ".deps" / "bird2"
DIALECTS = ("1", "2")


@dataclass(frozen=True)
class BirdBinaries:
    dialect: str  # "1" or "2"
    bird: Path
    birdc: Path


def normalize_dialect(dialect: str) -> str:
    """`1`, `1.6`, `bird1` -> `1`; `2`, `2.0`, `bird2` -> `2`."""
    d = dialect.strip().lower().removeprefix("bird").removeprefix("v")
    major = d.split(".", 1)[0]
    if major not in DIALECTS:
        raise LabError(f"unknown BIRD dialect {dialect!r} "
                       "(fix: use 1 for BIRD 1.6 or 2 for BIRD 2)")
    return major


def bird_binaries(dialect: str, bird2_prefix: Path | None = None) -> BirdBinaries:
    """The bird and birdc of a dialect; LabError naming the fix when they are missing."""
    major = normalize_dialect(dialect)
    if major == "1":
        base, fix = BIRD1_DIR, "apt-get install bird (Debian's BIRD 1.6)"
    else:
        prefix = bird2_prefix or BIRD2_PREFIX
        base = prefix / "usr" / "sbin"
        fix = f"run `make deps` or `lab/install-bird2.sh {prefix}` as root"
    found = BirdBinaries(major, base / "bird", base / "birdc")
    missing = [str(p) for p in (found.bird, found.birdc) if not os.access(p, os.X_OK)]
    if missing:
        raise LabError(f"BIRD {major} not installed: {', '.join(missing)} missing (fix: {fix})")
    return found
