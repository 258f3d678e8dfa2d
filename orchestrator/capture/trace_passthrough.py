"""`gwlab trace passthrough`: the workshop's request followed hop by hop, and the proof that the
gateway passes TLS through.

Captures listen at once on the bastion's segment interface (the client leg), every node's segment
interface (the bastion's ECMP route may pick any node), the gateway's proxy pods and the backend
pods (eth0), filtered on the listener's and the backends' TCP ports. Then the bastion sends the
workshop's curl (demo.workshop_curl, with `-w %{certs}` to get the certificate it was shown); the
captures stop a moment after it. kube-proxy's DNAT counters are read on every node before and
after, and the gateway's log lines written meanwhile are kept. `passthrough_path` makes the path
and the verdict of it; `passthrough_report` prints them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from orchestrator.capture import dnat, inventory, passthrough_envoy
from orchestrator.capture.multi import Outcome, Point, capture_during, pcap_name
from orchestrator.capture.passthrough_path import (NO_SNI, PASSTHROUGH, PLAIN_HTTP, REFUSED, TLS, Curl, Layout,
                                                  TracePath, analyse)
from orchestrator.errors import LabError
from orchestrator.state import ns_name

if TYPE_CHECKING:
    from orchestrator.demo import CurlResult
    from orchestrator.lab import Lab

CERTS_MARK = "\n--- gwlab: certificates the server sent ---\n"
PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
SETTLE = 0.3  # after the request, for the last FIN/ACKs to reach every capture point
LB_NAME = "Gateway LB"


@dataclass
class PassthroughTrace:
    lab: str
    gateway: str  # namespace/name
    routes: list[str]  # the TLSRoutes taking this SNI
    layout: Layout
    points: list[Point]
    bpf: str
    curl_argv: list[str]
    curl: Curl
    curl_stderr: str
    path: TracePath
    outcome: Outcome[CurlResult]
    gateway_log: list[str]
    pcaps: list[str]
    served: dict[str, tuple[str, bytes | None]]  # backend pod -> (its Secret and key, certificate DER)

    @property
    def ok(self) -> bool:
        return self.path.ok and self.outcome.interrupted is None


def points(lab: Lab, inv: inventory.Inventory) -> list[Point]:
    topo = lab.topo
    b = topo.bastion
    out = [Point("bastion", "bastion", ns_name(topo.name, b.name), b.interface, "bastion", str(b.ip))]
    out += [Point(n.bgp_name or n.name, "node", ns_name(topo.name, n.name), n.interface, n.bgp_name or n.name,
                  str(n.ip)) for n in topo.k8s_nodes]
    out += [Point(f"pod/{p.name}", "gateway", p.netns, "eth0", p.node_label, p.ip) for p in inv.gateway.pods]
    out += [Point(f"pod/{p.name}", "echo", p.netns, "eth0", p.node_label, p.ip) for p in inv.gateway.backend_pods]
    return out


def layout(lab: Lab, inv: inventory.Inventory, sni: str, request: str = TLS) -> Layout:
    gw = inv.gateway
    if gw.address is None or gw.tls_port is None:
        raise LabError(f"the Gateway {gw.key} has no address or no TLS listener yet (demo steps 3 and 5)")
    if not gw.pods:
        raise LabError(f"the Gateway {gw.key} has no proxy pod")
    names = {str(n.ip): n.bgp_name or n.name for n in lab.topo.routers}
    names[str(lab.topo.bastion.ip)] = "bastion"
    names.update(inv.names())
    names[gw.address] = LB_NAME
    backends = gw.backend_pods
    if request == PLAIN_HTTP and gw.routes_for(sni):
        raise LabError(f"a TLSRoute of {gw.key} takes every connection of its listener (no hostnames on either): "
                       "Envoy forwards plain HTTP to its backend too, and this trace proves refusals only")
    return Layout(str(lab.topo.bastion.ip), gw.address, gw.tls_port, sni,
                  PASSTHROUGH if gw.routes_for(sni) else REFUSED,
                  {str(n.ip): n.bgp_name or n.name for n in lab.topo.k8s_nodes},
                  {p.ip: p.name for p in gw.pods}, {p.ip: p.name for p in backends}, gw.backend_ports, names,
                  {p.ip: p.node_label for p in inv.pods}, request)


def bpf_for(lay: Layout) -> str:
    """The request's TCP ports; a node's own connections to its backends' ports (the kubelet's
    readiness probes) left out."""
    ports = sorted({lay.port, *lay.backend_ports})
    bpf = "tcp and (" + " or ".join(f"port {p}" for p in ports) + ")"
    if lay.nodes and lay.backend_ports:
        nodes = " or ".join(f"host {ip}" for ip in sorted(lay.nodes))
        bpf += f" and not (({nodes}) and (" + " or ".join(f"port {p}" for p in sorted(lay.backend_ports)) + "))"
    return bpf


def _der(pem: bytes | None) -> bytes | None:
    if not pem:
        return None
    m = PEM.search(pem)
    if m is None:
        return None
    try:
        return x509.load_pem_x509_certificate(m.group(0)).public_bytes(Encoding.DER)
    except ValueError:
        return None


def curl_facts(result: CurlResult) -> tuple[Curl, str]:
    """What curl saw, and its -v output without the certificates it was asked to print."""
    text, _, certs = result.stderr.partition(CERTS_MARK)

    def line(prefix: str) -> str:
        return next((x.split(":", 1)[1].strip() for x in text.splitlines() if x.startswith(f"*  {prefix}:")), "")
    body = result.body or {}
    tls = body.get("tls") or {}
    return Curl(result.exit_code, result.status_line, result.verified, str(body.get("pod") or ""),
                str(tls.get("serverName") or ""), line("subject"), line("issuer"), _der(certs.encode())), text


def trace_passthrough(lab: Lab, sni: str | None = None, out_dir: Path | None = None,
                      settle: float = SETTLE, request: str = TLS) -> PassthroughTrace:
    """request: TLS (with `sni`, default the workshop's), NO_SNI (https to the Gateway's address) or
    PLAIN_HTTP (http to the TLS port): the last two are refused unless a route takes any connection."""
    from orchestrator import demo

    host = sni or demo.HOST
    inv = inventory.inventory(lab, *demo.GATEWAY[1:])
    sni = host if request == TLS else ""
    lay = layout(lab, inv, sni, request)
    where = points(lab, inv)
    bpf = bpf_for(lay)
    served: dict[str, tuple[str, bytes | None]] = {}
    for pod in inv.gateway.backend_pods:
        cert = inventory.served_certificate(lab, pod)
        served[pod.name] = (cert[0], _der(cert[1])) if cert else ("", None)
    extra = ["-w", "%{stderr}" + CERTS_MARK + "%{certs}"]
    url = {NO_SNI: f"https://{lay.address}:{lay.port}/get", PLAIN_HTTP: f"http://{host}:{lay.port}/get"}.get(request)
    argv = demo.curl_argv(demo.certificates(lab).ca_cert, lay.address, host, extra, url)
    nodes = [n.name for n in lab.topo.k8s_nodes]
    labels = {n.name: n.bgp_name or n.name for n in lab.topo.k8s_nodes}
    before = {n: dnat.read(lab, n) for n in nodes}
    logs = passthrough_envoy.log_sizes([p.log for p in inv.gateway.pods])
    outcome = capture_during(where, bpf, lambda: demo.workshop_curl(lab, host, lay.address, extra, url), out_dir,
                             settle)
    matches = [m for n in nodes for m in dnat.matched(labels[n], before[n], dnat.read(lab, n))]
    log = passthrough_envoy.access_lines(logs, lay.port)  # Envoy logs a connection once it is closed
    curl, stderr = curl_facts(outcome.value)
    path = analyse(lay, outcome.captures, matches, curl, served)
    routes = [r.key for r in inv.gateway.routes_for(sni)]
    pcaps = [str(out_dir / pcap_name(p)) for p in where] if out_dir else []
    return PassthroughTrace(lab.topo.name, inv.gateway.key, routes, lay, where, bpf, argv, curl, stderr, path,
                            outcome, log, pcaps, served)
