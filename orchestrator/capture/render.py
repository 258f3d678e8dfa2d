"""Decoded events as lines for people (names from the lab, e.g. worker1(10.0.1.12):39805) or JSON."""

from __future__ import annotations

import json
import time as _time
from dataclasses import asdict
from typing import Any

from orchestrator.capture.decoder import Decoder, Event
from orchestrator.capture.packet import Endpoint
from orchestrator.capture.sessions import Handshake, SessionDown, SessionStats

Names = dict[str, str]  # ip -> a lab name (bastion, worker1, pod/echo-..., ...)


def clock(t: float) -> str:
    return _time.strftime("%H:%M:%S", _time.localtime(t)) + f".{int((t % 1) * 1e6):06d}"


def endpoint(ep: Endpoint, names: Names) -> str:
    name = names.get(ep.ip)
    return f"{name}({ep.ip}):{ep.port}" if name else str(ep)


def describe(event: Event, names: Names) -> str:
    msg = event.message
    if isinstance(msg, SessionDown):
        return msg.describe(names.get(msg.by, ""))
    return msg.describe()


def line(event: Event, names: Names) -> str:
    # A packet line is scapy's summary, which names both ends already.
    where = f"{endpoint(event.flow.src, names)} > {endpoint(event.flow.dst, names)}  " \
        if event.flow and event.proto else ""
    what = f"{event.proto} {event.message.kind}" if event.proto else ""
    text = describe(event, names)
    return f"{clock(event.time)} {where}{what}{'  ' if what and text else ''}{text}".rstrip()


def _ep_json(ep: Endpoint, names: Names) -> dict[str, Any]:
    return {"ip": ep.ip, "port": ep.port, "name": names.get(ep.ip)}


def as_json(event: Event, names: Names) -> dict[str, Any]:
    return {"time": round(event.time, 6), "proto": event.proto, "kind": event.message.kind,
            "src": _ep_json(event.flow.src, names) if event.flow else None,
            "dst": _ep_json(event.flow.dst, names) if event.flow else None,
            "text": describe(event, names), "detail": asdict(event.message)}


def json_line(event: Event, names: Names) -> str:
    return json.dumps(as_json(event, names), sort_keys=True)


def _name(ip: str, names: Names) -> str:
    return f"{names[ip]}({ip})" if ip in names else ip


def session_summary(s: SessionStats, names: Names) -> list[str]:
    a, b = s.pair
    head = f"  {_name(a, names)} <-> {_name(b, names)}: {s.state}"
    changes = [f"{s.downs} went down"] if s.downs else []
    changes += [f"{s.opens} opened"] if s.opens else []
    if changes:
        head += f" ({', '.join(changes)} during the capture)"
    out = [head]
    kinds = ("OPEN", "UPDATE", "NOTIFICATION", "KEEPALIVE", "ROUTE-REFRESH")
    for ip in (a, b):
        counts = ", ".join(f"{s.counts[(ip, k)]} {k}" for k in kinds if s.counts[(ip, k)])
        if not counts:
            continue
        out.append(f"    from {_name(ip, names)}: {counts}")
        for label, prefixes in (("announced", s.announced.get(ip)), ("withdrawn", s.withdrawn.get(ip)),
                                ("withdrawn, never announced", s.idle_withdrawals.get(ip))):
            if prefixes:
                unique = list(dict.fromkeys(prefixes))
                out.append(f"      {label} {len(prefixes)}x: {', '.join(unique)}")
        if s.end_of_rib[ip]:
            out.append(f"      End-of-RIB {s.end_of_rib[ip]}x")
    out += [f"    NOTIFICATION from {_name(n.split(': ', 1)[0], names)}: {n.split(': ', 1)[1]}"
            for n in s.notifications]
    return out


def handshake_summary(h: Handshake, names: Names) -> str:
    text = f"  {endpoint(h.client.src, names)} > {endpoint(h.client.dst, names)}:"
    if h.client_hello:
        ch = h.client_hello
        text += f" SNI {ch.sni or '(none)'}, ALPN offered {','.join(ch.alpn) or '(none)'}"
    if h.server_hello:
        text += f"; server chose {h.server_hello.version} {h.server_hello.cipher}"
    elif h.client_hello:
        text += "; no ServerHello"
    for who, alert in h.alerts:
        text += f"; alert from {who}: {alert.describe()}"
    return text


def summary(decoder: Decoder, names: Names) -> list[str]:
    out = []
    if decoder.sessions.stats:
        out.append(f"BGP sessions ({len(decoder.sessions.stats)}):")
        for pair in sorted(decoder.sessions.stats):
            out += session_summary(decoder.sessions.stats[pair], names)
    if decoder.handshakes.handshakes:
        out.append(f"TLS handshakes ({len(decoder.handshakes.handshakes)}):")
        out += [handshake_summary(h, names) for h in decoder.handshakes.handshakes.values()]
    return out


def summary_json(decoder: Decoder, names: Names) -> dict[str, Any]:
    sessions = []
    for s in decoder.sessions.stats.values():
        sessions.append({
            "peers": [{"ip": ip, "name": names.get(ip)} for ip in s.pair], "state": s.state,
            "opens": s.opens, "downs": s.downs,
            "messages": [{"from": ip, "kind": k, "count": n} for (ip, k), n in sorted(s.counts.items())],
            "announced": s.announced, "withdrawn": s.withdrawn, "idle_withdrawals": s.idle_withdrawals,
            "notifications": s.notifications,
            "route_refreshes": dict(s.refreshes), "end_of_rib": dict(s.end_of_rib)})
    handshakes = [{"client": str(h.client.src), "server": str(h.client.dst),
                   "client_hello": asdict(h.client_hello) if h.client_hello else None,
                   "server_hello": asdict(h.server_hello) if h.server_hello else None,
                   "alerts": [{"from": w, **asdict(a)} for w, a in h.alerts]}
                  for h in decoder.handshakes.handshakes.values()]
    return {"bgp_sessions": sessions, "tls_handshakes": handshakes}
