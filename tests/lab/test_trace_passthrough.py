"""`gwlab trace passthrough` on a real lab: the workshop's request followed from the bastion through
the node ECMP chose, its DNAT and the gateway pod to the echo pod, with the ClientHello compared on
both legs; an unknown SNI refused at the gateway; a gateway made to terminate TLS caught out."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator.engines.netns import namespaces as netns
from orchestrator.envoy import xds_files
from orchestrator.envoy.admin import Admin
from orchestrator.envoy.layout import ProxyLayout
from orchestrator.state import run_dir

from .helpers import gwlab

pytestmark = pytest.mark.lab
HOST = "passthrough.example.com"
NODES = {"control1", "worker1", "worker2"}


def trace(lab: str, *args: str) -> tuple[int, dict[str, Any]]:
    out = gwlab("trace", "passthrough", "--lab", lab, "--json", *args, check=False, timeout=60)
    assert out.returncode in (0, 1), out.stderr
    return out.returncode, json.loads(out.stdout)


def pods(lab: str) -> dict[str, dict[str, Any]]:
    """name -> pod, as `gwlab get` shows them."""
    items = json.loads(gwlab("get", "--lab", lab, "pods", "-A", "-o", "json").stdout)["items"]
    return {p["metadata"]["name"]: p for p in items}


def pcap_bytes(directory: Path, pod_or_node: str) -> bytes:
    [path] = [p for p in directory.iterdir() if p.name.startswith(pod_or_node.replace("/", "_") + ".")]
    return path.read_bytes()


def check(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in doc["checks"] if c["name"] == name)


def test_the_workshops_request_is_passed_through_hop_by_hop(lab_name: str, tmp_path: Path) -> None:
    gwlab("up", "--lab", lab_name)
    code, doc = trace(lab_name, "-w", str(tmp_path))
    assert code == 0 and doc["ok"], json.dumps(doc["checks"], indent=1)
    assert doc["verdict"].startswith("passthrough proven")
    ch, sh = doc["path"]["client_hello"], doc["path"]["server_hello"]
    assert ch["client_leg"]["random"] == ch["backend_leg"]["random"] and len(ch["client_leg"]["random"]) == 64
    assert ch["client_leg"]["sni"] == ch["backend_leg"]["sni"] == HOST
    assert sh["client_leg"]["random"] == sh["backend_leg"]["random"]

    # The pods it names are the lab's gateway pod and the echo pod that answered.
    live = pods(lab_name)
    [gw_pod] = [n for n, p in live.items() if p["metadata"]["namespace"] == "tigera-gateway"]
    echo = {n for n in live if n.startswith("passthrough-echoserver-")}
    path = doc["path"]
    assert path["gateway_pod"] == gw_pod
    assert path["backend_pod"] in echo and path["backend_pod"] == doc["curl"]["answered_by"]
    gw_ip = live[gw_pod]["status"]["podIP"]
    echo_ip = live[path["backend_pod"]]["status"]["podIP"]

    # One node carried it (ECMP), and its kube-proxy rule DNATed it to the gateway pod.
    node = path["ecmp_node"]
    assert node in NODES and path["ecmp_nodes"] == [node]
    [dnat] = path["dnat"]
    assert dnat["node"] == node and dnat["packets"] == 1 and dnat["action"] == f"dnat to {gw_ip}:6443"
    assert dnat["match"] == f"ip daddr {doc['address']} tcp dport 6443"

    # Hop by hop, in order: bastion, the ECMP node, the gateway pod (both legs), the echo pod.
    hops = path["hops"]
    steps = [(h["kind"], h["leg"]) for h in hops if h["kind"] != "node"]
    assert steps == [("bastion", "client"), ("gateway", "client"), ("gateway", "backend"), ("echo", "backend")]
    first_node = next(h for h in hops if h["kind"] == "node")
    assert first_node["point"] == node and first_node["dst"] == {"ip": doc["address"], "port": 6443}
    arrival = next(h for h in hops if h["kind"] == "gateway" and h["leg"] == "client")
    assert arrival["dst"] == {"ip": gw_ip, "port": 6443}  # DNATed
    backend = next(h for h in hops if h["kind"] == "gateway" and h["leg"] == "backend")
    assert backend["src"]["ip"] == gw_ip and backend["dst"] == {"ip": echo_ip, "port": 8443}
    assert [h["offset"] for h in hops] == sorted(h["offset"] for h in hops)

    # The pcaps say the same without the decoder: the client's random is in the echo pod's capture.
    random = bytes.fromhex(ch["client_leg"]["random"])
    assert random in pcap_bytes(tmp_path, "bastion") and random in pcap_bytes(tmp_path, f"pod/{path['backend_pod']}")
    out = subprocess.run(["tcpdump", "-nn", "-r", str(tmp_path / "bastion.eth1.pcap")], capture_output=True,
                         text=True, check=True).stdout
    assert f"> {doc['address']}.6443: Flags [S]" in out

    # For people: the same, as a table and a verdict.
    text = gwlab("trace", "passthrough", "--lab", lab_name).stdout
    assert "verdict: passthrough proven" in text and gw_pod in text and path["backend_pod"] in text
    assert f"arrives at {node}: the bastion's ECMP route chose it" in text


def test_an_unknown_sni_is_refused_at_the_gateway(lab_name: str) -> None:
    gwlab("up", "--lab", lab_name)
    code, doc = trace(lab_name, "--sni", "unknown.example.com")
    assert code == 0 and doc["ok"], json.dumps(doc["checks"], indent=1)
    assert doc["expect"] == "refused" and doc["routes"] == []
    assert doc["verdict"] == "refused at the gateway: nothing reached any backend"
    path = doc["path"]
    assert path["backend_packets"] == 0 and path["backend_pod"] is None
    assert all(h["leg"] == "client" for h in path["hops"])
    assert [h["kind"] for h in path["hops"] if h["kind"] != "node"] == ["bastion", "gateway"]
    assert path["client_hello"]["client_leg"]["sni"] == "unknown.example.com"
    # The echo pod was listened to all along: nothing came.
    [echo_cap] = [c for c in doc["captures"] if c["kind"] == "echo"]
    assert echo_cap["error"] is None and echo_cap["packets"] == 0 and echo_cap["stopped_by"] == "request done"
    assert any("sni=unknown.example.com" in line and "flags=NR" in line for line in doc["gateway_log"]), doc["gateway_log"]
    assert doc["curl"]["exit_code"] != 0 and doc["curl"]["status_line"] == ""

    text = gwlab("trace", "passthrough", "--lab", lab_name, "--sni", "unknown.example.com").stdout
    assert "verdict: refused at the gateway: nothing reached any backend" in text
    # Every capture ended with the command.
    assert [pid for pid in netns.pids_in([c["ns"] for c in doc["captures"]])
            if os.path.basename(os.readlink(f"/proc/{pid}/exe")) == "tcpdump"] == []


def terminate_tls_at_the_gateway(lab: str) -> None:
    """Rewrite the gateway pod's Envoy into a TLS-terminating proxy that re-originates TLS to the
    echo pod: the same listener, its filter chain now with the echo server's certificate and key,
    to a cluster that speaks TLS upstream; delivered as the controllers deliver (files Envoy
    watches), then waited for in Envoy's config dump."""
    [pod_dir] = [p.parent for p in run_dir(lab).glob("pods/*/envoy.yaml")]
    where = ProxyLayout(pod_dir)
    [listener] = [lst for lst in xds_files.read(where.lds) if lst["name"].endswith("/tls")]
    [eds] = list(where.dir("eds").glob("*.yaml"))
    [cla] = xds_files.read(eds)
    [server] = [e["endpoint"] for loc in cla["endpoints"] for e in loc["lbEndpoints"]]
    certs = run_dir(lab) / "certs"
    pair = {}
    for field, name in (("certificateChain", f"{HOST}.crt"), ("privateKey", f"{HOST}.key")):
        copy = where.root / f"terminating-{name}"  # the unprivileged Envoy reads only its own files
        copy.write_bytes((certs / name).read_bytes())
        copy.chmod(0o600)
        os.chown(copy, where.root.stat().st_uid, where.root.stat().st_gid)
        pair[field] = {"filename": str(copy)}
    tls = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3."
    cluster = {"name": "terminating", "type": "STATIC", "connectTimeout": "5s",
               "loadAssignment": {"clusterName": "terminating", "endpoints": [{"lbEndpoints": [{"endpoint": server}]}]},
               "transportSocket": {"name": "envoy.transport_sockets.tls", "typedConfig": {
                   "@type": tls + "UpstreamTlsContext", "sni": HOST}}}
    chain = {"name": "terminating", "filters": [{"name": "envoy.filters.network.tcp_proxy", "typedConfig": {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
        "cluster": "terminating", "statPrefix": "terminating"}}],
        "transportSocket": {"name": "envoy.transport_sockets.tls", "typedConfig": {
            "@type": tls + "DownstreamTlsContext", "commonTlsContext": {"tlsCertificates": [pair]}}}}
    listener = {k: v for k, v in listener.items() if k not in ("@type", "listenerFilters")}
    listener["filterChains"] = [chain]
    clusters = [{k: v for k, v in c.items() if k != "@type"} for c in xds_files.read(where.cds)]
    for path, kind, res in ((where.cds, "cds", clusters + [cluster]), (where.lds, "lds", [listener])):
        tmp = where.root / f".{kind}.tmp"
        tmp.write_text(xds_files.discovery_response(kind, res))
        os.replace(tmp, path)
    admin = Admin(where.admin_socket)
    deadline = time.monotonic() + 30  # the most it may take; it goes on as soon as it is done
    def active() -> bool:  # the new listener took over the port (a warming one takes nothing yet)
        [section] = admin.config_dump("listener")["configs"]
        return any(c.get("name") == "terminating" for lst in section.get("dynamic_listeners", [])
                   for c in lst.get("active_state", {}).get("listener", {}).get("filter_chains", [])) \
            and admin.counter("listener_manager.total_listeners_warming") == 0

    while not active():
        assert time.monotonic() < deadline, where.log.read_text()[-2000:]
        time.sleep(0.05)


def test_a_gateway_that_terminates_tls_is_not_passthrough(lab_name: str, tmp_path: Path) -> None:
    gwlab("up", "--lab", lab_name)
    terminate_tls_at_the_gateway(lab_name)
    code, doc = trace(lab_name, "-w", str(tmp_path))
    assert code == 1 and not doc["ok"]
    assert doc["verdict"].startswith("NOT passthrough: the gateway terminated TLS"), doc["verdict"]
    # The request still works: the gateway answered with the same certificate and re-originated TLS.
    assert doc["curl"]["exit_code"] == 0 and doc["curl"]["status_line"].startswith("HTTP/1.1 200")
    assert check(doc, "certificate")["ok"] and check(doc, "backend leg")["ok"]
    ch, sh = doc["path"]["client_hello"], doc["path"]["server_hello"]
    assert ch["client_leg"]["random"] != ch["backend_leg"]["random"]
    assert sh["client_leg"]["random"] != sh["backend_leg"]["random"]
    assert not check(doc, "same ClientHello random")["ok"] and not check(doc, "same ServerHello random")["ok"]
    random = bytes.fromhex(ch["client_leg"]["random"])
    assert random not in pcap_bytes(tmp_path, f"pod/{doc['path']['backend_pod']}")
    assert random in pcap_bytes(tmp_path, f"pod/{doc['path']['gateway_pod']}")
    text = gwlab("trace", "passthrough", "--lab", lab_name, check=False)
    assert text.returncode == 1 and "verdict: NOT passthrough" in text.stdout
    assert "(NOT the client's)" in text.stdout


@pytest.mark.parametrize("ask, curl_exits", [("--no-sni", {35}), ("--plain-http", {52, 56})])
def test_no_sni_and_plain_http_are_refused_at_the_gateway(lab_name: str, ask: str, curl_exits: set[int]) -> None:
    gwlab("up", "--lab", lab_name)
    code, doc = trace(lab_name, ask)
    assert code == 0 and doc["ok"], json.dumps(doc["checks"], indent=1)
    assert doc["request"] == ask[2:] and doc["sni"] == "" and doc["expect"] == "refused"
    assert doc["verdict"] == "refused at the gateway: nothing reached any backend"
    path = doc["path"]
    assert path["backend_packets"] == 0 and path["backend_pod"] is None
    # The client leg reached the gateway pod, whatever it carried: a ClientHello without SNI, or none.
    assert [h["kind"] for h in path["hops"] if h["kind"] != "node"] == ["bastion", "gateway"]
    hello = path["client_hello"]["client_leg"]
    assert (hello is None) if ask == "--plain-http" else (hello["sni"] in (None, "")), hello
    [echo_cap] = [c for c in doc["captures"] if c["kind"] == "echo"]
    assert echo_cap["error"] is None and echo_cap["packets"] == 0
    # Envoy closed it: no filter chain took it (NR), no cluster, no upstream.
    assert any("sni=-" in line and "flags=NR" in line and "upstream=-" in line for line in doc["gateway_log"]), \
        doc["gateway_log"]
    # curl: a TLS handshake that failed (35), or an empty reply (52) or a reset (56) instead of HTTP
    assert doc["curl"]["exit_code"] in curl_exits and doc["curl"]["status_line"] == ""
    text = gwlab("trace", "passthrough", "--lab", lab_name, ask).stdout
    what = "no SNI" if ask == "--no-sni" else "plain HTTP"
    assert f"): {what} to Gateway default/tls-passthrough-gateway" in text
    assert "verdict: refused at the gateway: nothing reached any backend" in text
