"""The path and verdict of `trace passthrough`, analysed again from real captures
(tests/fixtures/pcap/passthrough/, made by make_passthrough.py): the workshop's request, an unknown
SNI, a gateway terminating TLS; and the same captures with a piece taken away or changed, which must
turn the verdict. Also kube-proxy's counter lines and Gateway API hostname matching."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from orchestrator import PROJECT_ROOT
from orchestrator.capture import pcapfile
from orchestrator.capture.dnat import DnatMatch, NatRule, matched, parse_chain
from orchestrator.capture.inventory import hostname_matches
from orchestrator.capture.multi import Point, PointCapture, Recorder, pcap_name
from orchestrator.capture.passthrough_path import PLAIN_HTTP, REFUSED, TLS, Curl, Layout, TracePath, analyse

FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "pcap" / "passthrough"


def load(scenario: str) -> tuple[dict[str, Any], Layout, list[PointCapture], list[DnatMatch], Curl,
                                 dict[str, tuple[str, bytes | None]]]:
    d = FIXTURES / scenario
    doc = json.loads((d / "trace.json").read_text())
    lay = Layout(**{**doc["layout"], "backend_ports": tuple(doc["layout"]["backend_ports"])})
    caps = []
    for c in doc["captures"]:
        point = Point(c["point"], c["kind"], c["ns"], c["iface"], c["node"], c["ip"])
        rec = Recorder(bgp=False, tls=True)
        events = []
        with open(d / pcap_name(point), "rb") as f:
            header = pcapfile.read_header(f)
            for r in pcapfile.records(f, header):
                events += rec.feed(header.linktype, r.time, r.data)
        caps.append(PointCapture(point, rec, events))
    dnat = [DnatMatch(m["node"], NatRule(m["match"], m["action"], m["comment"], m["packets"]), m["packets"])
            for m in doc["path"]["dnat"]]
    c = doc["curl"]
    curl = Curl(c["exit_code"], c["status_line"], c["verified"], c["answered_by"], c["server_name"], c["subject"],
                c["issuer"], bytes.fromhex(c["certificate_der_hex"]) if c["certificate_der_hex"] else None)
    served = {pod: (v["from"], bytes.fromhex(v["der_hex"]) if v["der_hex"] else None)
              for pod, v in doc["served_certificates"].items()}
    return doc, lay, caps, dnat, curl, served


def run(scenario: str) -> tuple[dict[str, Any], TracePath]:
    doc, lay, caps, dnat, curl, served = load(scenario)
    return doc, analyse(lay, caps, dnat, curl, served)


def failed(path: TracePath) -> list[str]:
    return [c.name for c in path.checks if not c.ok]


def test_the_workshops_request_is_proven_passed_through() -> None:
    doc, path = run("proven")
    assert path.ok and failed(path) == []
    assert path.verdict.startswith("passthrough proven")
    assert path.client and path.echo and path.client.client_hello and path.echo.client_hello
    assert path.client.client_hello.random == path.echo.client_hello.random
    assert path.client.client_hello.sni == path.echo.client_hello.sni == "passthrough.example.com"
    assert path.client.server_hello and path.echo.server_hello
    assert path.client.server_hello.random == path.echo.server_hello.random
    assert path.ecmp == [doc["path"]["ecmp_node"]]
    # The hops, in order: what the trace printed when it ran.
    assert [(s.point.name, s.leg, s.flow.dst.ip) for s in path.sightings] == \
        [(h["point"], h["leg"], h["dst"]["ip"]) for h in doc["path"]["hops"]]
    kinds = [(s.point.kind, s.leg) for s in path.sightings if s.point.kind != "node"]
    assert kinds == [("bastion", "client"), ("gateway", "client"), ("gateway", "backend"), ("echo", "backend")]
    assert path.backend_packets > 0


def test_an_unknown_sni_is_proven_refused() -> None:
    _, path = run("unknown-sni")
    assert path.ok and path.verdict == "refused at the gateway: nothing reached any backend"
    assert path.backend_packets == 0 and path.backend is None and path.echo is None
    assert path.gateway is not None and "by pod/envoy-" in path.gateway.ended
    assert {s.leg for s in path.sightings} == {"client"}


@pytest.mark.parametrize("scenario", ["no-sni", "plain-http"])
def test_no_sni_and_plain_http_are_proven_refused(scenario: str) -> None:
    _, path = run(scenario)
    assert path.layout.request == scenario and path.layout.sni == ""
    assert path.ok and path.verdict == "refused at the gateway: nothing reached any backend", path.checks
    assert path.backend_packets == 0 and path.backend is None and path.echo is None
    # The connection is followed to the gateway pod by its ClientHello, or without one by its addresses.
    assert path.gateway is not None and "by pod/envoy-" in path.gateway.ended
    assert path.client is not None and path.gateway.flow.src == path.client.flow.src
    assert (path.client.client_hello is None) == (scenario == "plain-http")
    assert {s.point.kind for s in path.sightings} == {"bastion", "node", "gateway"}


def test_a_client_hello_where_plain_http_was_sent_fails_the_client_leg() -> None:
    _, lay, caps, dnat, curl, served = load("unknown-sni")
    path = analyse(replace(lay, request=PLAIN_HTTP, sni=""), caps, dnat, curl, served)
    assert failed(path) == ["client leg"] and path.verdict.startswith("NOT refused as expected for plain HTTP")
    _, lay, caps, dnat, curl, served = load("plain-http")
    path = analyse(replace(lay, request=TLS, sni="unknown.example.com"), caps, dnat, curl, served)
    assert "client leg" in failed(path)


def test_a_terminating_gateway_is_not_passthrough() -> None:
    _, path = run("terminating")
    assert not path.ok
    assert path.verdict.startswith("NOT passthrough: the gateway terminated TLS")
    assert failed(path) == ["same ClientHello random", "same ServerHello random"]
    assert path.backend and path.backend.client_hello and path.client and path.client.client_hello
    assert path.backend.client_hello.random != path.client.client_hello.random
    assert "the gateway showed it itself" in next(c.detail for c in path.checks if c.name == "certificate")


def test_without_the_echo_pods_capture_passthrough_is_not_proven() -> None:
    _, lay, caps, dnat, curl, served = load("proven")
    path = analyse(lay, [c for c in caps if c.point.kind != "echo"], dnat, curl, served)
    assert not path.ok and "backend leg" in failed(path) and "same ClientHello random" in failed(path)
    assert path.verdict.startswith("passthrough NOT proven")


def test_another_certificate_at_the_client_fails_the_certificate_check() -> None:
    _, lay, caps, dnat, curl, served = load("proven")
    assert curl.certificate is not None
    other = replace(curl, certificate=curl.certificate[:-1] + bytes([curl.certificate[-1] ^ 1]))
    path = analyse(lay, caps, dnat, other, served)
    assert failed(path) == ["certificate"] and not path.ok


def test_without_the_dnat_counter_the_dnat_is_not_proven() -> None:
    _, lay, caps, _, curl, served = load("proven")
    path = analyse(lay, caps, [], curl, served)
    assert failed(path) == ["DNAT"]


def test_a_request_that_reached_a_backend_is_not_a_refusal() -> None:
    _, lay, caps, dnat, curl, served = load("proven")
    path = analyse(replace(lay, expect=REFUSED), caps, dnat, curl, served)
    assert not path.ok and path.verdict.startswith("NOT refused as expected")
    assert set(failed(path)) == {"nothing reached a backend", "client refused"}


def test_kube_proxy_counters() -> None:
    before = parse_chain("""table ip gwlab_kube_proxy {
	chain services {
		ip daddr 10.96.0.11 tcp dport 443 counter packets 0 bytes 0 dnat to 10.50.0.17:8443 comment "default/passthrough-echoserver:443 ClusterIP"
		ip daddr 10.10.10.0 tcp dport 6443 counter packets 4 bytes 240 dnat to 10.50.0.33:6443 comment "tigera-gateway/envoy-x:6443 LoadBalancer"
	}
}""")
    assert before[1] == NatRule("ip daddr 10.10.10.0 tcp dport 6443", "dnat to 10.50.0.33:6443",
                                "tigera-gateway/envoy-x:6443 LoadBalancer", 4)
    after = [before[0], replace(before[1], packets=5)]
    [m] = matched("worker2", before, after)
    assert (m.node, m.packets, m.rule.action) == ("worker2", 1, "dnat to 10.50.0.33:6443")
    assert matched("worker2", before, before) == []


@pytest.mark.parametrize(("pattern", "host", "ok"), [
    ("passthrough.example.com", "passthrough.example.com", True),
    ("passthrough.example.com", "PASSTHROUGH.example.com", True),
    ("passthrough.example.com", "unknown.example.com", False),
    ("*.example.com", "a.example.com", True),
    ("*.example.com", "a.b.example.com", True),
    ("*.example.com", "example.com", False),
])
def test_hostname_matching(pattern: str, host: str, ok: bool) -> None:
    assert hostname_matches(pattern, host) is ok

