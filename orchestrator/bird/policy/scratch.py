"""One config under test in its throwaway BIRD: two scratch namespaces joined by a veth, the BIRD started
and stopped by its PID, the routes fed by bgpfeed, what each protocol kept."""

from __future__ import annotations

import os
import time
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

# Upward, on purpose: the route-policy test runs a throwaway BIRD in scratch namespaces, with the
# same namespace, netlink and process primitives the netns engine uses for its nodes.
from orchestrator.engines.netns import namespaces as netns, procs
from orchestrator.engines.netns.rtnl import IPRoute  # upward, as above
from orchestrator.bird import binaries, conftext, parse
from orchestrator.bird.bgpfeed import FeedError, PathAttrs, Session, connect
from orchestrator.bird.birdc import BirdClient, BirdError
from orchestrator.bird.policy.model import (
    PEERS_IFACE,
    SCRATCH_SYSCTLS,
    ConfigUnderTest,
    Feeder,
    PolicyTestError,
    ScratchNet,
    SessionOutcome,
)
from orchestrator.state import ns_name

def new_namespace(name: str) -> None:
    with netns.create(name):
        netns.write_sysctls(SCRATCH_SYSCTLS)
        with IPRoute() as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")


class Scratch:
    """One config under test, running in its pair of scratch namespaces."""

    def __init__(self, lab: str, tag: str, config: ConfigUnderTest, dialect: str, workdir: Path) -> None:
        self.config = config
        self.dialect = dialect
        self.router_ns = ns_name(lab, f"scratch-{tag}-{config.label}")
        self.peers_ns = self.router_ns + "-p"
        self.dir = workdir / config.label
        self.sock = self.dir / "bird.ctl"
        self.proc: procs.Proc | None = None
        self.made: list[str] = []
        self.sessions: dict[str, Session] = {}
        self.addressed: set[IPv4Address] = set()

    # -- making it --------------------------------------------------------------------------
    def build(self, interface: str) -> None:
        for name in (self.router_ns, self.peers_ns):
            self.made.append(name)
            new_namespace(name)
        fd = os.open(netns.path_of(self.peers_ns), os.O_RDONLY)
        try:
            with netns.inside(self.router_ns), IPRoute() as ipr:
                ipr.link("add", ifname=interface, kind="veth", peer={"ifname": PEERS_IFACE, "net_ns_fd": fd})
                ipr.link("set", index=ipr.link_lookup(ifname=interface)[0], state="up")
        finally:
            os.close(fd)

    def address(self, net: ScratchNet, peers: list[IPv4Address]) -> None:
        """The router's address on its side (once), the peers' addresses on theirs (those not there yet)."""
        if not self.addressed:
            with netns.inside(self.router_ns), IPRoute() as ipr:
                ipr.addr("add", index=ipr.link_lookup(ifname=net.interface)[0], address=str(net.router_ip),
                         prefixlen=net.network.prefixlen)
        with netns.inside(self.peers_ns), IPRoute() as ipr:
            index = ipr.link_lookup(ifname=PEERS_IFACE)[0]
            for ip in sorted(set(peers) - self.addressed):
                ipr.addr("add", index=index, address=str(ip), prefixlen=net.network.prefixlen)
            ipr.link("set", index=index, state="up")
        self.addressed |= set(peers) | {net.router_ip}

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        copy = conftext.redirect(self.config.text, self.config.source_dir, self.dir)
        conf = self.dir / "bird.conf"
        conf.write_text(copy.text)
        bird = binaries.bird_binaries(self.dialect).bird
        self.proc = procs.spawn(f"bird:scratch-{self.config.label}", self.router_ns,
                                [str(bird), "-f", "-c", str(conf), "-s", str(self.sock)], self.dir / "bird.out",
                                caps=procs.BIRD_CAPS)

    def wait_ready(self, deadline: float) -> list[parse.ProtocolDetail]:
        last = ""
        while time.monotonic() < deadline:
            if self.proc is not None and not procs.alive(self.proc):
                out = (self.dir / "bird.out").read_text(errors="replace").strip()
                raise PolicyTestError(f"the {self.config.label} config did not start in the scratch BIRD: "
                                      f"{out or 'it exited'}")
            try:
                return self.protocols()
            except BirdError as exc:
                last = str(exc)
            time.sleep(0.005)
        raise PolicyTestError(f"the scratch BIRD for the {self.config.label} config did not answer: {last}")

    def quiet_kernel(self, protocols: list[parse.ProtocolDetail]) -> None:
        """Disable the config's kernel protocols before any route arrives: the scratch namespace's
        routing table stays empty (no default route, even for a catch-all filter). Import filters
        do not depend on them."""
        for p in protocols:
            if p.proto == "Kernel" and p.state != "down":
                self.command(f"disable {p.name}")

    # -- using it ---------------------------------------------------------------------------
    def command(self, cmd: str) -> str:
        with BirdClient(self.sock, timeout=2.0) as c:
            return c.greeting + "\n" + c.command(cmd).raise_for_error().text

    def protocols(self) -> list[parse.ProtocolDetail]:
        return parse.parse_protocols_all(self.command("show protocols all"))

    def feed(self, net: ScratchNet, feeders: list[Feeder], deadline: float) -> dict[str, SessionOutcome]:
        """Open a session from each feeder and send its routes; protocols are matched by neighbour."""
        bgp = [p for p in self.protocols() if p.proto == "BGP"]
        outcomes: dict[str, SessionOutcome] = {}
        for f in feeders:
            mine = [p for p in bgp if p.neighbor_address == str(f.ip)]
            proto = mine[0] if mine else None
            problem = ""
            if proto is None:
                problem = f"the config has no BGP protocol for neighbor {f.ip}"
            elif proto.state == "down":
                problem = f"protocol {proto.name} is down (disabled?)"
            if problem:
                outcomes[f.name] = SessionOutcome(f.name, f.ip, proto.name if proto else None, False, problem,
                                                  0, frozenset())
                continue
            assert proto is not None
            try:
                with netns.inside(self.peers_ns):
                    session = connect(f.ip, f.asn, net.router_ip, deadline)
            except FeedError as exc:
                outcomes[f.name] = SessionOutcome(f.name, f.ip, proto.name, False, str(exc), 0, frozenset())
                continue
            if f.expect_as is not None and session.remote_as != f.expect_as:
                session.close()
                outcomes[f.name] = SessionOutcome(
                    f.name, f.ip, proto.name, False,
                    f"the config speaks AS {session.remote_as}, the node expects AS {f.expect_as}", 0, frozenset())
                continue
            ibgp = session.remote_as == f.asn
            routes = [(r.prefix, r.attrs if ibgp else ebgp(r.attrs, f.asn)) for r in f.routes]
            session.send_routes(routes, f.ip, ibgp)
            self.sessions[f.name] = session
            outcomes[f.name] = SessionOutcome(f.name, f.ip, proto.name, True, "", len(routes), frozenset())
        return outcomes

    def collect(self, outcomes: dict[str, SessionOutcome], deadline: float) -> tuple[dict[str, SessionOutcome], list[str]]:
        """Wait until BIRD took in every route sent, then read what each protocol kept."""
        notes: list[str] = []
        want = {o.protocol: o.sent for o in outcomes.values() if o.established and o.protocol}
        details: dict[str, parse.ProtocolDetail] = {}
        while True:
            details = {p.name: p for p in self.protocols()}
            pending = [name for name, sent in want.items() if received_count(details.get(name)) < sent]
            if not pending or time.monotonic() >= deadline:
                break
            time.sleep(0.005)
        for name in pending:
            notes.append(f"{self.config.label}: protocol {name} took {received_count(details.get(name))} of "
                         f"{want[name]} routes in time")
        tables = sorted({table_of(details[n]) for n in want if n in details})
        kept: dict[str, set[IPv4Network]] = {n: set() for n in want}
        for table in tables:
            for route in parse.parse_routes(self.command(f"show route table {table}")):
                if ":" in route.prefix:
                    continue
                for p in route.paths:
                    if p.protocol in kept:
                        kept[p.protocol].add(IPv4Network(route.prefix))
        out = {}
        for name, o in outcomes.items():
            proto = o.protocol
            if o.established and proto is not None:
                d = details.get(proto)
                if d is not None and d.bgp_state not in (None, "Established"):
                    o = SessionOutcome(o.feeder, o.ip, proto, False,
                                       f"the session went down: {d.last_error or d.bgp_state}", o.sent, frozenset())
                else:
                    o = SessionOutcome(o.feeder, o.ip, proto, True, "", o.sent, frozenset(kept[proto]))
            out[name] = o
        return out, notes

    # -- removing it ------------------------------------------------------------------------
    def close(self) -> None:
        for s in self.sessions.values():
            s.close()
        self.sessions.clear()
        if self.proc is not None:
            procs.stop([self.proc], grace=1.0)
            self.proc = None
        strays = netns.pids_in([n for n in self.made if netns.exists(n)])
        if strays:
            procs.kill_pids(list(strays))
        for name in self.made:
            netns.remove(name)
        self.made.clear()


def received_count(d: parse.ProtocolDetail | None) -> int:
    if d is None:
        return 0
    return (d.change_stats.get("Import updates", {}).get("received") or 0)


def table_of(d: parse.ProtocolDetail) -> str:
    for ch in d.channels:
        if "Table" in ch.fields:
            return ch.fields["Table"]
    return d.row.table if d.row.table not in ("---", "") else "master"


def ebgp(attrs: PathAttrs, asn: int) -> PathAttrs:
    return PathAttrs(attrs.origin, (asn, *attrs.as_path), None, attrs.med, attrs.communities,
                     attrs.large_communities)


