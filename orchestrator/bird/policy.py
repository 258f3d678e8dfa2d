"""The route-policy test: a bird.conf run by a throwaway BIRD in scratch namespaces, fed routes.

For each config under test (the candidate, and the running config for "before") two namespaces are
made, `gwlab-<lab>.scratch-<id>-<label>` (the router) and `...-<label>-p` (its peers), joined by a
veth: the router's side carries the router's address on the router's interface name, the peers'
side the addresses of the lab's nodes. BIRD runs the config unchanged but for its `log` files
(redirected to a scratch directory) and its control socket (`-s`). A small BGP speaker (bgpfeed)
opens a session from each node's address with the node's AS, so the config's own BGP protocols,
names, `net`, `bgp_path`, `source = RTS_BGP`, `from` and `proto` behave as on the real router. What
each protocol keeps in its table is what the config accepts; the rest it filters.

The namespaces carry the lab's name, so `gwlab down`/`clean` remove them after a crash; normally
they go in a finally block, and the scratch BIRD is stopped by the PID recorded at its start.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from orchestrator.engines.netns import namespaces as netns, procs
from orchestrator.bird import binaries, conftext, parse
from orchestrator.bird.bgpfeed import FeedError, PathAttrs, Session, connect
from orchestrator.bird.birdc import BirdClient, BirdError
from orchestrator.errors import LabError
from orchestrator.state import ns_name

SCRATCH_SYSCTLS = {
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
    "net.ipv6.conf.all.disable_ipv6": "1",
    "net.ipv6.conf.default.disable_ipv6": "1",
}
PEERS_IFACE = "peers"
START_WAIT = 3.0  # seconds for the scratch BIRD to answer on its socket
SESSION_WAIT = 3.0  # seconds for a session to reach Established
IMPORT_WAIT = 3.0  # seconds for BIRD to take in every route sent


RoutesFor = Callable[[str, IPv4Address], list["FedRoute"]]  # (protocol, neighbour) -> routes it sends


class PolicyTestError(LabError):
    """The route-policy test could not run (the config did not start, ...)."""


@dataclass(frozen=True)
class FedRoute:
    prefix: IPv4Network
    attrs: PathAttrs = PathAttrs()
    probe: bool = False  # made up to find leaks, not advertised by anyone


@dataclass(frozen=True)
class Feeder:
    """A neighbour of the router under test, as the lab really has it."""

    name: str  # control1, worker1, ... (a protocol name when there is no lab)
    ip: IPv4Address
    asn: int
    routes: tuple[FedRoute, ...]
    expect_as: int | None = None  # the router's AS as the node has it configured (None: any)


@dataclass(frozen=True)
class ScratchNet:
    """The router's side of the scratch link: its address, the segment, its interface's name."""

    router_ip: IPv4Address
    network: IPv4Network
    interface: str


@dataclass(frozen=True)
class SessionOutcome:
    feeder: str
    ip: IPv4Address
    protocol: str | None  # the config's protocol that took the session
    established: bool
    problem: str  # why the session did not come up, or ""
    sent: int
    accepted: frozenset[IPv4Network]


@dataclass(frozen=True)
class PolicyRun:
    label: str
    sessions: dict[str, SessionOutcome]  # by feeder name
    seconds: float
    feeders: list[Feeder] = field(default_factory=list)  # who sent what
    notes: list[str] = field(default_factory=list)

    def accepted(self, feeder: str, prefix: IPv4Network) -> bool:
        s = self.sessions.get(feeder)
        return bool(s and prefix in s.accepted)


@dataclass(frozen=True)
class ConfigUnderTest:
    label: str  # "candidate", "running"
    text: str
    source_dir: Path | None  # where its relative includes are resolved


def attrs_of(a: parse.RouteAttributes | None) -> PathAttrs:
    """The path attributes `show route all` printed, as the speaker sends them."""
    if a is None:
        return PathAttrs()
    return PathAttrs(origin=a.origin or "IGP", as_path=a.as_path or (),
                     local_pref=a.local_pref if a.local_pref is not None else 100,
                     med=a.med, communities=a.communities, large_communities=a.large_communities)


def routes_from_export(text: str) -> list[FedRoute]:
    """`show route export P all` on a node -> the routes it sends, with their BGP attributes."""
    out: list[FedRoute] = []
    for route in parse.parse_routes(text):
        if ":" in route.prefix:
            continue
        path = route.primary or (route.paths[0] if route.paths else None)
        out.append(FedRoute(IPv4Network(route.prefix), attrs_of(path.attributes if path else None)))
    return out


def routes_received(texts: list[str]) -> dict[str, list[FedRoute]]:
    """`show route all` and `show route filtered all` on the router (with `import keep filtered on`
    they hold everything received) -> the routes each protocol received, by protocol name."""
    out: dict[str, dict[IPv4Network, FedRoute]] = {}
    for text in texts:
        for route in parse.parse_routes(text):
            if ":" in route.prefix:
                continue
            for p in route.paths:
                prefix = IPv4Network(route.prefix)
                out.setdefault(p.protocol, {}).setdefault(prefix, FedRoute(prefix, attrs_of(p.attributes)))
    return {proto: list(routes.values()) for proto, routes in out.items()}


def probes(declared: list[IPv4Network], extra: list[IPv4Network]) -> list[IPv4Network]:
    """Prefixes outside the declared ranges that a sound import filter must not accept: a default
    route, RFC 1918 and documentation space, each range's covering supernet and its sibling, and
    the segment the router itself sits on."""
    candidates = [IPv4Network("0.0.0.0/0"), IPv4Network("10.0.0.0/8"), IPv4Network("192.0.2.0/24")]
    for r in declared:
        if r.prefixlen > 0:
            sup = r.supernet()
            candidates += [sup, next(s for s in sup.subnets() if s != r)]
    candidates += extra
    out: list[IPv4Network] = []
    for c in candidates:
        if c not in out and not any(c.subnet_of(r) for r in declared):
            out.append(c)
    return out


def _new_namespace(name: str) -> None:
    from orchestrator.engines.netns.rtnl import IPRoute

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
        from orchestrator.engines.netns.rtnl import IPRoute

        for name in (self.router_ns, self.peers_ns):
            self.made.append(name)
            _new_namespace(name)
        fd = os.open(netns.path_of(self.peers_ns), os.O_RDONLY)
        try:
            with netns.inside(self.router_ns), IPRoute() as ipr:
                ipr.link("add", ifname=interface, kind="veth", peer={"ifname": PEERS_IFACE, "net_ns_fd": fd})
                ipr.link("set", index=ipr.link_lookup(ifname=interface)[0], state="up")
        finally:
            os.close(fd)

    def address(self, net: ScratchNet, peers: list[IPv4Address]) -> None:
        """The router's address on its side (once), the peers' addresses on theirs (those not there yet)."""
        from orchestrator.engines.netns.rtnl import IPRoute

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
                                [str(bird), "-f", "-c", str(conf), "-s", str(self.sock)], self.dir / "bird.out")

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
            routes = [(r.prefix, r.attrs if ibgp else _ebgp(r.attrs, f.asn)) for r in f.routes]
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
            pending = [name for name, sent in want.items() if _received(details.get(name)) < sent]
            if not pending or time.monotonic() >= deadline:
                break
            time.sleep(0.005)
        for name in pending:
            notes.append(f"{self.config.label}: protocol {name} took {_received(details.get(name))} of "
                         f"{want[name]} routes in time")
        tables = sorted({_table(details[n]) for n in want if n in details})
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


def _received(d: parse.ProtocolDetail | None) -> int:
    if d is None:
        return 0
    return (d.change_stats.get("Import updates", {}).get("received") or 0)


def _table(d: parse.ProtocolDetail) -> str:
    for ch in d.channels:
        if "Table" in ch.fields:
            return ch.fields["Table"]
    return d.row.table if d.row.table not in ("---", "") else "master"


def _ebgp(attrs: PathAttrs, asn: int) -> PathAttrs:
    return PathAttrs(attrs.origin, (asn, *attrs.as_path), None, attrs.med, attrs.communities,
                     attrs.large_communities)


@contextmanager
def _workdir(parent: Path | None) -> Iterator[Path]:
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix="scratch-", dir=parent))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def run(lab: str, configs: list[ConfigUnderTest], dialect: str, net: ScratchNet | None,
        feeders: list[Feeder] | None, workdir_parent: Path | None = None,
        routes_for: RoutesFor | None = None) -> list[PolicyRun]:
    """Run each config in its own scratch and feed it; every scratch is removed before returning.

    `net`/`feeders` None (no lab): the peers are the config's own BGP neighbours, found by asking the
    scratch BIRD, and `routes_for(protocol name, neighbour ip)` gives the routes each one sends."""
    tag = secrets.token_hex(3)
    t0 = time.monotonic()
    with ExitStack() as stack, _workdir(workdir_parent) as work:
        scratches = []
        for cfg in configs:
            s = Scratch(lab, tag, cfg, dialect, work)
            stack.callback(s.close)
            scratches.append(s)
        first = configs[0].text
        iface = net.interface if net else (conftext.guess_interface(first) or "eth0")
        # Without a lab, the neighbours written in the config are addressed before BIRD starts (BIRD
        # 1.6 is slow to notice a neighbour that appears later); BIRD's own list is checked after.
        early = net if net is not None else _guess_net(first, iface)
        early_peers = [f.ip for f in feeders] if feeders is not None else conftext.neighbor_addresses(first)
        for s in scratches:
            s.build(iface)
            if early is not None:
                s.address(early, early_peers)
            s.start()
        deadline = time.monotonic() + START_WAIT
        found = [s.wait_ready(deadline) for s in scratches]
        for s, protocols in zip(scratches, found):
            s.quiet_kernel(protocols)
        if net is None or feeders is None:
            net, feeders = _from_config(first, iface, found[0], routes_for, early)
            for s in scratches:
                s.address(net, [f.ip for f in feeders])
        deadline = time.monotonic() + SESSION_WAIT
        fed = [s.feed(net, feeders, deadline) for s in scratches]
        deadline = time.monotonic() + IMPORT_WAIT
        runs = []
        for s, outcomes in zip(scratches, fed):
            got, notes = s.collect(outcomes, deadline)
            runs.append(PolicyRun(s.config.label, got, time.monotonic() - t0, list(feeders), notes))
        return runs


def _guess_net(text: str, iface: str) -> ScratchNet | None:
    ips = conftext.neighbor_addresses(text)
    if not ips:
        return None
    try:
        return _net_for(conftext.guess_local_address(text), ips, iface)
    except PolicyTestError:
        return None


def _net_for(local: IPv4Address | None, neighbours: list[IPv4Address], iface: str) -> ScratchNet:
    network = _covering(neighbours + ([local] if local else []))
    if local is None or local in neighbours:
        taken = set(neighbours) | ({local} if local else set())
        local = next(h for h in network.hosts() if h not in taken)
    return ScratchNet(local, network, iface)


def _from_config(text: str, iface: str, protocols: list[parse.ProtocolDetail],
                 routes_for: RoutesFor | None, early: ScratchNet | None) -> tuple[ScratchNet, list[Feeder]]:
    """No lab: the scratch world is made from the config itself (its `local` address, its neighbours)."""
    neighbours = [(p.name, IPv4Address(p.neighbor_address), p.neighbor_as or 0) for p in protocols
                  if p.proto == "BGP" and p.neighbor_address and ":" not in p.neighbor_address]
    if not neighbours:
        raise PolicyTestError("the config has no IPv4 BGP protocol with a neighbor: nothing to feed routes to")
    ips = [ip for _, ip, _ in neighbours]
    net = early if early is not None and all(ip in early.network for ip in ips) else \
        _net_for(conftext.guess_local_address(text), ips, iface)
    feeders = [Feeder(name, ip, asn, tuple(routes_for(name, ip) if routes_for else ()))
               for name, ip, asn in neighbours]
    return net, feeders


def _covering(ips: list[IPv4Address]) -> IPv4Network:
    """The smallest network (at most /24, at least /8) holding every address, with room for one more."""
    lo, hi = int(min(ips)), int(max(ips))
    for plen in range(24, 7, -1):
        net = IPv4Network((lo, plen), strict=False)
        if int(net.broadcast_address) >= hi and net.num_addresses - 2 > len(ips):
            return net
    raise PolicyTestError("the config's BGP neighbours are too far apart to share one scratch segment")
