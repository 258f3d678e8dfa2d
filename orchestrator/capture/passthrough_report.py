"""`trace passthrough` for people (a hop-by-hop table, the checks, the verdict) and for machines (JSON)."""

from __future__ import annotations

import shlex
from dataclasses import asdict
from typing import Any

from orchestrator.capture.dnat import DnatMatch
from orchestrator.capture.passthrough_path import Sighting
from orchestrator.capture.trace_passthrough import PassthroughTrace

CERTS_W = "%{stderr}%{certs}"


def _ep(ip: str, port: int, names: dict[str, str]) -> str:
    return f"{names[ip]} {ip}:{port}" if ip in names else f"{ip}:{port}"


def _tls(s: Sighting, client_random: str | None) -> str:
    parts = []
    if s.client_hello:
        ch = s.client_hello
        same = "" if client_random is None else (" (the client's)" if ch.random == client_random else
                                                 " (NOT the client's)")
        parts.append(f"ClientHello SNI {ch.sni or '(none)'}, random {ch.random[:16]}…{same}")
    elif s.syn:
        parts.append("SYN, no ClientHello")
    if s.server_hello:
        parts.append(f"ServerHello {s.server_hello.version}, random {s.server_hello.random[:16]}…")
    parts += [f"alert from {a}" for a in s.alerts]
    return "; ".join(parts)


def _dnat_line(d: DnatMatch) -> str:
    return (f"nft {d.node}: kube-proxy rule \"{d.rule.comment}\" ({d.rule.match}) counted {d.packets} new "
            f"connection{'s' * (d.packets != 1)}: {d.rule.action}")


def report(t: PassthroughTrace) -> list[str]:
    lay, path, out = t.layout, t.path, t.outcome
    names = lay.names
    head = (f"trace passthrough (lab {t.lab}): {lay.asked} to Gateway {t.gateway} at {lay.address}:{lay.port}; "
            + (f"routed by TLSRoute {', '.join(t.routes)}" if t.routes else
               f"no TLSRoute takes {'this SNI' if lay.request == 'tls' else lay.asked}")
            + f", expected: {'passthrough to a backend pod' if lay.expect == 'passthrough' else 'refused'}")
    lines = [head]
    gw = ", ".join(f"{n} ({ip})" for ip, n in lay.gateway_pods.items())
    be = ", ".join(f"{n} ({ip})" for ip, n in lay.backend_pods.items()) or "none"
    lines.append(f"  gateway pod: {gw}; backend pods: {be}, port {'/'.join(map(str, lay.backend_ports))}")
    c = t.curl
    shown = [CERTS_W if a.endswith("%{certs}") else a for a in t.curl_argv]
    lines.append(f"  request from the bastion (the workshop's curl; -w prints the certificate it got): "
                 f"{shlex.join(shown)}")
    lines.append(f"    -> curl exit {c.exit_code}, {c.status_line or 'no HTTP answer'}"
                 + (f", answered by pod {c.answered_by}" if c.answered_by else "") + f" ({out.seconds:.2f} s)")
    packets = sum(p.result.records for p in out.captures if p.result)
    dropped = sum(p.result.stats.dropped or 0 for p in out.captures if p.result)
    lines.append(f"  captured on {', '.join(p.where for p in t.points)}, filter '{t.bpf}': {packets} packets, "
                 f"{dropped} dropped by kernel" + (f"; interrupted by {out.interrupted}" if out.interrupted else ""))
    lines += [f"  capture on {p.point.where} failed: {p.error}" for p in out.captures if p.error]
    if t.pcaps:
        lines.append(f"  pcaps: {', '.join(t.pcaps)}")
    lines.append("")
    lines.append("path, hop by hop (time from the start of the request):")
    client_random = path.client.client_hello.random if path.client and path.client.client_hello else None
    dnat_after = next((i for i, s in enumerate(path.sightings)
                       if s.point.kind == "node" and s.flow.dst.ip == lay.address), None)
    for i, s in enumerate(path.sightings):
        conn = f"{_ep(s.flow.src.ip, s.flow.src.port, names)} > {_ep(s.flow.dst.ip, s.flow.dst.port, names)}"
        lines.append(f"{i + 1:>3}  {(s.time - out.started) * 1000:+9.3f} ms  {s.point.where}  ({s.leg} leg) {s.note}")
        lines.append(f"{'':>19}{conn}")
        lines.append(f"{'':>19}{_tls(s, client_random) or 'no TLS seen'}; {s.packets} packets"
                     + (f", {s.ended}" if s.ended else ""))
        if i == dnat_after:
            lines += [f"{'DNAT':>16}   {_dnat_line(d)}" for d in path.dnat]
    if dnat_after is None:
        lines += [f"{'DNAT':>16}   {_dnat_line(d)}" for d in path.dnat]
    if not path.sightings:
        lines.append("  (the request was not seen at any capture point)")
    if t.gateway_log:
        lines.append("")
        lines.append("gateway access log (Envoy) during the trace:")
        lines += [f"  {x}" for x in t.gateway_log]
    lines.append("")
    for check in path.checks:
        lines.append(f"{'PASS' if check.ok else 'FAIL'}  {check.name:<26}  {check.detail}")
    lines.append("")
    lines.append(f"verdict: {path.verdict}")
    return lines


def _sighting_json(s: Sighting, started: float) -> dict[str, Any]:
    return {"point": s.point.name, "kind": s.point.kind, "iface": s.point.iface, "node": s.point.node,
            "leg": s.leg, "offset": round(s.time - started, 6),
            "src": {"ip": s.flow.src.ip, "port": s.flow.src.port},
            "dst": {"ip": s.flow.dst.ip, "port": s.flow.dst.port},
            "client_hello": asdict(s.client_hello) if s.client_hello else None,
            "server_hello": asdict(s.server_hello) if s.server_hello else None,
            "alerts": s.alerts, "packets": s.packets, "syn": s.syn, "ended": s.ended, "note": s.note}


def as_json(t: PassthroughTrace) -> dict[str, Any]:
    lay, path, out = t.layout, t.path, t.outcome

    def pod(s: Sighting | None, names: dict[str, str]) -> str | None:
        return names.get(s.flow.dst.ip) if s else None
    return {
        "lab": t.lab, "gateway": t.gateway, "routes": t.routes, "sni": lay.sni, "request": lay.request,
        "address": lay.address,
        "port": lay.port, "expect": lay.expect, "ok": t.ok, "verdict": path.verdict,
        "gateway_pods": lay.gateway_pods, "backend_pods": lay.backend_pods, "backend_ports": list(lay.backend_ports),
        "curl": {"argv": t.curl_argv, "exit_code": t.curl.exit_code, "status_line": t.curl.status_line,
                 "verified": t.curl.verified, "answered_by": t.curl.answered_by,
                 "server_name": t.curl.server_name, "subject": t.curl.subject, "issuer": t.curl.issuer,
                 "certificate_der_hex": t.curl.certificate.hex() if t.curl.certificate else None,
                 "seconds": round(out.seconds, 3)},
        "path": {"ecmp_node": path.ecmp[0] if len(path.ecmp) == 1 else None, "ecmp_nodes": path.ecmp,
                 "gateway_pod": pod(path.gateway, lay.gateway_pods),
                 "backend_pod": pod(path.echo, lay.backend_pods),
                 "client_hello": {"client_leg": asdict(path.client.client_hello)
                                  if path.client and path.client.client_hello else None,
                                  "backend_leg": asdict(path.echo.client_hello)
                                  if path.echo and path.echo.client_hello else None},
                 "server_hello": {"client_leg": asdict(path.client.server_hello)
                                  if path.client and path.client.server_hello else None,
                                  "backend_leg": asdict(path.echo.server_hello)
                                  if path.echo and path.echo.server_hello else None},
                 "dnat": [{"node": d.node, "match": d.rule.match, "action": d.rule.action, "comment": d.rule.comment,
                           "packets": d.packets} for d in path.dnat],
                 "backend_packets": path.backend_packets,
                 "hops": [_sighting_json(s, out.started) for s in path.sightings]},
        "checks": [asdict(c) for c in path.checks],
        "gateway_log": t.gateway_log,
        "layout": asdict(lay),
        "served_certificates": {pod: {"from": where, "der_hex": der.hex() if der else None}
                                for pod, (where, der) in t.served.items()},
        "captures": [{"point": p.point.name, "iface": p.point.iface, "ns": p.point.ns, "kind": p.point.kind,
                      "node": p.point.node, "ip": p.point.ip, "pcap": str(p.pcap) if p.pcap else None,
                      "packets": p.result.records if p.result else None,
                      "dropped": p.result.stats.dropped if p.result else None,
                      "stopped_by": p.result.stopped_by if p.result else None, "error": p.error}
                     for p in out.captures],
        "bpf": t.bpf, "pcaps": t.pcaps, "interrupted": out.interrupted,
    }
