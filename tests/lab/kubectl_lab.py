"""A scratch network namespace with the API server inside and the real kubectl run in it."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from orchestrator import PROJECT_ROOT
from orchestrator.engines.netns import namespaces as netns

KUBECTL = Path(sys.executable).parent / "kubectl"
HOST, PORT = "127.0.0.1", 6443


@dataclass
class KubeLab:
    ns: str
    tmp: Path
    proc: subprocess.Popen[str] | None = None

    @property
    def data(self) -> Path:
        return self.tmp / "apiserver"

    def env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.tmp),
                "KUBECONFIG": str(self.data / "kubeconfig"), "KUBECACHEDIR": str(self.tmp / "kubecache")}

    def enter(self) -> None:
        netns.enter(self.ns)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.apiserver", "--data", str(self.data), "--listen", f"{HOST}:{PORT}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT, preexec_fn=self.enter)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("serving https://"), f"the API server did not start: {line}{self.proc.stderr}"

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)
        self.proc = None

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True,
                timeout: float = 30) -> subprocess.CompletedProcess[str]:
        out = subprocess.run([str(KUBECTL), *args], input=stdin, capture_output=True, text=True, env=self.env(),
                             timeout=timeout, preexec_fn=self.enter, cwd=PROJECT_ROOT)
        if check and out.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {out.returncode}\n{out.stdout}\n{out.stderr}")
        return out

    def popen(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([str(KUBECTL), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=self.env(), preexec_fn=self.enter, cwd=PROJECT_ROOT)


def readline(proc: subprocess.Popen[bytes], timeout: float = 15) -> str:
    """One line of a running kubectl's output; fails (never hangs) if none comes within timeout."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    line = b""
    deadline = time.monotonic() + timeout
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"no line from kubectl within {timeout} s; got {line!r} so far")
        byte = os.read(fd, 1)
        if not byte:
            break
        line += byte
    return line.decode()


@contextmanager
def kube_lab(tmp: Path) -> Iterator[KubeLab]:
    name = f"gwlab-{uuid.uuid4().hex[:8]}.api"
    lab = KubeLab(name, tmp)
    try:
        with netns.create(name):
            pass
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        lab.start()
        yield lab
    finally:
        try:
            lab.stop(signal.SIGKILL)
        finally:
            netns.remove(name)
