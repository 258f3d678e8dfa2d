"""tcpdump inside a lab namespace, its pcap stream read from a pipe; never longer than its caller.

tcpdump runs with `--immediate-mode -U` so every packet reaches the pipe at once and none waits in
a buffer at the end, and with a 64 MiB ring (`-B`): in immediate mode its default 2 MiB ring drops
most of a burst of 200 small packets on this kernel (TPACKET_V3 blocks sized for the 256 KiB
snapshot length; veth hands over GSO packets of up to 64 KiB, so the snapshot length stays). It is entered into the namespace by nsenter and bound to our life by
`setpriv --pdeathsig TERM` (so it keeps root, `-Z root`: dropping to the tcpdump user would
clear the parent-death signal). Stopping it is a SIGINT to its PID, sent STOP_GRACE seconds after
the request so the packets already on the wire are read first; its last packets and its counters
then come out before the pipe ends. Start and close a Capture from the same thread: the
parent-death signal follows the thread that started it.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

from orchestrator.engines.netns import namespaces
from orchestrator.errors import LabError
from orchestrator.state import lab_of_ns

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
TCPDUMP = shutil.which("tcpdump") or "/usr/bin/tcpdump"
SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"
NSENTER = shutil.which("nsenter") or "/usr/bin/nsenter"
RING_KIB = 65536  # 32 MiB still dropped a few hundred of a 20,000-datagram burst; 64 MiB none
PIPE_BYTES = 1 << 20  # the pipe absorbs bursts while the reader is descheduled
LISTEN_TIMEOUT = 10.0
STOP_GRACE = 0.1
KILL_AFTER = 3.0


@dataclass(frozen=True)
class CaptureStats:
    captured: int | None  # tcpdump's own counters, from its last lines
    received: int | None
    dropped: int | None
    exit_code: int | None
    messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaptureSpec:
    ns: str | None  # a lab namespace; None only to read a file
    iface: str = "any"
    bpf: str = ""
    count: int | None = None
    read_file: Path | None = None

    def argv(self) -> list[str]:
        tcpdump = [TCPDUMP, "-Z", "root", "-n", "-w", "-"]
        if self.count:
            tcpdump += ["-c", str(self.count)]
        if self.read_file is not None:
            tcpdump += ["-r", str(self.read_file)]
        else:
            tcpdump += ["--immediate-mode", "-U", "-B", str(RING_KIB), "-i", self.iface]
        tcpdump += ["--", self.bpf] if self.bpf else []
        bound = [SETPRIV, "--pdeathsig", "TERM", "--", *tcpdump]
        if self.read_file is not None:
            return bound
        assert self.ns is not None
        return [NSENTER, f"--net={namespaces.path_of(self.ns)}", "--", *bound]


@dataclass
class Capture:
    spec: CaptureSpec
    proc: subprocess.Popen[bytes] | None = None
    _stderr: list[str] = field(default_factory=list)
    _listening: threading.Event = field(default_factory=threading.Event)
    _stopping: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _reader: threading.Thread | None = None

    def start(self) -> None:
        """Start tcpdump; returns once it listens (live) or has opened the file."""
        ns = self.spec.ns
        if self.spec.read_file is None:
            if ns is None or lab_of_ns(ns) is None or not namespaces.exists(ns):
                raise LabError(f"refusing to capture outside a lab namespace ({ns!r})")
        self.proc = subprocess.Popen(self.spec.argv(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True, close_fds=True)
        try:
            assert self.proc.stdout is not None
            fcntl.fcntl(self.proc.stdout.fileno(), F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:
            pass  # the default 64 KiB will do
        self._reader = threading.Thread(target=self._read_stderr, name="tcpdump-stderr", daemon=True)
        self._reader.start()
        if self.spec.read_file is not None:
            return
        deadline = time.monotonic() + LISTEN_TIMEOUT
        while not self._listening.wait(0.02):
            if self.proc.poll() is not None:
                self._reader.join(1.0)
                raise LabError("tcpdump did not start: " + " ".join(self._stderr).strip())
            if time.monotonic() > deadline:
                self.close()
                raise LabError(f"tcpdump did not start listening within {LISTEN_TIMEOUT:.0f} s")

    def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for raw in self.proc.stderr:
            text = raw.decode(errors="replace").rstrip()
            self._stderr.append(text)
            if "listening on" in text:
                self._listening.set()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def stdout(self) -> IO[bytes]:
        assert self.proc is not None and self.proc.stdout is not None
        return self.proc.stdout

    def stop(self, grace: float = STOP_GRACE) -> None:
        """Ask tcpdump to finish (from any thread, a signal handler included); idempotent."""
        with self._lock:
            if self._stopping or self.proc is None:
                return
            self._stopping = True
        timer = threading.Timer(grace, self._interrupt)
        timer.daemon = True
        timer.start()

    def _interrupt(self) -> None:
        proc = self.proc
        # Our own unreaped child: its PID cannot have been recycled while poll() is None.
        if proc is not None and proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    def close(self) -> CaptureStats:
        """Make sure tcpdump is gone (SIGINT, then SIGKILL after KILL_AFTER s) and collect its counters."""
        proc = self.proc
        if proc is None:
            return CaptureStats(None, None, None, None)
        if proc.poll() is None:
            self._interrupt()
            try:
                proc.wait(KILL_AFTER)
            except subprocess.TimeoutExpired:
                # Blocked writing to a pipe nobody reads: closing our end makes its write fail.
                if proc.stdout:
                    proc.stdout.close()
                try:
                    proc.wait(KILL_AFTER)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self._reader:
            self._reader.join(2.0)
        for pipe in (proc.stdout, proc.stderr):
            if pipe and not pipe.closed:
                pipe.close()
        return CaptureStats(_counter(self._stderr, "captured"), _counter(self._stderr, "received by filter"),
                            _counter(self._stderr, "dropped by kernel"), proc.returncode, tuple(self._stderr))

    def __enter__(self) -> Capture:
        self.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _counter(lines: list[str], what: str) -> int | None:
    for text in lines:
        m = re.match(rf"(\d+) packets? {what}", text)
        if m:
            return int(m.group(1))
    return None
