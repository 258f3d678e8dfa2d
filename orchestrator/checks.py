"""Declarative checks of a lab, read from live state: what to read where, what must hold, how long
to wait. `up`, `verify`, the filter push and the tests all run these same checks."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from orchestrator.bird import parse
from orchestrator.engines.base import Engine, KernelRoute
from orchestrator.state import Facts
from orchestrator.topology import Topology


@dataclass
class Snapshot:
    """One reading of the bastion: its protocols, its routing table (accepted and filtered) and
    the kernel routes for the prefixes the checks ask about; each read lazily, once per pass."""

    engine: Engine
    _protocols: dict[str, parse.Protocol] | None = None
    _tables: dict[str, dict[IPv4Network, parse.Route]] = field(default_factory=dict)
    _kernel: dict[IPv4Network, list[KernelRoute]] = field(default_factory=dict)
    _main: dict[IPv4Network, list[KernelRoute]] | None = None

    def _bastion(self, command: str) -> str:
        return self.engine.birdc(self.engine.topo.bastion.name, command).raise_for_error().text

    def protocols(self) -> dict[str, parse.Protocol]:
        if self._protocols is None:
            self._protocols = {p.name: p for p in parse.parse_protocols(self._bastion("show protocols"))}
        return self._protocols

    def _table(self, command: str) -> dict[IPv4Network, parse.Route]:
        if command not in self._tables:
            self._tables[command] = {IPv4Network(r.prefix): r for r in parse.parse_routes(self._bastion(command))
                                     if ":" not in r.prefix}
        return self._tables[command]

    def routes(self) -> dict[IPv4Network, parse.Route]:
        return self._table("show route all")

    def filtered(self) -> dict[IPv4Network, parse.Route]:
        return self._table("show route filtered all")

    def kernel(self, prefix: IPv4Network) -> list[KernelRoute]:
        if prefix not in self._kernel:
            self._kernel[prefix] = self.engine.kernel_routes(self.engine.topo.bastion.name, prefix)
        return self._kernel[prefix]

    def kernel_table(self) -> dict[IPv4Network, list[KernelRoute]]:
        """The bastion's whole main table, dumped once per pass."""
        if self._main is None:
            self._main = self.engine.kernel_table(self.engine.topo.bastion.name)
        return self._main


@dataclass(frozen=True)
class Check:
    name: str
    where: str
    expect: str
    evaluate: Callable[[Snapshot], tuple[bool, str]]  # (holds, what was observed)


@dataclass(frozen=True)
class Result:
    name: str
    where: str
    expect: str
    observed: str
    ok: bool
    judged: bool = True  # False: a fault injected in the lab makes the check meaningless for now

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.name, "where": self.where, "expect": self.expect,
                "observed": self.observed, "ok": self.ok, "judged": self.judged}


def _gateways(route: parse.Route | None) -> set[IPv4Address]:
    if route is None:
        return set()
    return {IPv4Address(p.gateway) for p in route.paths if p.gateway}


def _names(topo: Topology, ips: set[IPv4Address]) -> str:
    by_ip = {n.ip: n.bgp_name or n.name for n in topo.routers}
    return ", ".join(sorted(by_ip.get(ip, str(ip)) for ip in ips)) or "none"


def session_check(topo: Topology, bgp_name: str, ip: IPv4Address) -> Check:
    def evaluate(s: Snapshot) -> tuple[bool, str]:
        p = s.protocols().get(bgp_name)
        if p is None:
            return False, "no such protocol"
        return p.state == "up" and p.info.startswith("Established"), f"{p.state} {p.info}".strip()
    return Check(f"BGP session {bgp_name} ({ip})", "bastion: show protocols", "up Established", evaluate)


def mesh_check(topo: Topology, node: str) -> Check:
    """A Kubernetes node's BIRD: its node-to-node mesh sessions (Mesh_<ip>) all Established."""
    others = [n for n in topo.k8s_nodes if n.name != node]

    def evaluate(s: Snapshot) -> tuple[bool, str]:
        text = s.engine.birdc(node, "show protocols").raise_for_error().text
        mesh = {p.name: p for p in parse.parse_protocols(text) if p.name.startswith("Mesh_")}
        up = [n for n, p in mesh.items() if p.info.startswith("Established")]
        return len(up) == len(others) and len(mesh) == len(others), f"{len(up)}/{len(mesh)} mesh sessions Established"
    name = topo.node(node).bgp_name or node
    return Check(f"node {name}: node-to-node mesh", f"{name}: show protocols", f"{len(others)} Established", evaluate)


def session_absent_check(topo: Topology, bgp_name: str, ip: IPv4Address) -> Check:
    """Before the workshop's BGPPeer: the bastion's session with a node is not Established."""
    def evaluate(s: Snapshot) -> tuple[bool, str]:
        p = s.protocols().get(bgp_name)
        info = f"{p.state} {p.info}".strip() if p else "no such protocol"
        return p is None or not p.info.startswith("Established"), info
    return Check(f"no session {bgp_name} ({ip}) yet", "bastion: show protocols", "not Established", evaluate)


def route_via_all_check(topo: Topology, prefix: IPv4Network) -> Check:
    nodes = {n.ip for n in topo.k8s_nodes}

    def evaluate(s: Snapshot) -> tuple[bool, str]:
        via = _gateways(s.routes().get(prefix))
        missing = nodes - via
        observed = f"via {_names(topo, via)}" + (f"; missing via {_names(topo, missing)}" if missing else "")
        return not missing, observed
    return Check(f"{prefix} in the bastion's BGP table", "bastion: show route all",
                 f"via all {len(nodes)} nodes", evaluate)


def kernel_ecmp_check(topo: Topology, prefix: IPv4Network) -> Check:
    nodes = {n.ip for n in topo.k8s_nodes}

    def evaluate(s: Snapshot) -> tuple[bool, str]:
        routes = s.kernel(prefix)
        if not routes:
            return False, "no kernel route"
        via = set(routes[0].gateways)
        missing = nodes - via
        observed = f"{len(routes)} route, {len(via)} next hops ({_names(topo, via)})"
        if missing:
            observed += f"; missing {_names(topo, missing)}"
        return len(routes) == 1 and not missing, observed
    return Check(f"{prefix} in the bastion's kernel", "bastion: netlink route table main",
                 f"one ECMP route, {len(nodes)} next hops", evaluate)


def local_service_checks(topo: Topology, what: str, prefix: IPv4Network,
                         nodes_now: Callable[[], list[str]]) -> list[Check]:
    """A Local Service's /32 in the bastion's BGP table and kernel via exactly the nodes that run
    a ready endpoint of it now (`nodes_now` reads where they are at each pass, so a pod that moved
    is followed)."""
    def expected() -> set[IPv4Address]:
        return {topo.node(n).ip for n in nodes_now()}

    def table(s: Snapshot) -> tuple[bool, str]:
        want, via = expected(), _gateways(s.routes().get(prefix))
        return bool(want) and via == want, f"via {_names(topo, via)}; ready {what} on {_names(topo, want)}"

    def kernel(s: Snapshot) -> tuple[bool, str]:
        want, routes = expected(), s.kernel(prefix)
        via = set(routes[0].gateways) if routes else set()
        observed = f"{len(routes)} route, via {_names(topo, via)}" if routes else "no kernel route"
        return bool(want) and len(routes) == 1 and via == want, f"{observed}; ready {what} on {_names(topo, want)}"
    expect = f"via exactly the nodes of a ready {what}"
    return [Check(f"{prefix} ({what}) in the bastion's BGP table", "bastion: show route all", expect, table),
            Check(f"{prefix} ({what}) in the bastion's kernel", "bastion: netlink route table main", expect, kernel)]


def local_routes_check(topo: Topology, within: list[IPv4Network],
                       wanted: Callable[[], dict[IPv4Address, set[str]] | None]) -> Check:
    """Every /32 of a Local Service inside the advertised LoadBalancer ranges, in the bastion's kernel
    via exactly the nodes with a ready endpoint of it, and no other /32 there: one dump of the table,
    compared as sets (10,000 Services are 10,000 routes, not 10,000 checks)."""
    def inside(addr: IPv4Address) -> bool:
        return any(addr in net for net in within)

    def evaluate(s: Snapshot) -> tuple[bool, str]:
        expected = {IPv4Network(f"{a}/32"): {topo.node(n).ip for n in nodes}
                    for a, nodes in (wanted() or {}).items() if inside(a) and nodes}
        have = {dst: set(routes[0].gateways) for dst, routes in s.kernel_table().items()
                if dst.prefixlen == 32 and inside(dst.network_address) and routes}
        missing = sorted(set(expected) - set(have))
        other = sorted(d for d in set(expected) & set(have) if have[d] != expected[d])
        stale = sorted(set(have) - set(expected))
        problems = [f"{len(found)} {what} (e.g. {', '.join(str(d) for d in found[:3])})"
                    for found, what in ((missing, "missing"), (other, "via other nodes"),
                                        (stale, "without a Local Service")) if found]
        good = len(expected) - len(missing) - len(other)
        return not problems, f"{good}/{len(expected)} /32s via exactly their nodes" + (
            "; " + "; ".join(problems) if problems else "")
    return Check("LoadBalancer /32s of Local Services in the bastion's kernel", "bastion: netlink route table main",
                 "each via exactly the nodes of its ready endpoints", evaluate)


def block_check(topo: Topology, node_name: str, block: IPv4Network) -> Check:
    node = topo.node(node_name)

    def evaluate(s: Snapshot) -> tuple[bool, str]:
        via = _gateways(s.routes().get(block))
        return node.ip in via, f"via {_names(topo, via)}" if via else "absent"
    return Check(f"pod block {block} of {node.bgp_name}", "bastion: show route all",
                 f"via {node.bgp_name} ({node.ip})", evaluate)


def filtered_before_push_check(topo: Topology, prefix: IPv4Network, facts: Facts) -> Check:
    seen = (facts.filtered_before_push or {}).get(str(prefix))
    nodes = {n.ip for n in topo.k8s_nodes}

    def evaluate(_: Snapshot) -> tuple[bool, str]:
        if seen is None:
            return False, "not observed (the filter push did not run)"
        via = {IPv4Address(x) for x in seen}
        return nodes <= via, f"filtered, from {_names(topo, via)}"
    return Check(f"{prefix} before the filter push", "bastion: show route filtered (recorded by up)",
                 "filtered from every node", evaluate)


def bgp_checks(topo: Topology, lb_prefixes: list[IPv4Network], blocks: dict[str, IPv4Network],
               facts: Facts, local: Callable[[], dict[IPv4Address, set[str]] | None] | None = None) -> list[Check]:
    checks = [session_check(topo, n.bgp_name, n.ip) for n in topo.k8s_nodes]
    for prefix in lb_prefixes:
        checks += [route_via_all_check(topo, prefix), kernel_ecmp_check(topo, prefix)]
    if local is not None and lb_prefixes:
        checks.append(local_routes_check(topo, lb_prefixes, local))
    checks += [block_check(topo, node, block) for node, block in blocks.items()]
    # History only `up` observes (the routes filtered before its push): checked when recorded, not
    # required of a lab whose filter was edited by hand.
    checks += [filtered_before_push_check(topo, p, facts) for p in lb_prefixes
               if str(p) in (facts.filtered_before_push or {})]
    return checks


def run(engine: Engine, checks: list[Check], wait: float = 0.0, interval: float = 0.02) -> list[Result]:
    """Evaluate every check on one snapshot; retry the whole pass until all hold or `wait` is spent."""
    deadline = time.monotonic() + wait
    while True:
        snap = Snapshot(engine)
        results = []
        for c in checks:
            try:
                ok, observed = c.evaluate(snap)
            except Exception as exc:  # a check that cannot read its source fails, naming why
                ok, observed = False, f"error: {exc}"
            results.append(Result(c.name, c.where, c.expect, observed, ok))
        if all(r.ok for r in results) or time.monotonic() >= deadline:
            return results
        time.sleep(interval)
