"""A route-policy test run: each config in its scratch BIRD, fed the same routes, one PolicyRun each."""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from orchestrator.bird import conftext, parse
from orchestrator.bird.policy.model import (
    IMPORT_WAIT,
    SESSION_WAIT,
    START_WAIT,
    ConfigUnderTest,
    Feeder,
    PolicyRun,
    PolicyTestError,
    RoutesFor,
    ScratchNet,
)
from orchestrator.bird.policy.scratch import Scratch

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
