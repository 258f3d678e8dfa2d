"""The lab's checks, evaluated on real birdc outputs saved from a lab (tests/fixtures/bird/1.6).

SavedBastion stands in for a running bastion: it answers each birdc command with the reply a
real BIRD 1.6 gave to it, so the checks' logic is tested without namespaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from orchestrator import PROJECT_ROOT, checks, topology
from orchestrator.bird.birdc import Reply, parse_reply
from orchestrator.engines.base import KernelRoute, parse_ip_routes

FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "bird" / "1.6"
TOPO = topology.load(PROJECT_ROOT / "topology.clab.yml")
LB = IPv4Network("10.10.10.0/26")


def saved(name: str) -> Reply:
    raw = (FIXTURES / f"{name}.raw").read_text()
    return parse_reply("\n".join(line for line in raw.splitlines() if not line.startswith("#")))


@dataclass
class SavedBastion:
    """Stands in for the engine: replies saved from a real BIRD, kernel routes as read from it."""

    replies: dict[str, str]
    kernel: dict[IPv4Network, list[KernelRoute]]
    topo: topology.Topology = TOPO

    def birdc(self, node: str, command: str) -> Reply:
        return saved(self.replies[command])

    def kernel_routes(self, node: str, dst: IPv4Network) -> list[KernelRoute]:
        return self.kernel.get(dst, [])


ECMP = KernelRoute(LB, tuple(IPv4Address(f"10.0.1.{i}") for i in (11, 12, 13)), "unicast")


def run(engine: SavedBastion, cks: list[checks.Check]) -> dict[str, checks.Result]:
    return {r.name: r for r in checks.run(engine, cks)}  # type: ignore[arg-type]


def test_sessions_routes_and_kernel_ecmp() -> None:
    # worker2's BIRD was stopped when this `show protocols` was saved; the routes are from a healthy lab.
    engine = SavedBastion({"show protocols": "node-down-show-protocols", "show route all": "lb-show-route-all"},
                          {LB: [ECMP]})
    cks = [checks.session_check(TOPO, n.bgp_name, n.ip) for n in TOPO.k8s_nodes]
    cks += [checks.route_via_all_check(TOPO, LB), checks.kernel_ecmp_check(TOPO, LB)]
    results = run(engine, cks)
    assert results["BGP session control1 (10.0.1.11)"].ok
    assert results["BGP session worker1 (10.0.1.12)"].ok
    down = results["BGP session worker2 (10.0.1.13)"]
    assert not down.ok and down.observed.startswith("start Passive")
    assert results["10.10.10.0/26 in the bastion's BGP table"].ok
    assert results["10.10.10.0/26 in the bastion's kernel"].observed.startswith("1 route, 3 next hops")


def test_a_missing_next_hop_is_named() -> None:
    engine = SavedBastion({"show route all": "node-down-show-route-for-all"},
                          {LB: [KernelRoute(LB, (IPv4Address("10.0.1.11"), IPv4Address("10.0.1.12")), "unicast")]})
    results = run(engine, [checks.route_via_all_check(TOPO, LB), checks.kernel_ecmp_check(TOPO, LB)])
    table = results["10.10.10.0/26 in the bastion's BGP table"]
    kernel = results["10.10.10.0/26 in the bastion's kernel"]
    assert not table.ok and "missing via worker2" in table.observed
    assert not kernel.ok and "missing worker2" in kernel.observed


def test_a_bird_that_does_not_answer_fails_the_check_with_the_reason() -> None:
    class Silent(SavedBastion):
        def birdc(self, node: str, command: str) -> Reply:
            from orchestrator.bird.birdc import BirdError

            raise BirdError("cannot connect to BIRD control socket /run/x: No such file")

    results = run(Silent({}, {}), [checks.session_check(TOPO, "worker1", IPv4Address("10.0.1.12"))])
    only = next(iter(results.values()))
    assert not only.ok and "cannot connect" in only.observed


def test_fixture_files_exist() -> None:
    for name in ("node-down-show-protocols", "lb-show-route-all", "node-down-show-route-for-all"):
        assert Path(FIXTURES / f"{name}.raw").is_file()


@dataclass
class DumpedBastion:
    """Stands in for the engine: the bastion's main table as `ip -j -4 route show` printed it in a lab
    with Local Services (tests/fixtures/ip-route-bastion.json, trimmed)."""

    topo: topology.Topology = TOPO

    def kernel_table(self, node: str) -> dict[IPv4Network, list[KernelRoute]]:
        return parse_ip_routes((PROJECT_ROOT / "tests" / "fixtures" / "ip-route-bastion.json").read_text())


def test_ip_json_routes_keep_their_next_hops() -> None:
    table = DumpedBastion().kernel_table("bastion")
    assert table[IPv4Network("10.10.10.1/32")][0].gateways == (IPv4Address("10.0.1.12"), IPv4Address("10.0.1.13"))
    assert table[IPv4Network("10.200.0.2/32")][0].gateways == (IPv4Address("10.0.1.12"),)
    assert table[LB] == [ECMP]


def test_every_local_service_route_is_compared_from_one_dump() -> None:
    pool = IPv4Network("10.200.0.0/18")
    both, one = {"calico-worker", "calico-worker2"}, {"calico-worker"}
    wanted = {IPv4Address("10.10.10.0"): {"calico-worker2"}, IPv4Address("10.10.10.1"): both,
              IPv4Address("10.200.0.0"): both, IPv4Address("10.200.0.3"): both,
              IPv4Address("10.200.0.1"): one, IPv4Address("10.200.0.2"): one}
    check = checks.local_routes_check(TOPO, [LB, pool], lambda: wanted)
    assert check.evaluate(checks.Snapshot(DumpedBastion())) == (True, "6/6 /32s via exactly their nodes")  # type: ignore[arg-type]

    wrong = {**wanted, IPv4Address("10.200.0.1"): both, IPv4Address("10.200.0.9"): one}
    del wrong[IPv4Address("10.200.0.3")]
    ok, observed = checks.local_routes_check(TOPO, [LB, pool], lambda: wrong).evaluate(
        checks.Snapshot(DumpedBastion()))  # type: ignore[arg-type]
    assert not ok
    assert observed == ("4/6 /32s via exactly their nodes; 1 missing (e.g. 10.200.0.9/32); "
                        "1 via other nodes (e.g. 10.200.0.1/32); 1 without a Local Service (e.g. 10.200.0.3/32)")
