"""Several captures at once around one action: every capture listens before the action starts, and
all of them are stopped (and their last packets read) once it has ended.

Each capture runs to its end in a thread of its own (`run.run`: start, read, close), so the thread
that started a tcpdump is the one that reaps it and its parent-death signal stays armed for its
whole life. A stop signal (Ctrl-C, SIGTERM, SIGHUP) in the main thread stops every capture; the
action itself is left to finish (it is bounded: a curl with --max-time). Besides the decoded
events, each capture keeps one line per TCP segment it saw, so a trace can also tell what did not
happen (no packet to a backend).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from orchestrator.capture import packet
from orchestrator.capture.decoder import Decoder, Event
from orchestrator.capture.packet import Flow
from orchestrator.capture.run import CaptureResult, Stop, run, stop_on_signals
from orchestrator.capture.sniff import LISTEN_TIMEOUT, Capture, CaptureSpec
from orchestrator.errors import LabError

T = TypeVar("T")
JOIN_TIMEOUT = 30.0


@dataclass(frozen=True)
class Point:
    """Where to capture: a namespace's interface, named for people."""

    name: str  # e.g. "bastion", "worker1", "pod envoy-..."
    kind: str  # "bastion" | "node" | "gateway" | "echo"
    ns: str
    iface: str
    node: str  # the node it is on (its own name for a node)
    ip: str  # its address on that interface

    @property
    def where(self) -> str:
        return f"{self.name}:{self.iface}"


@dataclass(frozen=True)
class Seen:
    """One TCP segment as a capture saw it."""

    time: float
    flow: Flow
    flags: int
    length: int

    @property
    def syn(self) -> bool:
        return bool(self.flags & packet.TCP_SYN)

    @property
    def fin(self) -> bool:
        return bool(self.flags & packet.TCP_FIN)

    @property
    def rst(self) -> bool:
        return bool(self.flags & packet.TCP_RST)


@dataclass
class Recorder(Decoder):
    """The capture package's decoder (TLS hellos here), plus a log of every TCP segment."""

    segments: list[Seen] = field(default_factory=list)

    def feed(self, linktype: int, time: float, data: bytes) -> list[Event]:
        ip = packet.parse_ip(linktype, data)
        seg = packet.parse_tcp(ip) if ip else None
        if seg is not None:
            self.segments.append(Seen(time, seg.flow, seg.flags, len(seg.payload)))
        return super().feed(linktype, time, data)


@dataclass
class PointCapture:
    point: Point
    recorder: Recorder
    events: list[Event] = field(default_factory=list)
    result: CaptureResult | None = None
    error: str | None = None
    pcap: Path | None = None


@dataclass
class Outcome(Generic[T]):
    value: T
    captures: list[PointCapture]
    started: float  # epoch seconds, when the action started
    seconds: float  # how long the action took
    interrupted: str | None = None  # the stop signal that cut the captures short, if any


def pcap_name(point: Point) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in point.name)
    return f"{safe}.{point.iface}.pcap"


def capture_during(points: list[Point], bpf: str, action: Callable[[], T], out_dir: Path | None = None,
                   settle: float = 0.2, tls: bool = True) -> Outcome[T]:
    """Capture on every point while `action` runs; `settle` seconds after it, stop them all."""
    caps = [PointCapture(p, Recorder(bgp=False, tls=tls)) for p in points]
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for cap in caps:
            cap.pcap = out_dir / pcap_name(cap.point)
    stops: list[Stop] = []
    closing: list[str] = []  # once set, a capture that starts listening is stopped at once
    lock = threading.RLock()  # a stop signal may arrive while the main thread holds it
    listening = threading.Semaphore(0)
    threads = []

    def one(cap: PointCapture) -> None:
        told: list[bool] = []  # the main thread hears once from each capture: listening, or failed

        def started(stop: Stop) -> None:
            with lock:
                stops.append(stop)
                late = closing[0] if closing else None
            if late:
                stop(late)
            told.append(True)
            listening.release()

        out = open(cap.pcap, "wb") if cap.pcap else None
        try:
            cap.result = run(Capture(CaptureSpec(cap.point.ns, cap.point.iface, bpf)), cap.recorder,
                             cap.events.append, out, None, started)
        except Exception as exc:  # noqa: BLE001 - reported with the point it belongs to
            cap.error = f"{type(exc).__name__}: {exc}"
            if not told:
                listening.release()
        finally:
            if out:
                out.close()

    def stop_all(why: str) -> None:
        with lock:
            closing.append(why)
            todo = list(stops)
        for stop in todo:
            stop(why)

    interrupted: list[str] = []

    def on_signal(signum: int) -> None:
        interrupted.append(signal.Signals(signum).name)
        stop_all(f"signal {signal.Signals(signum).name}")

    started, took = time.time(), 0.0
    try:
        with stop_on_signals(on_signal):
            for cap in caps:
                t = threading.Thread(target=one, args=(cap,), name=f"capture-{cap.point.name}", daemon=True)
                t.start()
                threads.append(t)
            deadline = time.monotonic() + LISTEN_TIMEOUT + 5
            for _ in caps:
                if not listening.acquire(timeout=max(0.0, deadline - time.monotonic())):
                    raise LabError("the captures did not all start listening in time")
            failed = [f"{c.point.where}: {c.error}" for c in caps if c.error]
            if failed:
                raise LabError("could not capture on " + "; ".join(failed))
            if interrupted:  # before the action: there is nothing to report
                raise KeyboardInterrupt(f"signal {interrupted[0]}")
            started = time.time()
            t0 = time.monotonic()
            value = action()
            took = time.monotonic() - t0
            if not interrupted:
                time.sleep(settle)  # the last packets of the exchange reach every capture point
            stop_all("request done")
            for t in threads:
                t.join(JOIN_TIMEOUT)
    finally:
        stop_all("trace ended")
        for t in threads:
            t.join(JOIN_TIMEOUT)
    return Outcome(value, caps, started, took, interrupted[0] if interrupted else None)
