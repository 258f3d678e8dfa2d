"""The parsers on real birdc output from BIRD 1.6 and BIRD 2 (tests/fixtures/bird/capture.py)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from orchestrator.bird.parse import (
    Route,
    dialect,
    parse_protocol_detail,
    parse_protocols,
    parse_protocols_all,
    parse_routes,
    route_count,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "bird"
DIALECTS = ["1.6", "2"]
NODE_IPS = {"control1": "10.0.1.11", "worker1": "10.0.1.12", "worker2": "10.0.1.13"}


def fixture(d: str, name: str) -> str:
    return (FIXTURES / d / f"{name}.txt").read_text()


def by_prefix(routes: list[Route]) -> dict[str, Route]:
    return {r.prefix: r for r in routes}


@pytest.fixture(params=DIALECTS)
def d(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# ------------------------------------------------------------------ dialect detection

@pytest.mark.parametrize("d", DIALECTS)
def test_dialect_detected_from_every_fixture(d: str) -> None:
    expected = "1" if d == "1.6" else "2"
    for path in (FIXTURES / d).glob("show-*.txt"):
        text = path.read_text()
        assert dialect(text) == expected, path.name
        without_greeting = text.split("\n", 1)[1]
        if without_greeting.strip():
            assert dialect(without_greeting) == expected, path.name


# ------------------------------------------------------------------ show protocols

def test_show_protocols_rows(d: str) -> None:
    rows = parse_protocols(fixture(d, "show-protocols"))
    assert [r.name for r in rows] == ["device1", "direct1", "kernel1",
                                     "control1", "worker1", "worker2", "worker3"]
    by_name = {r.name: r for r in rows}
    assert [by_name[n].proto for n in ("device1", "direct1", "kernel1", "control1")] == \
        ["Device", "Direct", "Kernel", "BGP"]
    for name in NODE_IPS:
        assert by_name[name].established and by_name[name].state == "up"
    ghost = by_name["worker3"]
    assert (ghost.state, ghost.info_state, ghost.established) == ("start", "Passive", False)
    assert by_name["kernel1"].info == "" and by_name["kernel1"].info_state == ""
    assert by_name["kernel1"].table == ("master" if d == "1.6" else "master4")
    assert all(r.since for r in rows)


def test_show_protocols_down_states_and_messages(d: str) -> None:
    rows = {r.name: r for r in parse_protocols(fixture(d, "node-show-protocols"))}
    # names longer than BIRD's column shift the columns: still read right
    assert rows["Global_10_0_1_10"].established
    assert rows["Mesh_10_0_1_14"].info_state == "Connect"
    assert rows["Mesh_10_0_1_15"].info_state == "Active"
    assert rows["Mesh_10_0_1_15"].info_message == "Socket: Connection refused"
    assert rows["Mesh_10_0_1_16"].info_state == "Idle"
    assert rows["Mesh_10_0_1_16"].info_message == "BGP Error: Bad peer AS"
    assert {r.state for n, r in rows.items() if n.startswith("Mesh_10_0_1_1")} == {"up", "start"}

    gone = {r.name: r for r in parse_protocols(fixture(d, "node-down-show-protocols"))}["worker2"]
    assert (gone.state, gone.info_state) == ("start", "Passive")
    assert gone.info_message == "Received: Administrative shutdown"


def test_show_protocols_all_lists_every_protocol(d: str) -> None:
    text = fixture(d, "show-protocols-all")
    details = parse_protocols_all(text)
    assert [x.name for x in details] == [r.name for r in parse_protocols(text)]
    assert [x.bgp_state for x in details] == [None, None, None] + ["Established"] * 3 + ["Passive"]


def test_detail_established_bgp(d: str) -> None:
    x = parse_protocol_detail(fixture(d, "show-protocols-all-established"))
    assert (x.name, x.proto, x.state, x.info) == ("control1", "BGP", "up", "Established")
    assert x.established and x.bgp_state == "Established"
    assert x.description == "control1 (10.0.1.11)"
    assert (x.neighbor_address, x.neighbor_as, x.local_as) == ("10.0.1.11", 64512, 64512)
    assert x.neighbor_id == "10.0.1.11" and x.source_address == "10.0.1.10"
    assert (x.import_filter, x.export_filter, x.preference) == ("import_from_nodes", "REJECT", 100)
    assert x.routes is not None
    # 10.50.0.0/28 accepted, 10.10.10.0/26 kept as filtered (`import keep filtered on`)
    assert (x.routes.imported, x.routes.filtered, x.routes.exported, x.routes.preferred) == \
        (1, 1, 0, 1)
    assert x.change_stats["Import updates"]["filtered"] == 1
    assert x.change_stats["Import withdraws"]["filtered"] is None  # printed as ---
    assert x.hold_timer is not None and x.hold_timer.total == 9
    assert 0 <= x.hold_timer.left <= 9
    assert x.keepalive_timer is not None and x.keepalive_timer.total == 3
    assert x.last_error is None
    assert len(x.channels) == 1
    assert x.channels[0].name == ("master" if d == "1.6" else "ipv4")
    if d == "2":
        assert x.channels[0].state == "UP" and x.channels[0].fields["BGP Next hop"] == "10.0.1.10"


def test_detail_ebgp(d: str) -> None:
    x = parse_protocol_detail(fixture(d, "node2-show-protocols-all-ebgp"))
    assert x.established and x.neighbor_as == 65000
    assert x.fields["Session"] == "external AS4"
    # BIRD 1.6 never prints the local AS; only an iBGP session gives it away
    assert x.local_as == (None if d == "1.6" else 64512)
    assert x.routes is not None and (x.routes.imported, x.routes.exported) == (1, 2)


def test_detail_after_the_push_counts_both_routes(d: str) -> None:
    x = parse_protocol_detail(fixture(d, "lb-show-protocols-all-established"))
    assert x.name == "worker1" and x.routes is not None
    assert (x.routes.imported, x.routes.filtered) == (2, 0)


@pytest.mark.parametrize("name, state, error, timer", [
    ("show-protocols-all-passive", "Passive", None, None),
    ("node-show-protocols-all-connect", "Connect", None, None),
    ("node-show-protocols-all-active", "Active", "Socket: Connection refused", "Connect delay"),
    ("node-show-protocols-all-idle", "Idle", "BGP Error: Bad peer AS", "Error wait"),
    ("node-show-protocols-all-disabled", "Down", None, None),
    ("node-down-show-protocols-all", "Passive", "Received: Administrative shutdown", None),
])
def test_detail_bgp_sessions_not_established(d: str, name: str, state: str,
                                              error: str | None, timer: str | None) -> None:
    x = parse_protocol_detail(fixture(d, name))
    assert x.proto == "BGP" and x.bgp_state == state and not x.established
    assert x.last_error == error
    assert x.neighbor_as == 64512 and x.neighbor_address is not None
    assert x.hold_timer is None and x.neighbor_id is None
    if timer:
        assert x.timers[timer].total >= 1  # error wait doubles after each error
    if state == "Down":
        assert x.state == "down" and x.routes is None
    else:
        assert x.state == "start"


def test_detail_non_bgp_protocols(d: str) -> None:
    kernel = parse_protocol_detail(fixture(d, "show-protocols-all-kernel1"))
    assert (kernel.proto, kernel.bgp_state, kernel.neighbor_address) == ("Kernel", None, None)
    assert kernel.preference == 10 and kernel.import_filter == "ACCEPT"
    assert kernel.routes is not None and kernel.routes.imported == 1  # the learned ECMP route
    assert kernel.routes.filtered is None
    direct = parse_protocol_detail(fixture(d, "show-protocols-all-direct1"))
    assert direct.proto == "Direct" and direct.preference == 240


def test_detail_of_an_error_reply_is_an_error(d: str) -> None:
    text = fixture(d, "error-not-a-protocol")
    assert parse_protocols(text) == [] and parse_protocols_all(text) == []
    with pytest.raises(ValueError, match="no protocol"):
        parse_protocol_detail(text)


# ------------------------------------------------------------------ show route

def test_show_route_before_the_push(d: str) -> None:
    routes = by_prefix(parse_routes(fixture(d, "show-route")))
    assert set(routes) == {"10.0.1.0/24", "10.77.0.0/24",
                           "10.50.0.0/28", "10.50.0.16/28", "10.50.0.32/28"}
    for name, block in [("control1", "10.50.0.0/28"), ("worker1", "10.50.0.16/28"),
                        ("worker2", "10.50.0.32/28")]:
        (path,) = routes[block].paths
        assert (path.protocol, path.gateway, path.interface) == (name, NODE_IPS[name], "eth0")
        assert path.primary and path.kind == "unicast" and path.preference == 100
        assert path.info == "[i]" and path.attributes is None
    direct = routes["10.0.1.0/24"].paths[0]
    assert (direct.protocol, direct.gateway, direct.interface, direct.preference) == \
        ("direct1", None, "eth0", 240)
    assert {p.table for r in routes.values() for p in r.paths} == \
        ({None} if d == "1.6" else {"master4"})


def test_kernel_ecmp_route_has_weighted_next_hops(d: str) -> None:
    (route,) = parse_routes(fixture(d, "show-route-for-kernel-ecmp"))
    (path,) = route.paths
    assert route.prefix == "10.77.0.0/24" and path.protocol == "kernel1" and path.primary
    assert path.kind == "multipath" and path.gateway is None
    assert [(h.gateway, h.interface, h.weight) for h in path.next_hops] == \
        [("10.0.1.12", "eth0", 1), ("10.0.1.13", "eth0", 1)]
    assert path.attributes is not None
    assert path.attributes.source == "inherit"
    assert path.attributes.extra == {"Kernel.source": "3", "Kernel.metric": "0"}


def test_filtered_routes_are_the_lb_range(d: str) -> None:
    (route,) = parse_routes(fixture(d, "show-route-filtered"))
    assert route.prefix == "10.10.10.0/26"
    assert {p.protocol: p.gateway for p in route.paths} == NODE_IPS
    assert sum(p.primary for p in route.paths) == 1
    (all_route,) = parse_routes(fixture(d, "show-route-filtered-all"))
    assert all(p.attributes is not None and p.attributes.source == "BGP" for p in all_route.paths)
    assert parse_routes(fixture(d, "lb-show-route-filtered")) == []


def test_lb_route_has_three_equal_paths_with_attributes(d: str) -> None:
    (route,) = parse_routes(fixture(d, "lb-show-route-for-all"))
    assert route.prefix == "10.10.10.0/26" and len(route.paths) == 3
    assert {p.protocol: p.gateway for p in route.paths} == NODE_IPS
    assert route.primary is not None and route.primary is route.paths[0]
    for p in route.paths:
        a = p.attributes
        assert a is not None and p.gateway is not None
        assert a.type == ("BGP unicast univ" if d == "1.6" else "BGP univ")
        assert (a.origin, a.as_path, a.local_pref, a.med) == ("IGP", (), 100, None)
        assert a.next_hop == p.gateway
        if p.protocol == "worker1":
            assert a.communities == ((64512, 100),)
            assert a.large_communities == ((64512, 1, 2),)
        else:
            assert a.communities == () and a.large_communities == ()
    (short,) = parse_routes(fixture(d, "lb-show-route-for"))
    assert [p.gateway for p in short.paths] == [p.gateway for p in route.paths]


def test_kernel_export_merges_the_three_paths(d: str) -> None:
    routes = by_prefix(parse_routes(fixture(d, "lb-show-route-export-kernel1")))
    (lb,) = routes["10.10.10.0/26"].paths
    assert lb.kind == "multipath" and lb.gateway is None
    assert [(h.gateway, h.weight) for h in lb.next_hops] == \
        [("10.0.1.11", 1), ("10.0.1.12", 1), ("10.0.1.13", 1)]
    # BIRD 1.6 prints the merged route without the primary mark, BIRD 2 with it
    assert lb.primary == (d == "2")
    assert "10.77.0.0/24" not in routes  # learned from the kernel, not sent back


def test_show_route_all_after_the_push(d: str) -> None:
    routes = by_prefix(parse_routes(fixture(d, "lb-show-route-all")))
    assert len(routes) == 6 and len(routes["10.10.10.0/26"].paths) == 3
    assert all(p.attributes is not None for r in routes.values() for p in r.paths)
    assert routes["10.0.1.0/24"].paths[0].attributes is not None
    assert routes["10.0.1.0/24"].paths[0].attributes.source == "device"


def test_show_route_protocol(d: str) -> None:
    routes = parse_routes(fixture(d, "lb-show-route-protocol-worker1"))
    assert {r.prefix for r in routes} == {"10.10.10.0/26", "10.50.0.16/28"}
    assert {p.protocol for r in routes for p in r.paths} == {"worker1"}
    assert by_prefix(routes)["10.50.0.16/28"].paths[0].primary
    (only,) = parse_routes(fixture(d, "show-route-protocol-control1"))
    assert only.prefix == "10.50.0.0/28"


def test_node_blackholes_and_ebgp_attributes(d: str) -> None:
    routes = by_prefix(parse_routes(fixture(d, "node-show-route")))
    lb = routes["10.10.10.0/26"]
    assert lb.primary is not None and lb.primary.kind == "blackhole"
    assert lb.primary.protocol == "static1" and lb.primary.next_hops == []
    assert lb.primary.gateway is None and lb.primary.preference == 200
    assert [p.primary for p in lb.paths] == [True, False, False]

    ext = by_prefix(parse_routes(fixture(d, "node2-show-route-all")))["10.60.0.0/24"].paths[0]
    assert ext.protocol == "Ext_10_0_1_16" and ext.info == "[AS65000i]"
    assert ext.attributes is not None
    assert ext.attributes.as_path == (65000,) and ext.attributes.med == 50
    assert ext.attributes.communities == ((65000, 7),)
    assert ext.attributes.large_communities == ((65000, 7, 9),)


def test_node_down_leaves_two_paths(d: str) -> None:
    (route,) = parse_routes(fixture(d, "node-down-show-route-for-all"))
    assert {p.protocol for p in route.paths} == {"control1", "worker1"}


def test_route_count(d: str) -> None:
    before = route_count(fixture(d, "show-route-count"))
    assert (before.shown, before.total, before.networks) == (5, 5, 5)
    assert route_count(fixture(d, "show-route")) == before
    after = route_count(fixture(d, "lb-show-route-count"))
    assert (after.shown, after.networks) == (8, 6)
    assert route_count(fixture(d, "lb-show-route")) == after


def test_error_replies_parse_to_nothing(d: str) -> None:
    for name in ("error-syntax", "error-network-not-found", "error-not-a-protocol"):
        assert parse_routes(fixture(d, name)) == []
        assert route_count(fixture(d, name)).shown == 0


# ------------------------------------------------------------------ robustness

def test_parsers_never_fail_on_any_text() -> None:
    texts = [p.read_text() for d in DIALECTS for p in sorted((FIXTURES / d).glob("*.txt"))]
    rng = random.Random(7)
    lines = [ln for t in texts for ln in t.splitlines()]
    for _ in range(300):
        texts.append("\n".join(rng.choice(lines) for _ in range(rng.randint(1, 30))))
    texts += ["", "\n\n", "\t", "garbage [x", "1.2.3.4/5 [p", "name proto table state since info"]
    for text in texts:
        parse_protocols(text)
        parse_protocols_all(text)
        parse_routes(text)
        route_count(text)
        dialect(text)


def test_unknown_lines_are_skipped() -> None:
    text = fixture("1.6", "lb-show-route-for-all").replace(
        "\tBGP.origin: IGP\n", "\tBGP.origin: IGP\nsomething new\n\tBGP.future_attr: 1 2\n", 1)
    (route,) = parse_routes(text)
    assert len(route.paths) == 3
    assert route.paths[0].attributes is not None
    assert route.paths[0].attributes.extra == {"BGP.future_attr": "1 2"}


def test_ipv6_text_does_not_break_the_parser() -> None:
    # Shapes of BIRD 2's IPv6 table (the client's live test checks a real one).
    text = ("Table master6:\n"
            "2001:db8:10::/48     unicast [bgp6 12:00:00.000 from fe80::2] * (100) [AS65000i]\n"
            "\tvia fe80::2 on eth0\n"
            "2001:db8:20::/48     blackhole [static6 12:00:00.000] * (200)\n")
    routes = by_prefix(parse_routes(text))
    p = routes["2001:db8:10::/48"].paths[0]
    assert (p.gateway, p.from_address, p.metric, p.table) == ("fe80::2", "fe80::2", None, "master6")
    assert routes["2001:db8:20::/48"].paths[0].kind == "blackhole"


def test_iso_long_timestamps() -> None:
    text = ("name     proto    table    state  since       info\n"
            "bgp1     BGP      master   up     2026-11-26 10:00:00  Established\n")
    (row,) = parse_protocols(text)
    assert (row.since, row.info) == ("2026-11-26 10:00:00", "Established")
    (route,) = parse_routes("10.0.0.0/8 via 10.0.0.1 on eth0 [bgp1 2026-11-26 10:00:00] * (100/20)")
    assert route.paths[0].since == "2026-11-26 10:00:00" and route.paths[0].metric == 20
