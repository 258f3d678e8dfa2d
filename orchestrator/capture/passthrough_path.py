"""From the captures of one request to its path and a verdict: where the connection went, hop by
hop, and whether the gateway passed the TLS connection through untouched.

A connection changes its addresses on the way (the node DNATs the LoadBalancer IP to the gateway
pod, and SNATs to itself when the pod is behind another node), but a ClientHello's 32-byte random
does not: the client's random names the client leg wherever it is seen. The backend leg is the
gateway pod's connection to a backend pod that began after the client's ClientHello reached the
gateway. Passthrough means the backend leg carries the client's own ClientHello (same random, same
SNI) and the client got the backend's own ServerHello (same random) and certificate; a gateway
that terminates TLS sends a ClientHello of its own and answers with its own ServerHello.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.capture.decode_tls import ClientHello, ServerHello, TlsAlert
from orchestrator.capture.dnat import DnatMatch
from orchestrator.capture.multi import Point, PointCapture
from orchestrator.capture.packet import TCP_ACK, Endpoint, Flow

PASSTHROUGH, REFUSED = "passthrough", "refused"
# What the client sends: the workshop's TLS with an SNI, TLS without SNI (the address as the host),
# plain HTTP to the TLS port (no ClientHello at all).
TLS, NO_SNI, PLAIN_HTTP = "tls", "no-sni", "plain-http"
Connection = tuple[Endpoint, Endpoint]


@dataclass(frozen=True)
class Layout:
    """Who is who in the lab, for one trace."""

    bastion_ip: str
    address: str  # the Gateway's LoadBalancer IP
    port: int  # its TLS listener's port
    sni: str
    expect: str  # PASSTHROUGH (a route takes this SNI) or REFUSED
    nodes: dict[str, str]  # ip -> node label
    gateway_pods: dict[str, str]  # ip -> pod name
    backend_pods: dict[str, str]  # ip -> pod name
    backend_ports: tuple[int, ...]
    names: dict[str, str]  # ip -> a name for people
    pod_nodes: dict[str, str]  # pod ip -> the label of its node
    request: str = TLS

    @property
    def asked(self) -> str:
        return {NO_SNI: "no SNI", PLAIN_HTTP: "plain HTTP"}.get(self.request, f"SNI {self.sni}")

    def is_backend(self, ep: Endpoint) -> bool:
        return ep.ip in self.backend_pods and ep.port in self.backend_ports


@dataclass(frozen=True)
class Curl:
    """What the client saw."""

    exit_code: int
    status_line: str
    verified: bool
    answered_by: str  # the pod named in the echo server's answer
    server_name: str  # the SNI the echo server saw
    subject: str  # curl -v's `subject:` line
    issuer: str
    certificate: bytes | None  # DER, from curl's %{certs}


@dataclass
class Sighting:
    """One connection of the trace as one capture point saw it."""

    point: Point
    leg: str  # "client" | "backend"
    flow: Flow  # client -> server, as seen there
    first: float  # its first packet there
    packets: int = 0
    syn: bool = False
    hello_time: float | None = None
    client_hello: ClientHello | None = None
    server_hello: ServerHello | None = None
    alerts: list[str] = field(default_factory=list)
    ended: str = ""  # e.g. "reset by pod/envoy-..." (the first FIN or RST seen)
    note: str = ""

    @property
    def time(self) -> float:
        return self.hello_time if self.hello_time is not None else self.first


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class TracePath:
    layout: Layout
    sightings: list[Sighting]  # in the order the packets went
    client: Sighting | None  # the client leg at the bastion
    ecmp: list[str]  # the nodes whose segment interface saw the client leg arrive
    dnat: list[DnatMatch]
    gateway: Sighting | None  # the client leg arriving at the gateway pod
    backend: Sighting | None  # the gateway's connection, at the gateway pod
    echo: Sighting | None  # the backend leg arriving at the backend pod
    backend_packets: int  # segments to or from a backend's port seen anywhere
    checks: list[Check]
    ok: bool
    verdict: str


def _conversations(cap: PointCapture, names: dict[str, str]) -> dict[Connection, Sighting]:
    """Every TCP connection the point saw, with its hellos and how it ended."""
    out: dict[Connection, Sighting] = {}
    for seg in cap.recorder.segments:
        key = seg.flow.connection
        s = out.get(key)
        if s is None:
            s = out[key] = Sighting(cap.point, "", seg.flow, seg.time)
        s.packets += 1
        if seg.syn and not seg.flags & TCP_ACK:
            s.flow, s.syn = seg.flow, True
        if (seg.rst or seg.fin) and not s.ended:
            who = names.get(seg.flow.src.ip, seg.flow.src.ip)
            s.ended = f"{'reset' if seg.rst else 'closed (FIN)'} by {who}"
    for ev in cap.events:
        if ev.flow is None or ev.flow.connection not in out:
            continue
        s = out[ev.flow.connection]
        msg = ev.message
        if isinstance(msg, ClientHello):
            s.flow, s.client_hello, s.hello_time = ev.flow, msg, ev.time
        elif isinstance(msg, ServerHello) and s.server_hello is None:
            s.server_hello = msg
        elif isinstance(msg, TlsAlert):
            s.alerts.append(f"{names.get(ev.flow.src.ip, ev.flow.src.ip)}: {msg.describe()}")
    return out


def _note(s: Sighting, lay: Layout) -> str:
    src, dst, kind = s.flow.src, s.flow.dst, s.point.kind
    if kind == "bastion":
        return "the client: the workshop's curl"
    if kind == "node":
        node = s.point.node
        if dst.ip == lay.address:
            return f"arrives at {node}: the bastion's ECMP route chose it"
        if src.ip == s.point.ip:
            return f"leaves {node} DNATed to {lay.names.get(dst.ip, dst.ip)}, SNATed to {node}"
        if lay.pod_nodes.get(dst.ip) == node:
            return f"arrives at {node}, the node of {lay.names.get(dst.ip, dst.ip)}"
        if lay.pod_nodes.get(src.ip) == node:
            return f"leaves {node}, the node of {lay.names.get(src.ip, src.ip)}"
        return f"forwarded through {node}"
    if kind == "gateway" and s.leg == "client":
        nat = "" if src.ip == lay.bastion_ip else f", source NATed to {lay.names.get(src.ip, src.ip)}"
        return f"arrives at the gateway pod, DNATed from {lay.address}:{lay.port}{nat}"
    if kind == "gateway":
        return "the gateway pod's own connection to the backend"
    if kind == "echo":
        return "arrives at the backend pod"
    return ""


# Where a hop is on the path: orders the hops that share a timestamp.
ORDER = {("client", "bastion"): 0, ("client", "node"): 1, ("client", "gateway"): 2,
         ("backend", "gateway"): 3, ("backend", "node"): 4, ("backend", "echo"): 5}


def analyse(lay: Layout, caps: list[PointCapture], dnat: list[DnatMatch], curl: Curl,
            served: dict[str, tuple[str, bytes | None]]) -> TracePath:
    """served: backend pod name -> (where its certificate comes from, DER)."""
    convs = {c.point: _conversations(c, lay.names) for c in caps}
    to_gateway = [s for p, cs in convs.items() if p.kind == "bastion" for s in cs.values()
                  if s.flow.dst == Endpoint(lay.address, lay.port)]
    with_hello = [s for s in to_gateway if s.client_hello is not None]
    client = min(with_hello or to_gateway, key=lambda s: s.first) if to_gateway else None
    randoms = {client.client_hello.random} if client and client.client_hello else set()

    # The gateway's connection to a backend that began once the client's ClientHello was there.
    arrived = [s for p, cs in convs.items() if p.kind == "gateway" for s in cs.values()
               if s.client_hello is not None and s.client_hello.random in randoms]
    if not arrived and client is not None:  # no ClientHello to follow: the client's own address and port
        arrived = [s for p, cs in convs.items() if p.kind == "gateway" for s in cs.values()
                   if s.flow.src == client.flow.src]
    gateway = min(arrived, key=lambda s: s.time) if arrived else None
    backend = None
    if gateway is not None:
        outgoing = [s for s in convs[gateway.point].values()
                    if lay.is_backend(s.flow.dst) and s.first >= gateway.first]
        same = [s for s in outgoing if s.client_hello is not None and s.client_hello.random in randoms]
        backend = min(same or outgoing, key=lambda s: s.first) if outgoing else None
    if backend is not None and backend.client_hello is not None:
        randoms.add(backend.client_hello.random)

    sightings: list[Sighting] = []
    for cs in convs.values():
        for s in cs.values():
            # Without a ClientHello (plain HTTP) the client leg is known by its addresses instead.
            unhelloed = client is not None and client.client_hello is None and s.flow.connection == client.flow.connection
            if s.client_hello is not None and s.client_hello.random in randoms or unhelloed \
                    or s is client or s is gateway or s is backend:
                s.leg = "backend" if lay.is_backend(s.flow.dst) else "client"
                s.note = _note(s, lay)
                sightings.append(s)
    # Along the way, in time; the same microsecond is ordered by where the hop is on the path.
    sightings.sort(key=lambda s: (s.leg != "client", s.time, ORDER.get((s.leg, s.point.kind), 9)))
    ecmp = sorted({s.point.node for s in sightings if s.point.kind == "node" and s.flow.dst.ip == lay.address})
    if client is not None and not ecmp:  # no hello got through: the client's SYN tells the node
        ecmp = sorted({p.node for p, cs in convs.items() if p.kind == "node"
                       for s in cs.values() if s.flow == client.flow})
    echo_side = [s for s in sightings if s.point.kind == "echo" and s.leg == "backend"]
    echo = min(echo_side, key=lambda s: s.time) if echo_side else None
    # A node's own connections to its pods are the kubelet's readiness probes, not the request.
    backend_packets = sum(s.packets for cs in convs.values() for s in cs.values()
                          if (lay.is_backend(s.flow.dst) and s.flow.src.ip not in lay.nodes)
                          or (lay.is_backend(s.flow.src) and s.flow.dst.ip not in lay.nodes))
    checks = (_passthrough_checks(lay, client, ecmp, dnat, gateway, backend, echo, curl, served)
              if lay.expect == PASSTHROUGH else _refused_checks(lay, client, ecmp, gateway, backend_packets, curl))
    ok = bool(checks) and all(c.ok for c in checks)
    return TracePath(lay, sightings, client, ecmp, dnat, gateway, backend, echo, backend_packets, checks, ok,
                _verdict(lay, checks, ok, backend, echo, client))


def _common_checks(lay: Layout, client: Sighting | None, ecmp: list[str]) -> list[Check]:
    if client is None:
        return [Check("client leg", False, f"no connection from the bastion to {lay.address}:{lay.port} was seen")]
    ch = client.client_hello
    sent = ch is None if lay.request == PLAIN_HTTP else ch is not None and (ch.sni or "") == lay.sni
    out = [Check("client leg", sent,
                 f"{lay.names.get(client.flow.src.ip, client.flow.src.ip)} {client.flow.src} > {client.flow.dst}: "
                 + (f"ClientHello SNI {ch.sni or '(none)'}, random {ch.random}" if ch else
                    "plain HTTP, no ClientHello" if lay.request == PLAIN_HTTP else "no ClientHello seen"))]
    out.append(Check("ECMP choice", len(ecmp) == 1,
                     f"arrived at {ecmp[0]}" if len(ecmp) == 1 else
                     f"seen arriving at {', '.join(ecmp) or 'no node'}"))
    return out


def _passthrough_checks(lay: Layout, client: Sighting | None, ecmp: list[str], dnat: list[DnatMatch],
                        gateway: Sighting | None, backend: Sighting | None, echo: Sighting | None, curl: Curl,
                        served: dict[str, tuple[str, bytes | None]]) -> list[Check]:
    out = _common_checks(lay, client, ecmp)
    target = f"ip daddr {lay.address} tcp dport {lay.port}"
    rules = [d for d in dnat if d.rule.match == target]
    out.append(Check("DNAT", gateway is not None and bool(rules),
                     ("; ".join(f"{d.node}: rule \"{d.rule.comment}\" {d.rule.action} (+{d.packets})" for d in rules)
                      or f"no kube-proxy rule for {lay.address}:{lay.port} counted a packet")
                     + ("; the ClientHello arrived at " + lay.names.get(gateway.flow.dst.ip, gateway.flow.dst.ip)
                        + f" {gateway.flow.dst}" if gateway else "; the ClientHello never reached a gateway pod")))
    out.append(Check("backend leg", backend is not None and echo is not None,
                     f"{lay.names.get(backend.flow.src.ip, '?')} {backend.flow.src} > "
                     f"{lay.names.get(backend.flow.dst.ip, '?')} {backend.flow.dst}"
                     + ("" if echo else "; not seen at the backend pod") if backend else
                     "the gateway pod opened no connection to a backend pod"))
    cch = client.client_hello if client else None
    ech = echo.client_hello if echo else None
    if cch and ech:
        same = cch.random == ech.random
        out.append(Check("same ClientHello random", same,
                         f"client leg {cch.random}, backend leg {ech.random}"
                         + ("" if same else ": the gateway sent a ClientHello of its own")))
        out.append(Check("same SNI", cch.sni == ech.sni, f"client leg {cch.sni}, backend leg {ech.sni}"))
    else:
        out.append(Check("same ClientHello random", False, "no ClientHello on the backend leg to compare"))
    csh = client.server_hello if client else None
    esh = echo.server_hello if echo else None
    if csh and esh:
        same = csh.random == esh.random
        out.append(Check("same ServerHello random", same,
                         f"seen by the client {csh.random}, sent by the backend pod {esh.random}"
                         + ("" if same else ": the client's TLS peer is not the backend pod")))
    else:
        out.append(Check("same ServerHello random", False,
                         f"ServerHello {'seen' if csh else 'not seen'} by the client, "
                         f"{'sent' if esh else 'not sent'} by the backend pod"))
    pod = echo and lay.backend_pods.get(echo.flow.dst.ip)
    where, der = served.get(pod or "", ("", None))
    same_cert = der is not None and curl.certificate == der
    other_peer = csh is not None and esh is not None and csh.random != esh.random
    out.append(Check("certificate", same_cert,
                     f"the client saw subject {curl.subject or '?'}, issuer {curl.issuer or '?'}; "
                     + (f"byte for byte the certificate of {pod} (Secret {where})" if same_cert else
                        f"not the certificate of {pod or 'the backend pod'}"
                        + (f" (Secret {where})" if where else ""))
                     + ("; but the gateway showed it itself (it holds the same certificate and key)"
                        if same_cert and other_peer else "")))
    answered = curl.exit_code == 0 and curl.status_line != "" and (not pod or curl.answered_by == pod)
    out.append(Check("answer", answered,
                     f"curl exit {curl.exit_code}, {curl.status_line or 'no HTTP answer'}"
                     + (f", from pod {curl.answered_by}" if curl.answered_by else "")
                     + (", certificate verified" if curl.verified else ", certificate not verified")))
    return out


def _refused_checks(lay: Layout, client: Sighting | None, ecmp: list[str], gateway: Sighting | None,
                    backend_packets: int, curl: Curl) -> list[Check]:
    out = _common_checks(lay, client, ecmp)
    what = "the ClientHello" if lay.request != PLAIN_HTTP else "the connection"
    out.append(Check("reached the gateway", gateway is not None,
                     f"{what} arrived at {lay.names.get(gateway.flow.dst.ip, '?')} {gateway.flow.dst}"
                     + (f"; {gateway.ended}" if gateway.ended else "") if gateway else
                     f"{what} never reached a gateway pod"))
    out.append(Check("nothing reached a backend", backend_packets == 0,
                     "no packet to or from any backend pod's port " + "/".join(map(str, lay.backend_ports))
                     if backend_packets == 0 else f"{backend_packets} packets to or from a backend pod's port"))
    out.append(Check("client refused", curl.exit_code != 0 and not curl.status_line,
                     f"curl exit {curl.exit_code}" + (f", {curl.status_line}" if curl.status_line else ", no answer")))
    return out


def _verdict(lay: Layout, checks: list[Check], ok: bool, backend: Sighting | None, echo: Sighting | None,
             client: Sighting | None) -> str:
    failed = [c.name for c in checks if not c.ok]
    if lay.expect == REFUSED:
        if ok:
            return "refused at the gateway: nothing reached any backend"
        return f"NOT refused as expected for {lay.asked} (failed: {', '.join(failed)})"
    if ok:
        return "passthrough proven: the same ClientHello on both legs, the backend's ServerHello and certificate"
    if echo and echo.client_hello and client and client.client_hello \
            and echo.client_hello.random != client.client_hello.random:
        return ("NOT passthrough: the gateway terminated TLS and opened its own TLS connection to the backend "
                f"(failed: {', '.join(failed)})")
    return f"passthrough NOT proven (failed: {', '.join(failed)})"
