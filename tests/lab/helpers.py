"""What the lab tests share: running the CLI, and proving a lab left nothing behind."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from orchestrator import PROJECT_ROOT, topology_gen
from orchestrator.engines.netns import namespaces as netns
from orchestrator.rundir import netns_etc_dirs
from orchestrator.state import lab_of_ns, run_dir

TOPO = PROJECT_ROOT / "topology.clab.yml"


def gwlab(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([sys.executable, "-m", "orchestrator", *args], capture_output=True, text=True,
                         timeout=timeout, cwd=PROJECT_ROOT)
    if check and out.returncode != 0:
        raise AssertionError(f"gwlab {' '.join(args)} exited {out.returncode}\n{out.stdout}\n{out.stderr}")
    return out


def leftovers(lab: str) -> list[str]:
    """Namespaces, processes and files of the lab still on the host."""
    found = [f"namespace {n}" for n in netns.list_names() if lab_of_ns(n) == lab]
    if run_dir(lab).exists():
        found.append(f"directory {run_dir(lab)}")
    found += [f"directory {d}" for d in netns_etc_dirs(lab)]
    marker = f"/gwlab/{lab}/"
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmdline:
            found.append(f"process {pid}: {cmdline.strip()}")
    return found


def sized_topology(tmp: Path, workers: int) -> Path:
    """The project's topology with `workers` worker nodes (addresses 10.0.1.12 onwards)."""
    return topology_gen.write_resized(tmp, workers)


def timed_transfer(ns: str, server: socket.socket, to: tuple[str, int], payload: int) -> tuple[int, float]:
    """`payload` bytes over TCP from a client in namespace `ns` to `to`, read on `server` (listening):
    (bytes read, seconds from before the connect to the last byte read)."""
    with netns.inside(ns):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    got = 0
    try:
        c.settimeout(10)
        start = time.monotonic()
        c.connect(to)
        conn, _ = server.accept()
        conn.settimeout(10)
        sender = threading.Thread(target=c.sendall, args=(b"x" * payload,))
        sender.start()
        while got < payload:
            chunk = conn.recv(65536)
            if not chunk:
                break
            got += len(chunk)
        elapsed = time.monotonic() - start
        sender.join(10)
        conn.close()
    finally:
        c.close()
    return got, elapsed
