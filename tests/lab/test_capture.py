"""`gwlab capture` and `gwlab trace bgp` on captures taken from a real lab: a node's BIRD restart,
a filter push without a session reset, pcaps read back by tcpdump, --count, --duration, Ctrl-C
keeping the last packets, a capture that cannot outlive its command, a TLS handshake, a pod."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from ipaddress import IPv4Network
from pathlib import Path

import pytest
from pyroute2 import IPRoute

from orchestrator import PROJECT_ROOT, bastion, lab
from orchestrator.engines.netns import namespaces as netns, procs
from orchestrator.capture import targets, trace_bgp
from orchestrator.state import ns_name

from .helpers import gwlab

pytestmark = pytest.mark.lab
BLOCKS = {"control1": "10.50.0.0/28", "worker1": "10.50.0.16/28", "worker2": "10.50.0.32/28"}
GW_32 = "10.10.10.0/32"
LB = "10.10.10.0/26"
WAIT = 30  # the most a test waits for an event it expects; it goes on as soon as it happens


def start_capture(*args: str) -> subprocess.Popen[str]:
    """`gwlab capture ARGS --json` in the background, returned once tcpdump listens."""
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "capture", *args, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.5)
        if ready:
            line = proc.stderr.readline()
            if line.startswith("capturing on"):
                return proc
            if not line and proc.poll() is not None:
                break
    proc.kill()
    raise AssertionError(f"capture did not start: {proc.communicate()}")


def finish(proc: subprocess.Popen[str], sig: int = signal.SIGINT) -> tuple[list[dict], dict, str]:  # type: ignore[type-arg]
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    lines = [json.loads(x) for x in out.splitlines()]
    return lines[:-1], lines[-1], err


def tcpdump_read(path: Path) -> list[str]:
    out = subprocess.run(["tcpdump", "-nn", "-r", str(path)], capture_output=True, text=True, check=True)
    assert "reading from file" in out.stderr
    return out.stdout.splitlines()


def tcpdumps_in(ns: str) -> list[int]:
    found = []
    for pid in netns.pids_in([ns]):
        try:
            if os.path.basename(os.readlink(f"/proc/{pid}/exe")) == "tcpdump":
                found.append(pid)
        except OSError:
            continue
    return found


def listening(ns: str, port: int) -> bool:
    with netns.inside(ns):
        return bool(subprocess.run(["ss", "-Hltn", "sport", f"= :{port}"], capture_output=True, text=True,
                                   check=True).stdout.strip())


def test_trace_bgp_node_restart_withdraws_and_reannounces(lab_name: str) -> None:
    gwlab("up", "--lab", lab_name)
    # GWLAB_LAB is set by the trace. The command ends once the lab holds again (worker1's session
    # re-made, its routes back in the bastion's kernel): the quiet that ends the trace comes after that.
    gw = f"{sys.executable} -m orchestrator"
    cmd = f"{gw} bird restart worker1 && {gw} verify --wait {WAIT} >/dev/null"
    doc = json.loads(gwlab("trace", "bgp", "--lab", lab_name, "--during", cmd, "--settle", "2", "--json",
                           timeout=120).stdout)
    assert doc["command"]["exit_code"] == 0 and "BIRD on calico-worker started" in "\n".join(doc["command"]["output"])
    assert doc["capture"]["dropped"] == 0
    peers = {p["name"]: p for p in doc["peers"]}
    w = peers["worker1"]
    assert w["resets"] == 1 and w["opens"] == 1 and w["state"] == "Established"
    assert w["notifications"] == ["from worker1: Cease / Administrative Shutdown"]
    # The withdrawal is implicit (the session closes); the trace knows the routes from BIRD.
    assert sorted(w["withdrawn"]) == sorted([LB, BLOCKS["worker1"]])
    assert sorted(w["announced"]) == sorted([LB, BLOCKS["worker1"]])
    kinds = [e["kind"] for e in w["events"]]
    assert kinds.index("NOTIFICATION") < kinds.index("SESSION DOWN") < kinds.index("OPEN") < kinds.index("UPDATE")
    down = next(e for e in w["events"] if e["kind"] == "SESSION DOWN")
    assert down["text"] == ("NOTIFICATION Cease / Administrative Shutdown from worker1; "
                            f"implicitly withdrawn {LB}, {BLOCKS['worker1']}")
    node_open = next(e for e in w["events"] if e["kind"] == "OPEN" and e["src"]["name"] == "worker1")
    assert {c["code"] for c in node_open["detail"]["capabilities"]} >= {1, 2, 64, 65}
    assert [e["detail"]["end_of_rib"] for e in w["events"] if e["kind"] == "UPDATE" and
            e["src"]["name"] == "worker1" and e["detail"]["end_of_rib"]] == ["IPv4 unicast"]
    for other in ("control1", "worker2"):
        p = peers[other]
        assert (p["resets"], p["announced"], p["withdrawn"], p["events"]) == (0, [], [], []), p
        assert p["keepalives"] > 0


def test_trace_bgp_filter_push_refreshes_without_session_reset(lab_name: str) -> None:
    gwlab("up", "--lab", lab_name)
    running = lab.open_lab(None, lab_name)
    accepted = (IPv4Network("10.50.0.0/24"), IPv4Network(LB), IPv4Network("10.60.0.0/24"))
    pushed = []
    proxy_nodes = {running.topo.node(p.spec.node).bgp_name for p in running.engine.host_pods() or []
                   if p.spec.role == "gateway"}
    trace = trace_bgp.trace_bgp(running, lambda: pushed.append(bastion.push_filter(running, accepted)), settle=1.5)
    assert pushed and pushed[0].confirmed, pushed
    text = "\n".join(trace_bgp.report(trace))
    for peer in trace.peers:
        assert (peer.resets, peer.opens, peer.notifications) == (0, 0, []), text
        assert peer.refreshes(trace.bastion_ip) >= 1, text
        # A node running the Gateway's proxy also announces its /32 (externalTrafficPolicy Local).
        assert set(peer.announced) - {LB, BLOCKS[peer.name]} <= {GW_32}, text
        assert (GW_32 in peer.announced) == (peer.name in proxy_nodes) and {LB, BLOCKS[peer.name]} <= set(
            peer.announced), text
        # BIRD's re-feed withdraws what its export filter rejects: no route the bastion held.
        assert peer.withdrawn == [] and "10.0.1.0/24" in peer.idle_withdrawals, text
        assert peer.state == "up before the capture"
        assert f"{peer.name} ({peer.ip}): no session reset; " in text
    assert "ROUTE-REFRESH" in text and "SESSION DOWN" not in text and "NOTIFICATION" not in text


def test_capture_count_writes_a_pcap_tcpdump_reads(lab_name: str, tmp_path: Path) -> None:
    gwlab("up", "--lab", lab_name)
    pcap = tmp_path / "bgp.pcap"
    out = gwlab("capture", "--lab", lab_name, "bastion:eth1", "--bgp", "--count", "8", "-w", str(pcap), "--json",
                timeout=60)
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    events, summary = lines[:-1], lines[-1]
    assert summary["stopped_by"] == "count" and summary["packets"] == 8
    assert summary["tcpdump"]["captured"] == 8 and summary["tcpdump"]["dropped"] == 0
    packets = tcpdump_read(pcap)
    assert len(packets) == 8 and all(".179" in p for p in packets)
    again = gwlab("capture", "--lab", lab_name, "-r", str(pcap), "--bgp", "--json").stdout.splitlines()
    assert [json.loads(x) for x in again[:-1]] == events
    assert all(e["kind"] == "KEEPALIVE" for e in events) and events


def test_capture_duration_stops_on_time(lab_name: str) -> None:
    gwlab("up", "--lab", lab_name)
    t = time.monotonic()
    proc = start_capture("--lab", lab_name, "worker1", "--bgp", "--duration", "3.5")
    listening = time.monotonic()  # the duration runs from just before tcpdump was said to listen
    out, err = proc.communicate(timeout=60)
    ended = time.monotonic()
    assert proc.returncode == 0, err
    summary = json.loads(out.splitlines()[-1])
    assert ended - t >= 3.5, ended - t  # never before its time
    # Then tcpdump writes its last packets and everything exits: 5 s for that on a loaded machine.
    assert ended - listening < 3.5 + 5, ended - listening
    assert summary["stopped_by"] == "duration"
    assert summary["packets"] == summary["tcpdump"]["captured"] > 0 and summary["tcpdump"]["dropped"] == 0
    # worker1's sessions: the bastion (global peer) and the node-to-node mesh.
    pairs = {frozenset(p["name"] for p in s["peers"]) for s in summary["summary"]["bgp_sessions"]}
    assert pairs == {frozenset({"worker1", other}) for other in ("bastion", "control1", "worker2")}


def test_ctrl_c_stops_cleanly_with_the_last_packets_written(lab_name: str, tmp_path: Path) -> None:
    gwlab("up", "--lab", lab_name)
    pcap = tmp_path / "udp.pcap"
    proc = start_capture("--lab", lab_name, "worker1:eth1", "--filter", "udp port 9999", "-w", str(pcap))
    with netns.inside(ns_name(lab_name, "bastion")):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a socket of the bastion's namespace
    with sock:
        for i in range(200):
            sock.sendto(f"datagram {i}".encode(), ("10.0.1.12", 9999))
    events, summary, err = finish(proc)  # at once: the last datagrams were sent microseconds ago
    assert summary["stopped_by"] == "signal SIGINT"
    assert summary["packets"] == summary["tcpdump"]["captured"] == 200 and summary["tcpdump"]["dropped"] == 0
    packets = tcpdump_read(pcap)
    assert len(packets) == 200 and "UDP, length 12" in packets[-1]
    assert len([e for e in events if e["kind"] == "packet"]) == 200  # --filter shows undecoded packets
    assert tcpdumps_in(ns_name(lab_name, "calico-worker")) == []


def test_capture_never_outlives_its_command(lab_name: str) -> None:
    gwlab("up", "--lab", lab_name)
    ns = ns_name(lab_name, "bastion")
    proc = start_capture("--lab", lab_name, "bastion", "--bgp")
    [pid] = tcpdumps_in(ns)
    assert procs._start_time(pid) is not None
    proc.kill()  # SIGKILL: no handler runs, the parent-death signal is all that is left
    proc.communicate(timeout=WAIT)
    deadline = time.monotonic() + WAIT
    while procs._start_time(pid) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert procs._start_time(pid) is None and tcpdumps_in(ns) == []


def test_tls_handshake_decoded_live(lab_name: str, tmp_path: Path) -> None:
    gwlab("up", "--lab", lab_name)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=passthrough.example.com", "-keyout", str(key), "-out", str(cert)], check=True,
                   capture_output=True)
    server = procs.spawn("test:s_server", ns_name(lab_name, "calico-worker"),
                         ["openssl", "s_server", "-accept", "8443", "-cert", str(cert), "-key", str(key), "-www",
                          "-alpn", "http/1.1", "-quiet"], tmp_path / "s_server.log")
    try:
        deadline = time.monotonic() + WAIT
        while not listening(ns_name(lab_name, "calico-worker"), 8443):
            assert time.monotonic() < deadline and procs.alive(server), (tmp_path / "s_server.log").read_text()
            time.sleep(0.02)
        proc = start_capture("--lab", lab_name, "worker1", "--tls")
        curl = subprocess.run(["nsenter", f"--net={netns.path_of(ns_name(lab_name, 'bastion'))}", "--", "curl",
                               "-sk", "--resolve", "passthrough.example.com:8443:10.0.1.12",
                               "https://passthrough.example.com:8443/", "-o", "/dev/null", "-w", "%{http_code}"],
                              capture_output=True, text=True, timeout=20)
        assert curl.stdout == "200", curl
        events, summary, _ = finish(proc)
    finally:
        procs.stop([server])
    [client] = [e for e in events if e["kind"] == "ClientHello"]
    [server_hello] = [e for e in events if e["kind"] == "ServerHello"]
    assert client["src"]["name"] == "bastion" and client["dst"] == {"ip": "10.0.1.12", "port": 8443, "name": "worker1"}
    assert client["detail"]["sni"] == "passthrough.example.com"
    assert client["detail"]["alpn"] == ["h2", "http/1.1"] and client["detail"]["versions"][0] == "TLS 1.3"
    assert server_hello["detail"]["version"] == "TLS 1.3" and server_hello["detail"]["cipher"].startswith("TLS_")
    [hs] = summary["summary"]["tls_handshakes"]
    assert hs["client_hello"]["sni"] == "passthrough.example.com" and hs["server_hello"]["version"] == "TLS 1.3"


def test_a_pod_resolves_by_its_namespace(lab_name: str) -> None:
    """The pod plane's namespace naming (gwlab-<lab>.pod-<pod>) is all `capture` needs of it."""
    gwlab("up", "--lab", lab_name)
    ns = targets.pod_namespace(lab_name, "echo-test")
    with netns.create(ns):
        with IPRoute() as ipr:
            ipr.link("add", ifname="eth0", kind="veth", peer="eth0-peer")  # no dummy module here
            idx = ipr.link_lookup(ifname="eth0")[0]
            ipr.addr("add", index=idx, address="10.50.0.20", prefixlen=32)
            ipr.link("set", index=idx, state="up")
    running = lab.open_lab(None, lab_name)
    assert targets.names(running)["10.50.0.20"] == "pod/echo-test"
    target = targets.resolve(running, "pod/echo-test:eth0")
    assert (target.ns, target.iface) == (ns, "eth0")
    out = gwlab("capture", "--lab", lab_name, "echo-test", "--duration", "0.5", "--json", timeout=60)
    assert json.loads(out.stdout.splitlines()[-1])["stopped_by"] == "duration"
    bad = gwlab("capture", "--lab", lab_name, "pod/nope", "--count", "1", check=False)
    assert bad.returncode == 1 and "pod/echo-test" in bad.stderr
