"""`gwlab trace bgp`: BGP on the bastion's segment interface while something happens, per peer.

The capture starts first (tcpdump listening), then the command runs (a shell command line, or a
Python callable for the tests); the capture goes on until BGP has been quiet, KEEPALIVEs aside,
for `settle` seconds after the command ended. The decoder is seeded with the routes the bastion
held from each peer when the trace began (from its BIRD), so a session that goes down lists the
routes it takes with it even though they were announced before the capture.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.capture import render
from orchestrator.capture.decoder import Decoder, Event
from orchestrator.capture.run import CaptureResult, Stop, run
from orchestrator.capture.sniff import Capture, CaptureSpec
from orchestrator.state import ns_name

if TYPE_CHECKING:
    from orchestrator.lab import Lab

BGP_FILTER = "tcp port 179"
COMMAND_WAIT = 10.0  # after the capture, seconds a still-running command gets before SIGTERM


@dataclass
class CommandResult:
    command: str
    exit_code: int | None = None
    output: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class PeerTrace:
    name: str
    ip: str
    events: list[Event] = field(default_factory=list)  # everything but KEEPALIVEs, in order
    keepalives: int = 0
    state: str = "no BGP seen"
    withdrawn: list[str] = field(default_factory=list)  # routes it had announced, withdrawn or lost
    idle_withdrawals: list[str] = field(default_factory=list)  # withdrawals of routes it had not announced

    def _kinds(self, kind: str, sender: str | None = None) -> list[Event]:
        return [e for e in self.events if e.message.kind == kind and e.flow is not None
                and (sender is None or e.flow.src.ip == sender)]

    @property
    def announced(self) -> list[str]:
        return [p for e in self._kinds("UPDATE", self.ip) for p in getattr(e.message, "announced", ())]

    @property
    def resets(self) -> int:
        """Sessions that went down (one per TCP connection, however many events say so)."""
        return len({(e.flow.connection if e.flow else None) for e in self._kinds("SESSION DOWN")})

    @property
    def opens(self) -> int:
        return len(self._kinds("OPEN", self.ip))

    @property
    def notifications(self) -> list[str]:
        return [f"{'from' if e.flow and e.flow.src.ip == self.ip else 'to'} {self.name}: {e.message.describe()}"
                for e in self._kinds("NOTIFICATION")]

    def refreshes(self, sender: str) -> int:
        return len(self._kinds("ROUTE-REFRESH", sender))

    def verdict(self, bastion_ip: str) -> str:
        if not self.events:
            return f"no change (no UPDATE, no reset; {self.keepalives} KEEPALIVEs)"
        parts = [f"{self.resets} session reset{'s' * (self.resets != 1)}" if self.resets else "no session reset"]
        if self.refreshes(bastion_ip):
            parts.append(f"{self.refreshes(bastion_ip)} ROUTE-REFRESH from the bastion")
        if self.withdrawn:
            parts.append(f"withdrew {len(self.withdrawn)} ({', '.join(dict.fromkeys(self.withdrawn))})")
        if self.idle_withdrawals:
            parts.append(f"{len(self.idle_withdrawals)} withdrawals of routes it had not announced "
                         f"({', '.join(dict.fromkeys(self.idle_withdrawals))}: no change)")
        if self.announced:
            parts.append(f"announced {len(self.announced)} ({', '.join(dict.fromkeys(self.announced))})")
        parts.append(self.state)
        return "; ".join(parts)


@dataclass
class BgpTrace:
    lab: str
    where: str
    bastion_ip: str
    started: float  # epoch seconds, when the command started (or the capture)
    peers: list[PeerTrace]
    command: CommandResult | None
    capture: CaptureResult
    names: dict[str, str]

    def peer(self, name: str) -> PeerTrace:
        return next(p for p in self.peers if name in (p.name, p.ip))


def _seed(lab: Lab, decoder: Decoder) -> None:
    from orchestrator.bird import parse
    from orchestrator.bird.birdc import BirdError

    bastion = lab.topo.bastion
    for node in lab.topo.k8s_nodes:
        prefixes: list[str] = []
        for cmd in (f"show route protocol {node.bgp_name}", f"show route filtered protocol {node.bgp_name}"):
            try:
                reply = lab.engine.birdc(bastion.name, cmd)
            except (BirdError, OSError):
                return  # the bastion's BIRD does not answer: only the capture will tell
            if reply.ok:
                prefixes += [r.prefix for r in parse.parse_routes(reply.text)]
        decoder.sessions.seed(str(node.ip), str(bastion.ip), prefixes)


class _Command:
    """The command the trace watches: a shell line (in the lab's name) or a callable."""

    def __init__(self, during: str | Callable[[], object], lab: str, echo: Callable[[str], None]) -> None:
        self.during, self.lab, self.echo = during, lab, echo
        self.result = CommandResult(during if isinstance(during, str) else getattr(during, "__name__", "callable"))
        self.done = threading.Event()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        threading.Thread(target=self._run, name="trace-command", daemon=True).start()

    def _run(self) -> None:
        t = time.monotonic()
        try:
            if isinstance(self.during, str):
                # `gwlab` in the command is this gwlab (its venv's bin first on PATH), on this lab.
                path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
                env = {**os.environ, "GWLAB_LAB": self.lab, "PATH": path}
                self.proc = subprocess.Popen(self.during, shell=True, env=env, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                assert self.proc.stdout is not None
                for raw in self.proc.stdout:
                    text = raw.decode(errors="replace").rstrip()
                    self.result.output.append(text)
                    self.echo(text)
                self.result.exit_code = self.proc.wait()
            else:
                outcome = self.during()
                self.result.output.append(repr(outcome))
                self.result.exit_code = 0
        except Exception as exc:  # noqa: BLE001 - the trace still reports what it captured
            self.result.output.append(f"{type(exc).__name__}: {exc}")
            self.result.exit_code = 1
        finally:
            self.result.seconds = time.monotonic() - t
            self.done.set()

    def finish(self) -> None:
        """After the capture: give a command still running COMMAND_WAIT s, then SIGTERM it (by its PID)."""
        if not self.done.wait(COMMAND_WAIT if self.proc is not None else 0.0) and self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
            self.done.wait(COMMAND_WAIT)


def trace_bgp(lab: Lab, during: str | Callable[[], object] | None = None, settle: float = 3.0,
              duration: float | None = None, pcap: Path | None = None,
              echo: Callable[[str], None] = lambda _: None,
              on_event: Callable[[Event], None] = lambda _: None) -> BgpTrace:
    from orchestrator.capture import targets

    topo = lab.topo
    bastion = topo.bastion
    ns = ns_name(topo.name, bastion.name)
    decoder = Decoder(bgp=True, tls=False)
    _seed(lab, decoder)
    command = _Command(during, topo.name, echo) if during is not None else None
    activity = [time.monotonic()]
    started = [time.time()]
    events: list[Event] = []

    def seen(event: Event) -> None:
        events.append(event)
        if event.message.kind != "KEEPALIVE":
            activity[0] = time.monotonic()
        on_event(event)

    def watch(stop: Stop) -> None:
        assert command is not None
        command.done.wait()
        end = time.monotonic()
        while time.monotonic() - max(end, activity[0]) < settle:
            time.sleep(0.05)
        stop(f"{settle:g} s of BGP quiet after the command")

    def begin(stop: Stop) -> None:
        started[0] = time.time()
        if command is not None:
            command.start()
            threading.Thread(target=watch, args=(stop,), name="trace-settle", daemon=True).start()

    out = open(pcap, "wb") if pcap else None
    try:
        result = run(Capture(CaptureSpec(ns, bastion.interface, BGP_FILTER)), decoder, seen, out, duration, begin)
    finally:
        if out:
            out.close()
        if command is not None:
            command.finish()
    names = targets.names(lab)
    return BgpTrace(topo.name, f"{bastion.name}:{bastion.interface}", str(bastion.ip), started[0],
                    _peers(lab, decoder, events), command.result if command else None, result, names)


def _peers(lab: Lab, decoder: Decoder, events: list[Event]) -> list[PeerTrace]:
    """One PeerTrace per node of the topology, plus any other address that spoke BGP to the bastion."""
    bastion_ip = str(lab.topo.bastion.ip)
    peers = {str(n.ip): PeerTrace(n.bgp_name, str(n.ip)) for n in lab.topo.k8s_nodes}
    for event in events:
        if event.flow is None:
            continue
        ends = {event.flow.src.ip, event.flow.dst.ip}
        if bastion_ip not in ends:
            continue
        other = next(iter(ends - {bastion_ip}), bastion_ip)
        peer = peers.setdefault(other, PeerTrace(other, other))
        if event.message.kind == "KEEPALIVE":
            peer.keepalives += 1
        else:
            peer.events.append(event)
    for peer in peers.values():
        pair = tuple(sorted((peer.ip, bastion_ip)))
        stats = decoder.sessions.stats.get(pair)  # type: ignore[arg-type]
        if stats is not None:
            peer.state = stats.state
            peer.withdrawn = list(stats.withdrawn.get(peer.ip, []))
            peer.idle_withdrawals = list(stats.idle_withdrawals.get(peer.ip, []))
    return list(peers.values())


def report(trace: BgpTrace) -> list[str]:
    """The trace for people: what ran, then per peer a verdict and its messages (KEEPALIVEs counted)."""
    cap = trace.capture
    head = f"trace bgp on {trace.where} (lab {trace.lab})"
    if trace.command:
        c = trace.command
        head += f" during `{c.command}` (exit {c.exit_code}, {c.seconds:.2f} s)"
    st = cap.stats
    head += f": {cap.records} packets, stopped by {cap.stopped_by}"
    if st.dropped is not None:
        head += f", {st.dropped} dropped by kernel"
    out = [head]
    for peer in trace.peers:
        out.append(f"{peer.name} ({peer.ip}): {peer.verdict(trace.bastion_ip)}")
        for e in peer.events:
            assert e.flow is not None
            src = trace.names.get(e.flow.src.ip, e.flow.src.ip)
            dst = trace.names.get(e.flow.dst.ip, e.flow.dst.ip)
            text = render.describe(e, trace.names)
            out.append(f"  {e.time - trace.started:+8.3f} s  {src} > {dst}  {e.message.kind}"
                       + (f"  {text}" if text else ""))
    return out


def as_json(trace: BgpTrace) -> dict[str, Any]:
    cap = trace.capture
    return {
        "lab": trace.lab, "where": trace.where,
        "command": None if trace.command is None else {
            "command": trace.command.command, "exit_code": trace.command.exit_code,
            "output": trace.command.output, "seconds": round(trace.command.seconds, 3)},
        "capture": {"packets": cap.records, "stopped_by": cap.stopped_by, "captured": cap.stats.captured,
                    "dropped": cap.stats.dropped},
        "peers": [{
            "name": p.name, "ip": p.ip, "state": p.state, "resets": p.resets, "opens": p.opens,
            "announced": p.announced, "withdrawn": p.withdrawn, "idle_withdrawals": p.idle_withdrawals,
            "notifications": p.notifications,
            "route_refresh_from_bastion": p.refreshes(trace.bastion_ip), "route_refresh_from_peer": p.refreshes(p.ip),
            "keepalives": p.keepalives,
            "events": [{**render.as_json(e, trace.names), "offset": round(e.time - trace.started, 6)}
                       for e in p.events]}
            for p in trace.peers]}
