"""Validating and pushing bird.conf changes to a running bastion, on BIRD 1.6 and on BIRD 2: bad
inputs refused with the router untouched, a good change confirmed without a session reset, a change
that loses the LoadBalancer routes refused (and, forced, rolled back by the checks), leaks flagged,
the filter edited as data, and validation outside any lab."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest

from orchestrator import PROJECT_ROOT, lab
from orchestrator.bastion import _bgp_connections
from orchestrator.engines.netns import namespaces as netns
from orchestrator.bird import parse
from orchestrator.bird.binaries import bird_binaries
from orchestrator.errors import LabError
from orchestrator.rundir import RunDir
from orchestrator.state import LabState, lab_of_ns, run_dir

from .helpers import gwlab

pytestmark = pytest.mark.lab
LB = "10.10.10.0/26"
LB_LINE = "    if (net ~ 10.10.10.0/26) then accept;\n"
NODES = {"control1": "10.0.1.11", "worker1": "10.0.1.12", "worker2": "10.0.1.13"}
NAMES = {"1": "BIRD 1.6", "2": "BIRD 2"}


@pytest.fixture(params=["1", "2"], ids=["bird1.6", "bird2"])
def dialect(request: pytest.FixtureRequest) -> str:
    try:
        bird_binaries(request.param)
    except LabError as exc:
        pytest.skip(str(exc))
    return str(request.param)


@pytest.fixture
def bastion(lab_name: str, dialect: str) -> Iterator[Path]:
    """A lab up with the bastion on `dialect`; yields the bastion's bird.conf."""
    out = json.loads(gwlab("up", "--lab", lab_name, "--bastion-bird", dialect, "--json", check=False).stdout)
    bgp = [c for c in out["checks"] if "BGP" in c["check"] or "10.10.10.0/26" in c["check"] or "pod block" in c["check"]]
    assert bgp and all(c["ok"] for c in bgp), out
    # up pushed its own filter through the same path: parse, configure check/timeout, checks, confirm.
    assert [s.split(":")[0] for s in out["push"]] == ["configure check", "configure timeout 30", "configure confirm"]
    yield RunDir(lab_name).node("bastion").bird_config


@dataclass(frozen=True)
class RouterView:
    """What an untouched bastion keeps: BIRD's pid, the TCP connection of each BGP session (a reset
    makes a new one), and `show protocols all` and `show route all` word for word, every route and
    update counter included, but for what moves by itself: the instants (BIRD derives a past instant
    from the current time, and prints the same one 1 s apart on BIRD 1.6, 1 ms apart on BIRD 2) and
    the running hold and keepalive timers. A reload or a route change moves the counters."""

    pid: int
    sessions: frozenset[tuple[str, int, str, int]]
    text: str


STAMP = re.compile(r"\b\d\d:\d\d:\d\d(\.\d+)?\b")
TIMER = re.compile(r"(timer|delay|wait):(\s+)[\d.]+/")


def protocols(lab_name: str) -> str:
    return gwlab("birdc", "--lab", lab_name, "bastion", "show", "protocols").stdout


def sessions(lab_name: str) -> frozenset[tuple[str, int, str, int]]:
    """The bastion's BGP sessions as TCP connections (local, port, remote, port)."""
    return frozenset(_bgp_connections(bird_pid(lab_name)))


def router(lab_name: str) -> RouterView:
    text = (gwlab("birdc", "--lab", lab_name, "bastion", "show", "protocols", "all").stdout
            + gwlab("birdc", "--lab", lab_name, "bastion", "show", "route", "all").stdout)
    view = RouterView(bird_pid(lab_name), sessions(lab_name), TIMER.sub(r"\1:\2X/", STAMP.sub("HH:MM:SS", text)))
    assert sorted(remote for _, _, remote, _ in view.sessions) == sorted(NODES.values()), view.sessions
    assert "Import updates:" in view.text and "10.10.10.0/26" in view.text, view.text
    return view


def bird_pid(lab_name: str) -> int:
    state = LabState.load(lab_name)
    proc = state.process("bird:bastion") if state else None
    assert proc is not None
    return proc.pid


def lb_route(lab_name: str) -> parse.Route | None:
    routes = parse.parse_routes(gwlab("birdc", "--lab", lab_name, "bastion", "show", "route", "all").stdout)
    return next((r for r in routes if r.prefix == LB), None)


def push(lab_name: str, path: Path | str, *extra: str) -> tuple[int, dict[str, Any], str]:
    out = gwlab("bird", "push", "--lab", lab_name, str(path), "--json", *extra, check=False)
    return out.returncode, json.loads(out.stdout), out.stderr


def no_scratch_left(lab_name: str) -> None:
    """Nothing of the route-policy test's scratch routers is left (other labs may be testing theirs)."""
    assert not [n for n in netns.list_names() if ".scratch-" in n and lab_of_ns(n) == lab_name]
    assert not (run_dir(lab_name) / "scratch").exists() or not any((run_dir(lab_name) / "scratch").iterdir())


def bad_inputs(conf: Path, dialect: str, tmp: Path) -> dict[str, tuple[Path, int, list[str]]]:
    """name -> (file, exit code of validate and push, what the verdict must say)."""
    running = conf.read_text()
    other = "2" if dialect == "1" else "1"
    topo = lab.load_topology(None, None)
    from orchestrator.bird.config import bastion_config

    files = {
        "syntax error": running.replace(LB_LINE, LB_LINE.replace(";", "")),
        "undefined filter": running.replace("import filter cluster_import;", "import filter no_such_filter;"),
        "catch-all filter": running.replace(LB_LINE, "    accept;\n"),
        "empty file": "",
        "not a BIRD config": (Path(__file__).parents[2] / "lab/manifests/calico/20-bgp.yaml").read_text(),
        "other dialect": bastion_config(topo, "/tmp/x.log", other,
                                        (IPv4Network("10.50.0.0/24"), IPv4Network(LB))).render(),
    }
    out: dict[str, tuple[Path, int, list[str]]] = {}
    for name, text in files.items():
        p = tmp / (name.replace(" ", "-") + ".conf")
        p.write_text(text)
        out[name] = (p, 3 if name == "catch-all filter" else 1, [])
    line = running.splitlines().index(LB_LINE.rstrip("\n")) + 1
    out["syntax error"][2].extend([f"syntax-error.conf:{line + 1}:5: error: syntax error", "ends without `;`", "^"])
    out["undefined filter"][2].extend(["filter `no_such_filter` is not defined", "import filter no_such_filter;",
                                      "use a defined one: cluster_import"])
    out["catch-all filter"][2].extend(["leak", "0.0.0.0/0 (probe)"])
    out["empty file"][2].append("is empty")
    out["not a BIRD config"][2].append("is not a BIRD config")
    out["other dialect"][2].append(f"this is a {NAMES[other]} config, but bastion runs {NAMES[dialect]}")
    out["missing file"] = (tmp / "nope.conf", 1, ["cannot be read: No such file or directory"])
    out["a directory"] = (tmp, 1, ["is a directory"])
    return out


def test_bad_inputs_get_a_verdict_and_leave_the_router_untouched(lab_name: str, dialect: str, bastion: Path,
                                                                 tmp_path: Path) -> None:
    before, text = router(lab_name), bastion.read_text()
    (tmp_path / "in").mkdir()
    for name, (path, code, says) in bad_inputs(bastion, dialect, tmp_path / "in").items():
        val = gwlab("bird", "validate", "--lab", lab_name, str(path), check=False)
        assert val.returncode == code, (name, val.stdout, val.stderr)
        for s in says:
            assert s in val.stdout, (name, s, val.stdout)
        rc, out, err = push(lab_name, path)
        assert rc == code and out["status"] == ("refused-warnings" if code == 3 else "refused"), (name, out, err)
        assert out["steps"] == [] and "nothing was changed" in str(out["refused"])
    assert router(lab_name) == before  # the same BIRD, sessions, counters and routes
    assert bastion.read_text() == text
    assert sorted(p.name for p in bastion.parent.iterdir() if p.name.startswith(".bird.conf")) in ([], [".bird.conf.lock"])
    no_scratch_left(lab_name)
    # The leak, in detail: the default route and the rest would be accepted from every node.
    cat = json.loads(gwlab("bird", "validate", "--lab", lab_name, str(tmp_path / "in" / "catch-all-filter.conf"),
                           "--json", check=False).stdout)
    default = next(r for r in cat["routes"] if r["prefix"] == "0.0.0.0/0")
    assert default["probe"] and default["leak"] and default["accepted_before"] == []
    assert sorted(default["accepted_after"]) == sorted(NODES)
    assert [w["kind"] for w in cat["warnings"]] == ["leak"] and cat["exit"] == 3


def test_good_filter_change_is_confirmed_without_resetting_sessions(lab_name: str, dialect: str, bastion: Path,
                                                                    tmp_path: Path) -> None:
    pid, connections = bird_pid(lab_name), sessions(lab_name)
    assert sorted(remote for _, _, remote, _ in connections) == sorted(NODES.values()), connections
    cand = tmp_path / "good.conf"
    cand.write_text(bastion.read_text().replace(
        LB_LINE, "    if net ~ [ 10.10.10.0/26{26,32} ] then { bgp_local_pref = 200; accept; }\n"))
    val = gwlab("bird", "validate", "--lab", lab_name, str(cand))
    assert "verdict: clean (exit 0)" in val.stdout and "+    if net ~ [ 10.10.10.0/26{26,32} ]" in val.stdout
    rc, out, _ = push(lab_name, cand)
    assert rc == 0 and out["status"] == "confirmed" and out["sessions_reset"] == [], out
    assert all(c["ok"] for c in out["checks"]) and out["steps"][-1].startswith("configure confirm")
    assert bastion.read_text() == cand.read_text()
    route = lb_route(lab_name)
    assert route and {p.gateway for p in route.paths} == set(NODES.values())
    assert all(p.attributes and p.attributes.local_pref == 200 for p in route.paths)  # the new filter runs
    # No session was re-made: the same BIRD holds the same TCP connection to every node.
    assert bird_pid(lab_name) == pid and sessions(lab_name) == connections
    after = {p.name: p for p in parse.parse_protocols(protocols(lab_name))}
    assert all(after[name].established for name in NODES), after
    assert json.loads(gwlab("verify", "--lab", lab_name, "--json", check=False).stdout)["ok"]
    no_scratch_left(lab_name)


def test_losing_the_lb_routes_is_refused_and_forced_it_is_rolled_back(lab_name: str, dialect: str,
                                                                        bastion: Path, tmp_path: Path) -> None:
    text, before = bastion.read_text(), router(lab_name)
    cand = tmp_path / "loss.conf"
    cand.write_text(text.replace(LB_LINE, ""))  # parses: only the LoadBalancer prefix is gone
    assert gwlab("bird", "validate", "--lab", lab_name, "--parse-only", str(cand)).returncode == 0
    rc, out, _ = push(lab_name, cand)
    assert rc == 3 and out["status"] == "refused-warnings"
    lost = [r for r in out["validation"]["routes"] if r["lost_from"]]
    # The pool's /26 from every node, and the Gateway's /32 (externalTrafficPolicy Local) from the
    # one node running its proxy.
    assert [(r["prefix"], sorted(r["lost_from"])) for r in lost if r["prefix"] == LB] == [(LB, sorted(NODES))]
    slash32 = [r for r in lost if r["prefix"] != LB]
    assert [r["prefix"] for r in slash32] == ["10.10.10.0/32"] and len(slash32[0]["lost_from"]) == 1
    assert router(lab_name) == before and bastion.read_text() == text
    rc, out, _ = push(lab_name, cand, "--force")
    assert rc == 4 and out["status"] == "rolled-back", out
    failed = {c["check"] for c in out["failed"]}
    assert f"{LB} in the bastion's BGP table" in failed and f"{LB} in the bastion's kernel" in failed
    assert [s.split(":")[0] for s in out["steps"]] == [
        "configure check", "configure timeout 30", "configure undo"]
    assert out["restored"] and all(c["ok"] for c in out["restored"])
    assert bastion.read_text() == text
    route = lb_route(lab_name)
    assert route and {p.gateway for p in route.paths} == set(NODES.values())
    assert json.loads(gwlab("verify", "--lab", lab_name, "--json", check=False).stdout)["ok"]


def test_a_change_that_breaks_a_session_is_flagged(lab_name: str, dialect: str, bastion: Path,
                                                   tmp_path: Path) -> None:
    cand = tmp_path / "as.conf"
    text = bastion.read_text()
    cand.write_text(text.replace("neighbor 10.0.1.12 as 64512;", "neighbor 10.0.1.12 as 64999;"))
    out = json.loads(gwlab("bird", "validate", "--lab", lab_name, str(cand), "--json", check=False).stdout)
    assert out["exit"] == 3
    kinds = {w["kind"] for w in out["warnings"]}
    assert kinds == {"loss", "session"}, out["warnings"]
    assert out["sessions"]["worker1"]["after"]["established"] is False
    assert "bad peer AS" in out["sessions"]["worker1"]["after"]["problem"]
    lost = {r["prefix"] for r in out["routes"] if r["lost_from"] == ["worker1"]}
    assert lost == {LB, "10.50.0.16/28"}


def test_filter_as_data(lab_name: str, dialect: str, bastion: Path, tmp_path: Path) -> None:
    show = gwlab("bird", "filter", "show", "--lab", lab_name, "--json").stdout
    assert json.loads(show)["accepted"] == ["10.50.0.0/24", LB]
    workshop = bastion.read_text()
    out = gwlab("bird", "filter", "add", "--lab", lab_name, "10.99.0.0/16", check=False)
    assert out.returncode == 3 and "leak" in out.stdout and "10.99.0.0/16 (probe)" in out.stdout
    out = gwlab("bird", "filter", "add", "--lab", lab_name, "10.10.10.1/26", check=False)
    assert out.returncode == 1 and "host bits set (fix: write 10.10.10.0/26)" in out.stderr
    out = gwlab("bird", "filter", "remove", "--lab", lab_name, LB, check=False)
    assert out.returncode == 3 and "loss" in out.stdout and bastion.read_text() == workshop
    # Forced, the removal is what was asked for: the checks expect only what the filter accepts.
    out = gwlab("bird", "filter", "remove", "--lab", lab_name, LB, "--force", "--json", check=False)
    assert out.returncode == 0 and json.loads(out.stdout)["status"] == "confirmed", out.stdout
    assert lb_route(lab_name) is None
    assert json.loads(gwlab("bird", "filter", "show", "--lab", lab_name, "--json").stdout)["accepted"] == ["10.50.0.0/24"]
    out = gwlab("bird", "filter", "add", "--lab", lab_name, LB, "--json", check=False)
    assert out.returncode == 0 and json.loads(out.stdout)["status"] == "confirmed"
    assert bastion.read_text() == workshop  # the same text the workshop's sed gives
    route = lb_route(lab_name)
    assert route and {p.gateway for p in route.paths} == set(NODES.values())
    assert "already accepted" in gwlab("bird", "filter", "add", "--lab", lab_name, LB).stdout
    # A config pushed by hand: its filter is no longer data, and the filter verbs say so.
    cand = tmp_path / "hand.conf"
    cand.write_text(workshop + "# by hand\n")
    assert push(lab_name, cand)[0] == 0
    out = gwlab("bird", "filter", "add", "--lab", lab_name, "10.50.0.0/25", check=False)
    assert out.returncode == 1 and "pushed by hand" in out.stderr


def validate_without_lab(*args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """`gwlab bird validate --no-lab ARGS`, and the lab name its scratch namespaces took: validate<pid>
    (other tests may be validating at the same time)."""
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "bird", "validate", "--no-lab", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), f"validate{proc.pid}"


def test_validate_outside_any_lab_with_routes(dialect: str, tmp_path: Path) -> None:
    from orchestrator.bird.config import bastion_config

    log = tmp_path / "would-be.log"
    conf = tmp_path / "bird.conf"
    topo = lab.load_topology(None, None)
    conf.write_text(bastion_config(topo, str(log), dialect, (IPv4Network("10.50.0.0/24"), IPv4Network(LB))).render())
    routes = tmp_path / "routes.txt"
    routes.write_text(f"{LB}\n10.50.0.16/28 worker1\n192.0.2.0/24 control1\n")
    out, scratch_lab = validate_without_lab("--bird", dialect, str(conf), "--routes", str(routes), "--json")
    assert not [n for n in netns.list_names() if lab_of_ns(n) == scratch_lab]
    assert out.returncode == 0, out.stdout + out.stderr
    rep = json.loads(out.stdout)
    rows = {r["prefix"]: r for r in rep["routes"]}
    assert sorted(rows[LB]["accepted_after"]) == sorted(NODES) and rows[LB]["accepted_before"] is None
    assert rows["10.50.0.16/28"]["accepted_after"] == ["worker1"]
    assert rows["192.0.2.0/24"]["accepted_after"] == [] and not rows["192.0.2.0/24"]["leak"]
    assert not log.exists()  # the scratch BIRD logged into its scratch directory
    conf.write_text(conf.read_text().replace(LB_LINE, "    accept;\n"))
    out, scratch_lab = validate_without_lab("--bird", dialect, str(conf), "--routes", str(routes))
    assert out.returncode == 3 and "192.0.2.0/24 (advertised by control1)" in out.stdout
    assert not [n for n in netns.list_names() if lab_of_ns(n) == scratch_lab]
    assert not log.exists()


def test_the_scratch_router_never_gets_a_default_route(dialect: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A catch-all filter accepts the 0.0.0.0/0 probe; the scratch namespace's kernel table stays empty."""
    from orchestrator.bastion import workshop_ranges
    from orchestrator.bird import policy
    from orchestrator.bird.config import bastion_config
    from orchestrator.bird.validate import RoutesSpec, Target, validate

    seen: list[str] = []
    collect = policy.Scratch.collect

    def spy(self: policy.Scratch, outcomes: dict[str, policy.SessionOutcome],
            deadline: float) -> tuple[dict[str, policy.SessionOutcome], list[str]]:
        got = collect(self, outcomes, deadline)
        with netns.inside(self.router_ns):
            seen.append(subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True,
                                       text=True, check=True).stdout)
        return got
    monkeypatch.setattr(policy.Scratch, "collect", spy)
    text = bastion_config(lab.load_topology(None, None), str(tmp_path / "x.log"), dialect,
                          (IPv4Network("10.50.0.0/24"), IPv4Network(LB))).render().replace(LB_LINE, "    accept;\n")
    target = Target(node="", dialect=dialect, policy=True, declared=workshop_ranges())
    rep = validate(text, target, "catch-all", RoutesSpec(((IPv4Network(LB), ()),)))
    assert rep.policy is not None
    default = next(r for r in rep.policy.rows if str(r.prefix) == "0.0.0.0/0")
    assert default.leak and seen and all("default" not in s and "10.10.10.0/26" not in s for s in seen), seen


def test_what_the_nodes_advertise_reads_the_same_from_the_bastion(lab_name: str, dialect: str, bastion: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a node's BIRD cannot be asked, the feed comes from what the bastion received (it keeps
    filtered routes): the same routes with the same attributes."""
    from orchestrator.bastion import node_feeders

    running = lab.open_lab(None, lab_name)
    direct = {f.name: sorted((str(r.prefix), r.attrs) for r in f.routes) for f in node_feeders(running.topo, running.engine)}
    assert set(direct) == set(NODES) and all(direct.values())
    real = running.engine.birdc

    def bastion_only(node: str, command: str) -> object:
        if node != running.topo.bastion.name:
            raise LabError(f"{node}: not reachable")
        return real(node, command)
    monkeypatch.setattr(running.engine, "birdc", bastion_only)
    fallback = {f.name: sorted((str(r.prefix), r.attrs) for r in f.routes)
                for f in node_feeders(running.topo, running.engine)}
    assert fallback == direct
