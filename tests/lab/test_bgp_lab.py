"""The embedded BGP lab on real namespaces and real BIRD: up, verify, break, repair, down."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from orchestrator import PROJECT_ROOT, lab
from orchestrator.engines.netns import namespaces as netns
from orchestrator.bastion import _bgp_connections
from orchestrator.bird import parse
from orchestrator.state import LabState, lab_of_ns, run_dir

from .helpers import gwlab, leftovers, sized_topology

pytestmark = pytest.mark.lab
LB = IPv4Network("10.10.10.0/26")
NODES = {"control1": "10.0.1.11", "worker1": "10.0.1.12", "worker2": "10.0.1.13"}
WAIT = 30  # the most a test waits for an event it expects (BGP converging); it goes on as soon as it happens


def test_up_verify_birdc_and_down_leaves_nothing(lab_name: str) -> None:
    out = gwlab("up", "--lab", lab_name)
    assert "checks passed" in out.stdout and "FAIL" not in out.stdout, out.stdout
    assert "filtered by the bastion's import filter" in out.stdout

    protocols = gwlab("birdc", "--lab", lab_name, "bastion", "show", "protocols").stdout
    assert protocols.startswith("BIRD 1.6")
    rows = {p.name: p for p in parse.parse_protocols(protocols)}
    for name in NODES:
        assert rows[name].state == "up" and rows[name].info.startswith("Established"), protocols
    assert {"direct1", "kernel1", "device1"} <= set(rows)

    routes = gwlab("birdc", "--lab", lab_name, "bastion", "show", "route").stdout
    lb = [r for r in parse.parse_routes(routes) if r.prefix == str(LB)]
    assert len(lb) == 1 and {p.gateway for p in lb[0].paths} == set(NODES.values()), routes

    verify = json.loads(gwlab("verify", "--lab", lab_name, "--json").stdout)
    assert verify["ok"] and all(c["ok"] for c in verify["checks"])

    route = gwlab("exec", "--lab", lab_name, "bastion", "--", "ip", "route", "show", str(LB)).stdout
    assert route.count("nexthop via") == 3, route
    # Safety: no lab namespace has a default route, and the root namespace has no lab route.
    for ns in [n for n in netns.list_names() if lab_of_ns(n) == lab_name]:
        with netns.inside(ns):
            assert "default" not in subprocess.run(["ip", "route"], capture_output=True, text=True).stdout
    assert "10.10.10." not in subprocess.run(["ip", "route"], capture_output=True, text=True).stdout

    gwlab("down", "--lab", lab_name)
    assert leftovers(lab_name) == []
    assert "nothing to remove" in gwlab("down", "--lab", lab_name).stdout  # idempotent


def test_filter_push_is_the_workshop_sed(lab_name: str) -> None:
    """The pushed bird.conf is what the workshop's sed makes of the pre-existing one."""
    running = lab.Lab(lab.load_topology(None, lab_name), LabState(lab_name, "netns", ""), None)  # type: ignore[arg-type]
    before = running.bastion_config((IPv4Network("10.50.0.0/24"),)).render()
    after = running.bastion_config((IPv4Network("10.50.0.0/24"), LB)).render()
    sed = subprocess.run(
        ["sed", r"s/if (net ~ 10.50.0.0\/24) then accept;/if (net ~ 10.50.0.0\/24) then accept;\n"
                r"    if (net ~ 10.10.10.0\/26) then accept;/g"],
        input=before, capture_output=True, text=True, check=True).stdout
    assert sed == after


def test_external_ips_are_advertised_and_filtered(lab_name: str, tmp_path: Path) -> None:
    gwlab("up", "--lab", lab_name)
    pids = {p.role: p.pid for p in LabState.load(lab_name).processes}  # type: ignore[union-attr]
    sessions = _bgp_connections(pids["bird:bastion"])
    assert sorted(remote for _, _, remote, _ in sessions) == sorted(NODES.values()), sessions
    change = tmp_path / "bgp.yaml"
    change.write_text((PROJECT_ROOT / "lab/manifests/calico/20-bgp.yaml").read_text().replace(
        "  serviceLoadBalancerIPs:\n", "  serviceExternalIPs:\n  - cidr: 192.0.2.0/24\n  serviceLoadBalancerIPs:\n"))
    out = gwlab("apply", "--lab", lab_name, "-f", str(change))
    assert "bgpconfiguration.projectcalico.org/default configured" in out.stdout
    ext = None
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        filtered = gwlab("birdc", "--lab", lab_name, "bastion", "show", "route", "filtered").stdout
        ext = next((r for r in parse.parse_routes(filtered) if r.prefix == "192.0.2.0/24"), None)
        if ext and len(ext.paths) == 3:
            break
        time.sleep(0.1)
    assert ext is not None and {p.gateway for p in ext.paths} == set(NODES.values())
    # Reconfigured in place: no daemon was restarted, no BGP session re-made (the bastion holds the
    # same TCP connections), and the accepted table did not take it.
    assert {p.role: p.pid for p in LabState.load(lab_name).processes} == pids  # type: ignore[union-attr]
    assert _bgp_connections(pids["bird:bastion"]) == sessions
    table = gwlab("birdc", "--lab", lab_name, "bastion", "show", "route").stdout
    assert "192.0.2.0/24" not in table
    assert json.loads(gwlab("verify", "--lab", lab_name, "--json").stdout)["ok"]


def test_stopping_a_node_drops_its_next_hop_and_verify_names_it(lab_name: str) -> None:
    # BGP only: with the demo, worker1's pods would also become unreachable (its block is withdrawn
    # from the mesh), which the passthrough checks rightly report too.
    gwlab("up", "--lab", lab_name, "--bgp-only")
    running = lab.open_lab(None, lab_name)
    gwlab("bird", "stop", "--lab", lab_name, "worker1")
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        kernel = running.engine.kernel_routes("bastion", LB)
        if kernel and len(kernel[0].gateways) == 2:
            break
        time.sleep(0.05)
    assert kernel and kernel[0].gateways == (IPv4Address("10.0.1.11"), IPv4Address("10.0.1.13"))
    failed = gwlab("verify", "--lab", lab_name, check=False)
    assert failed.returncode == 1
    fails = [line for line in failed.stdout.splitlines() if line.startswith("FAIL")]
    assert fails and all("worker1" in line for line in fails), failed.stdout
    assert any("BGP session worker1" in line for line in fails)

    gwlab("bird", "start", "--lab", lab_name, "worker1")
    assert gwlab("verify", "--lab", lab_name, "--wait", str(WAIT)).returncode == 0
    assert len(running.engine.kernel_routes("bastion", LB)[0].gateways) == 3


def test_five_nodes_come_up_verified(lab_name: str, tmp_path: Path) -> None:
    topo = sized_topology(tmp_path, 4)
    out = gwlab("up", "--lab", lab_name, "-t", str(topo), "--json")
    result = json.loads(out.stdout)
    assert result["ok"], out.stdout
    names = {c["check"] for c in result["checks"]}
    assert {f"BGP session worker{i} (10.0.1.{11 + i})" for i in range(1, 5)} <= names
    gwlab("down", "--lab", lab_name)
    assert leftovers(lab_name) == []


def test_up_twice_says_already_up(lab_name: str) -> None:
    gwlab("up", "--lab", lab_name)
    again = gwlab("up", "--lab", lab_name, check=False)
    assert again.returncode == 1 and "already up" in again.stderr
    assert json.loads(gwlab("verify", "--lab", lab_name, "--json").stdout)["ok"]


def _wait_for_namespaces(lab_name: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not any(lab_of_ns(n) == lab_name for n in netns.list_names()):
        time.sleep(0.005)


def _read_until(proc: subprocess.Popen[bytes], text: str, out: bytearray) -> None:
    """Read up's output (flushed as it happens) into `out` until it holds `text`; "" reads to the end."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + WAIT
    while not text or text.encode() not in out:
        assert time.monotonic() < deadline, f"up never said {text!r}: {out.decode()}"
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                assert not text, f"up ended before it said {text!r}: {out.decode()}"
                return
            out += chunk


# Points of `up` where Ctrl-C lands: while it makes namespaces, once BIRD runs, after demo steps 1-4,
# after step 5. Each is followed by BGP coming up, which waits on BIRD's own timers (a second and
# more, never less on a slower machine): the signal always lands inside up.
POINTS = {"namespaces": "", "bird started": "BIRD started", "demo steps 1-4": "demo steps 1-4 applied",
          "demo step 5": "demo step 5 patched"}


@pytest.mark.parametrize("point", list(POINTS))
def test_ctrl_c_during_up_then_down_leaves_nothing(lab_name: str, point: str) -> None:
    """Ctrl-C at several points after up started making things: up removes what it made."""
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "up", "--lab", lab_name],
                            cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = bytearray()
    try:
        if POINTS[point]:
            _read_until(proc, POINTS[point], out)
        else:
            _wait_for_namespaces(lab_name)
        proc.send_signal(signal.SIGINT)
        _read_until(proc, "", out)
        proc.wait(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out.decode()
    assert "removed lab" in out.decode() and leftovers(lab_name) == [], out.decode()
    gwlab("down", "--lab", lab_name)
    assert leftovers(lab_name) == []


def test_killed_up_is_cleaned_by_down(lab_name: str) -> None:
    """SIGKILL gives no chance to roll back: the state file and our names let down find it all."""
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "up", "--lab", lab_name],
                            cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Once BIRD runs (its PIDs are in the state file): down must stop daemons it did not start itself.
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and not any(
            p.role.startswith("bird:") for p in (LabState.load(lab_name) or LabState(lab_name, "", "")).processes):
        time.sleep(0.005)
    proc.kill()
    proc.wait()
    assert leftovers(lab_name), "up was killed before it made anything: the test proves nothing"
    gwlab("down", "--lab", lab_name)
    assert leftovers(lab_name) == []


def test_clean_without_state_file(lab_name: str) -> None:
    gwlab("up", "--lab", lab_name)
    os.unlink(run_dir(lab_name) / "state.json")
    gwlab("clean", "--lab", lab_name)
    assert leftovers(lab_name) == []


def test_topology_with_errors_starts_nothing(lab_name: str, tmp_path: Path) -> None:
    topo = sized_topology(tmp_path, 2)
    text = topo.read_text().replace("10.0.1.13/24", "10.0.1.11/24")
    topo.write_text(text.replace("kind: bridge", "kind: bridgee"))
    out = gwlab("up", "--lab", lab_name, "-t", str(topo), check=False)
    assert out.returncode == 2
    assert "share 10.0.1.11" in out.stderr and "bridgee" in out.stderr and str(topo) in out.stderr
    assert leftovers(lab_name) == []


def test_manifest_with_errors_changes_nothing(lab_name: str, tmp_path: Path) -> None:
    gwlab("up", "--lab", lab_name)
    conf = (run_dir(lab_name) / "calico-worker" / "bird_aggr.cfg").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata: {name: default}\n"
                   "spec: {asNumber: 64512, serviceExternalIPs: [{cidr: 192.0.2.1/24}], colour: red}\n")
    out = gwlab("apply", "--lab", lab_name, "-f", str(bad), check=False)
    assert out.returncode == 1
    assert 'unknown field "spec.colour"' in out.stderr and str(bad) in out.stderr, out.stderr
    bad.write_text(bad.read_text().replace(", colour: red", ", asNumber: 0"))
    out = gwlab("apply", "--lab", lab_name, "-f", str(bad), check=False)
    assert out.returncode == 1 and "is invalid" in out.stderr, out.stderr
    assert "spec.serviceExternalIPs[0].cidr" in out.stderr, out.stderr  # every cause of the object at once
    assert (run_dir(lab_name) / "calico-worker" / "bird_aggr.cfg").read_text() == conf
    assert json.loads(gwlab("verify", "--lab", lab_name, "--json").stdout)["ok"]
