"""Validation of a bird.conf without a lab: reading, the real `bird -p` of each dialect, the verdicts
of the route-policy test from given runs, the BGP messages that feed the scratch BIRD."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from orchestrator.bird import bgpfeed, conftext, policy
from orchestrator.bird.binaries import bird_binaries
from orchestrator.bird.config import bastion_config
from orchestrator.bird.policy import FedRoute, Feeder, PolicyRun, SessionOutcome
from orchestrator.bird.validate import (
    EXIT_ERRORS,
    EXIT_OK,
    Diagnostic,
    Target,
    ValidationReport,
    content_problems,
    parse_check,
    read_candidate,
    read_routes,
    validate,
)
from orchestrator.bird.validate.run import _findings, _rows
from orchestrator.errors import LabError
from orchestrator.topology import load as load_topology

N = IPv4Network
LB, POOL = N("10.10.10.0/26"), N("10.50.0.0/24")


def _installed(dialect: str) -> bool:
    try:
        bird_binaries(dialect)
        return True
    except LabError:
        return False


needs_bird1 = pytest.mark.skipif(not _installed("1"), reason="BIRD 1.6 not installed (make deps)")
needs_both = pytest.mark.skipif(not (_installed("1") and _installed("2")), reason="BIRD 1.6 and 2 needed")


def workshop_conf(dialect: str, accepted: tuple[IPv4Network, ...] = (POOL, LB), log: str = "/nonexistent/x.log") -> str:
    topo = load_topology(Path(__file__).resolve().parents[2] / "topology.clab.yml")
    return bastion_config(topo, log, dialect, accepted).render()


# ---------------------------------------------------------------- conftext

def test_mask_comments_keeps_length_lines_and_strings() -> None:
    text = 'log "a#b" all; # comment\n/* two\nlines */ router id 1.2.3.4;\n'
    masked = conftext.mask_comments(text)
    assert len(masked) == len(text) and masked.count("\n") == text.count("\n")
    assert '"a#b"' in masked and "comment" not in masked and "two" not in masked
    assert masked.splitlines()[2].strip() == "router id 1.2.3.4;"


def test_redirect_moves_logs_and_makes_includes_absolute(tmp_path: Path) -> None:
    text = 'log "/var/log/bird.log" all;\ninclude "sub/x.conf";\ninclude "/abs.conf";\n# log "/no.log";\n'
    red = conftext.redirect(text, Path("/etc/bird"), tmp_path)
    lines = red.text.splitlines()
    assert lines[0] == f'log "{tmp_path}/log.0" all;'
    assert lines[1] == 'include "/etc/bird/sub/x.conf";'
    assert lines[2] == 'include "/abs.conf";' and lines[3] == '# log "/no.log";'
    assert red.redirected == ("/var/log/bird.log",)
    # A column after the rewritten path maps back by the length difference; before it, unchanged.
    delta = len(f"{tmp_path}/log.0") - len("/var/log/bird.log")
    assert red.original_col(1, 30 + delta) == 30 and red.original_col(1, 3) == 3
    assert red.original_col(2, 5) == 5


def test_statements_and_guesses() -> None:
    conf = workshop_conf("1")
    assert conftext.has_statements(conf) and conftext.looks_like_bird(conf)
    assert not conftext.has_statements("# nothing\n/* at all */\n\n")
    assert not conftext.looks_like_bird("apiVersion: v1\nkind: Service\n")
    assert conftext.guess_local_address(conf) == IPv4Address("10.0.1.10")
    assert conftext.guess_interface(conf) == "eth1"
    assert conftext.neighbor_addresses(conf) == [IPv4Address(f"10.0.1.1{i}") for i in (1, 2, 3)]
    assert conftext.mentioned_prefixes(conf) == [POOL, LB]
    assert conftext.mentioned_prefixes("# 10.9.0.0/16\nif net ~ 10.1.2.3/16 then accept;") == [N("10.1.0.0/16")]


# ---------------------------------------------------------------- reading

def test_unreadable_binary_empty(tmp_path: Path) -> None:
    text, problems = read_candidate(tmp_path / "missing.conf", "missing.conf")
    assert text is None and problems[0].kind == "unreadable" and "No such file" in problems[0].message
    text, problems = read_candidate(tmp_path, "dir")
    assert text is None and "directory" in problems[0].message
    (tmp_path / "bin").write_bytes(b"\x7fELF\x00\x01")
    assert read_candidate(tmp_path / "bin", "bin")[1][0].kind == "binary"
    (tmp_path / "latin").write_bytes(b"router id 1.2.3.4;\n# caf\xe9\n")
    problems = read_candidate(tmp_path / "latin", "latin")[1]
    assert problems[0].kind == "binary" and problems[0].line == 2
    assert content_problems("", "e")[0].kind == "empty"
    assert "only comments" in content_problems("# a\n/* b */\n", "e")[0].message
    assert content_problems("router id 1.2.3.4;", "e") == []


def test_diagnostic_renders_file_line_col_and_caret_under_tabs() -> None:
    d = Diagnostic("error", "parse", "x.conf", "syntax error", 3, 3, "\tab;", fix="add it")
    assert d.render() == "x.conf:3:3: error: syntax error\n            ab;\n             ^\n    fix: add it"


# ---------------------------------------------------------------- the real parser

@needs_bird1
def test_syntax_error_points_at_the_line_and_the_missing_semicolon(tmp_path: Path) -> None:
    conf = workshop_conf("1").replace("if (net ~ 10.10.10.0/26) then accept;", "if (net ~ 10.10.10.0/26) then accept")
    [d] = parse_check(conf, "1", "cand.conf", tmp_path)
    lines = conf.splitlines()
    line = next(i for i, ln in enumerate(lines, 1) if ln.strip() == "reject;")
    assert (d.kind, d.file, d.line, d.col) == ("parse", "cand.conf", line, 5)
    assert d.source == "    reject;" and "syntax error" in d.message
    assert f"line {line - 1} ends without `;`" in d.fix


@needs_bird1
def test_undefined_filter_is_named(tmp_path: Path) -> None:
    conf = workshop_conf("1").replace("import filter cluster_import;", "import filter no_such;")
    [d] = parse_check(conf, "1", "cand.conf", tmp_path)
    assert "No such filter" in d.message and d.source and d.source.strip() == "import filter no_such;"
    assert d.source[d.col - 1:].startswith("no_such")  # type: ignore[operator]


@needs_both
@pytest.mark.parametrize("config_dialect, router", [("2", "1"), ("1", "2")])
def test_the_other_dialect_is_recognised(tmp_path: Path, config_dialect: str, router: str) -> None:
    [d] = parse_check(workshop_conf(config_dialect), router, "cand.conf", tmp_path, "bastion")
    name = {"1": "BIRD 1.6", "2": "BIRD 2"}
    assert d.kind == "dialect"
    assert f"this is a {name[config_dialect]} config, but bastion runs {name[router]}" in d.message
    assert d.line and d.source is not None


@needs_bird1
def test_not_a_bird_config(tmp_path: Path) -> None:
    [d] = parse_check("apiVersion: v1\nkind: Service\n", "1", "svc.yaml", tmp_path)
    assert d.kind == "not-bird" and d.line == 1


@needs_bird1
def test_parse_check_writes_nothing_where_the_config_logs(tmp_path: Path) -> None:
    log = tmp_path / "would-be.log"
    assert parse_check(workshop_conf("1", log=str(log)), "1", "c", tmp_path) == []
    assert not log.exists()


@needs_bird1
def test_relative_include_resolves_from_the_file(tmp_path: Path) -> None:
    (tmp_path / "filters.conf").write_text("filter f { if net ~ 10.50.0.0/24 then accept; reject; }\n")
    main = 'include "filters.conf";\nrouter id 1.2.3.4;\nprotocol device {}\nprotocol static { import filter f; }\n'
    assert parse_check(main, "1", "main.conf", tmp_path) == []
    (tmp_path / "filters.conf").write_text("filter f { accept }\n")
    [d] = parse_check(main, "1", "main.conf", tmp_path)
    assert d.file.endswith("filters.conf") and d.line == 1 and d.source == "filter f { accept }"


@needs_bird1
def test_validate_exit_codes_without_a_lab(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.conf", tmp_path / "bad.conf"
    good.write_text(workshop_conf("1"))
    bad.write_text("router id 1.2.3.4;\nprotocol kernel { foo; }\n")
    target = Target(node="", dialect="1")
    rep = validate(good, target)
    assert rep.exit_code == EXIT_OK and rep.errors == [] and rep.diff is None
    assert "route-policy test skipped" in rep.notes[0]
    rep = validate(bad, target)
    assert rep.exit_code == EXIT_ERRORS and rep.errors[0].line == 2
    running = Target(node="bastion", dialect="1", running_path=good, running_text=good.read_text())
    rep = validate(workshop_conf("1", (POOL,)), running, "new")
    assert rep.diff and "-    if (net ~ 10.10.10.0/26) then accept;" in rep.diff


# ---------------------------------------------------------------- --routes FILE

def test_routes_file(tmp_path: Path) -> None:
    f = tmp_path / "routes"
    f.write_text("# LB\n10.10.10.0/26\n10.50.0.0/28 control1 10.0.1.12  # two peers\n\n")
    spec, problems = read_routes(f, "routes")
    assert problems == [] and spec is not None
    assert [r.prefix for r in spec.for_peer(("control1", "10.0.1.11"))] == [LB, N("10.50.0.0/28")]
    assert [r.prefix for r in spec.for_peer(("worker1", "10.0.1.12"))] == [LB, N("10.50.0.0/28")]
    assert [r.prefix for r in spec.for_peer(("worker2", "10.0.1.13"))] == [LB]
    f.write_text("10.10.10.1/26\nnope\n")
    spec, problems = read_routes(f, "routes")
    assert spec is None and [(p.line, p.col) for p in problems] == [(1, 1), (2, 1)]
    assert problems[0].fix == "write 10.10.10.0/26"
    f.write_text("# nothing\n")
    assert read_routes(f, "routes")[1][0].message == "holds no prefix"
    assert read_routes(tmp_path / "none", "none")[1][0].kind == "routes-file"


# ---------------------------------------------------------------- verdicts from runs

def _run(label: str, accepted: dict[str, set[IPv4Network]], feeders: list[Feeder],
         down: dict[str, str] | None = None) -> PolicyRun:
    sessions = {}
    for f in feeders:
        problem = (down or {}).get(f.name, "")
        sessions[f.name] = SessionOutcome(f.name, f.ip, f.name, not problem, problem, len(f.routes),
                                          frozenset(accepted.get(f.name, set())))
    return PolicyRun(label, sessions, 0.1, feeders)


def test_leaks_losses_and_sessions() -> None:
    probe = N("0.0.0.0/0")
    ext = N("192.0.2.0/24")
    feeders = [Feeder("control1", IPv4Address("10.0.1.11"), 64512,
                      (FedRoute(LB), FedRoute(N("10.50.0.0/28")), FedRoute(ext), FedRoute(probe, probe=True))),
               Feeder("worker1", IPv4Address("10.0.1.12"), 64512, (FedRoute(LB), FedRoute(probe, probe=True)))]
    target = Target(node="bastion", dialect="1", declared=(LB, POOL))
    before = _run("running", {"control1": {LB, N("10.50.0.0/28")}, "worker1": {LB}}, feeders)
    after = _run("candidate", {"control1": {N("10.50.0.0/28"), ext, probe}}, feeders,
                 {"worker1": "the config has no BGP protocol for neighbor 10.0.1.12"})
    rep = _rows("test", after, before, target, 0.1)
    rows = {(r.prefix, r.probe): r for r in rep.rows}
    assert rows[(LB, False)].lost == ("control1", "worker1") and not rows[(LB, False)].leak
    assert rows[(ext, False)].leak and rows[(ext, False)].before == ()
    assert rows[(probe, True)].leak and rows[(probe, True)].after == ("control1",)
    assert rows[(probe, True)].lost == ()  # a probe is never a loss
    assert not rows[(N("10.50.0.0/28"), False)].leak
    kinds = [d.kind for d in _findings(rep, target, "cand")]
    assert kinds == ["leak", "loss", "session"]
    # The same config before and after: nothing is lost, the leak is still a leak.
    same = _rows("test", before, before, target, 0.1)
    assert [d.kind for d in _findings(same, target, "c")] == []



def test_the_policy_table_in_the_report() -> None:
    feeders = [Feeder("control1", IPv4Address("10.0.1.11"), 64512, (FedRoute(LB), FedRoute(N("192.0.2.0/24"))))]
    target = Target(node="bastion", dialect="1", declared=(LB, POOL), declared_from="the lab's IPPools")
    after = _run("candidate", {"control1": {LB, N("192.0.2.0/24")}}, feeders)
    rep = ValidationReport("cand.conf", target, policy=_rows("the routes the nodes advertise", after, None, target, 0.5))
    lines = rep.render().splitlines()
    assert lines[1].startswith("route-policy test (0.50 s): the routes the nodes advertise, and probes outside")
    assert lines[2].split() == ["PREFIX", "FROM", "BEFORE", "AFTER", "FLAG"]
    assert lines[3].split() == ["10.10.10.0/26", "control1", "-", "accepted"]
    assert lines[4].split() == ["192.0.2.0/24", "control1", "-", "accepted", "LEAK"]

def test_probes_lie_outside_the_declared_ranges() -> None:
    found = policy.probes([LB, POOL], [N("10.0.1.0/24"), N("10.50.0.0/28")])
    assert N("0.0.0.0/0") in found and N("10.10.10.0/25") in found and N("10.10.10.64/26") in found
    assert N("10.50.0.0/23") in found and N("10.50.1.0/24") in found and N("10.0.1.0/24") in found
    assert N("10.50.0.0/28") not in found
    assert all(not any(p.subnet_of(r) for r in (LB, POOL)) for p in found)


def test_routes_from_a_nodes_export() -> None:
    text = """BIRD 1.6.8 ready.
10.10.10.0/26      blackhole [static2 07:58:16] * (200)
\tType: static unicast univ
\tBGP.origin: IGP
\tBGP.as_path: 
\tBGP.next_hop: 10.0.1.12
\tBGP.local_pref: 100
10.50.0.16/28      blackhole [static1 07:58:16] * (200)
\tType: static unicast univ
\tBGP.origin: Incomplete
\tBGP.as_path: 65001 65002
\tBGP.next_hop: 10.0.1.12
\tBGP.local_pref: 50
\tBGP.med: 7
\tBGP.community: (64512,1)
"""
    routes = policy.routes_from_export(text)
    assert [r.prefix for r in routes] == [LB, N("10.50.0.16/28")]
    assert routes[0].attrs == bgpfeed.PathAttrs()
    assert routes[1].attrs == bgpfeed.PathAttrs("Incomplete", (65001, 65002), 50, 7, ((64512, 1),))


# ---------------------------------------------------------------- the BGP messages

def _attrs(update: bytes) -> dict[int, tuple[int, bytes]]:
    body = update[19:]
    wlen = struct.unpack("!H", body[:2])[0]
    alen = struct.unpack("!H", body[2 + wlen:4 + wlen])[0]
    attrs, i, out = body[4 + wlen:4 + wlen + alen], 0, {}
    while i < len(attrs):
        flags, code = attrs[i], attrs[i + 1]
        if flags & 0x10:
            length, head = struct.unpack("!H", attrs[i + 2:i + 4])[0], 4
        else:
            length, head = attrs[i + 2], 3
        out[code] = (flags, attrs[i + head:i + head + length])
        i += head + length
    return out


def test_update_encoding() -> None:
    attrs = bgpfeed.PathAttrs("IGP", (65001,), 100, 7, ((64512, 1),), ((64512, 1, 2),))
    msgs = bgpfeed.update_messages([(LB, attrs), (N("0.0.0.0/0"), attrs)], IPv4Address("10.0.1.11"), True, True)
    assert len(msgs) == 2 and msgs[-1] == b"\xff" * 16 + b"\x00\x17\x02" + b"\x00\x00\x00\x00"  # End-of-RIB
    m = msgs[0]
    assert m[:16] == b"\xff" * 16 and struct.unpack("!H", m[16:18])[0] == len(m) and m[18] == 2
    a = _attrs(m)
    assert a[1] == (0x40, b"\x00") and a[3] == (0x40, bytes([10, 0, 1, 11]))
    assert a[2] == (0x40, b"\x02\x01" + struct.pack("!I", 65001))
    assert a[4] == (0x80, struct.pack("!I", 7)) and a[5] == (0x40, struct.pack("!I", 100))
    assert a[8] == (0xC0, struct.pack("!HH", 64512, 1)) and a[32] == (0xC0, struct.pack("!III", 64512, 1, 2))
    assert m.endswith(bytes([26, 10, 10, 10, 0]) + bytes([0]))  # 10.10.10.0/26 (4 octets), then 0.0.0.0/0
    ebgp = _attrs(bgpfeed.update_messages([(LB, attrs)], IPv4Address("10.0.1.11"), False, False)[0])
    assert 5 not in ebgp and ebgp[2][1] == b"\x02\x01" + struct.pack("!H", 65001)


def test_many_routes_split_into_messages_of_at_most_4096_bytes() -> None:
    routes = [(N(f"10.{i // 256}.{i % 256}.0/24"), bgpfeed.PathAttrs()) for i in range(3000)]
    msgs = bgpfeed.update_messages(routes, IPv4Address("10.0.1.11"), True, True)
    assert all(len(m) <= 4096 for m in msgs) and len(msgs) >= 4
    nlri = sum(len(m) - 19 - 4 - struct.unpack("!H", m[21:23])[0] for m in msgs[:-1])
    assert nlri == 3000 * 4


def test_open_and_its_answer() -> None:
    msg = bgpfeed.open_message(64512, IPv4Address("10.0.1.11"))
    body = msg[19:]
    assert body[0] == 4 and struct.unpack("!H", body[1:3])[0] == 64512 and body[5:9] == bytes([10, 0, 1, 11])
    assert bgpfeed.peer_open(body) == (64512, True)
    big = bgpfeed.open_message(4200000000, IPv4Address("10.0.1.11"))[19:]
    assert struct.unpack("!H", big[1:3])[0] == bgpfeed.AS_TRANS and bgpfeed.peer_open(big) == (4200000000, True)
    assert bgpfeed.describe_notification(bytes([2, 2])) == "NOTIFICATION 2/2 (bad peer AS)"


def test_routes_received_by_protocol_accepted_and_filtered() -> None:
    accepted = """10.10.10.0/26      via 10.0.1.11 on eth1 [control1 07:58:17] * (100) [i]
\tType: BGP unicast univ
\tBGP.origin: IGP
\tBGP.as_path: 
\tBGP.next_hop: 10.0.1.11
\tBGP.local_pref: 100
                   via 10.0.1.12 on eth1 [worker1 07:58:17] (100) [i]
\tType: BGP unicast univ
\tBGP.origin: IGP
\tBGP.as_path: 
\tBGP.next_hop: 10.0.1.12
\tBGP.local_pref: 100
"""
    filtered = """192.0.2.0/24       via 10.0.1.12 on eth1 [worker1 07:58:17] * (100) [i]
\tType: BGP unicast univ
\tBGP.origin: IGP
\tBGP.as_path: 
\tBGP.next_hop: 10.0.1.12
\tBGP.local_pref: 100
\tBGP.med: 5
"""
    got = policy.routes_received([accepted, filtered])
    assert [r.prefix for r in got["control1"]] == [LB]
    assert [(r.prefix, r.attrs.med) for r in got["worker1"]] == [(LB, None), (N("192.0.2.0/24"), 5)]
