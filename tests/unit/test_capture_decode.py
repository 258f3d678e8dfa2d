"""The capture decoders on pcaps captured from a real lab (tests/fixtures/pcap/make.py makes them):
BIRD's OPENs, UPDATEs, NOTIFICATIONs, ROUTE-REFRESHes; OpenSSL's hellos and alerts; the TCP
reassembly under reordering and duplicates; the pcap copy; the CLI's -r."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys

import pytest

from orchestrator import PROJECT_ROOT
from orchestrator.capture import decode_bgp, pcapfile, render
from orchestrator.capture.decode_bgp import BgpNotification, BgpOpen, BgpRouteRefresh, BgpUpdate
from orchestrator.capture.decode_tls import ClientHello, ServerHello, TlsAlert
from orchestrator.capture.decoder import Decoder, Event
from orchestrator.capture.packet import LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL2, Segment, parse_ip, parse_tcp
from orchestrator.capture.sessions import SessionDown
from orchestrator.capture.sniff import CaptureSpec
from orchestrator.capture import tcpstream

PCAPS = PROJECT_ROOT / "tests" / "fixtures" / "pcap"
BASTION, CONTROL1, WORKER1, WORKER2 = "10.0.1.10", "10.0.1.11", "10.0.1.12", "10.0.1.13"
NAMES = {BASTION: "bastion", CONTROL1: "control1", WORKER1: "worker1", WORKER2: "worker2"}


def read(name: str) -> tuple[pcapfile.PcapHeader, list[pcapfile.Record]]:
    with open(PCAPS / name, "rb") as f:
        header = pcapfile.read_header(f)
        return header, list(pcapfile.records(f, header))


def decode(name: str, decoder: Decoder | None = None) -> tuple[list[Event], Decoder]:
    decoder = decoder or Decoder()
    header, recs = read(name)
    events = [e for r in recs for e in decoder.feed(header.linktype, r.time, r.data)]
    return events, decoder


def of(events: list[Event], kind: type, src: str | None = None) -> list[Event]:
    return [e for e in events if isinstance(e.message, kind) and (src is None or (e.flow and e.flow.src.ip == src))]


# -- BGP: a node's BIRD stopped (SIGTERM) and started again -------------------------------------

def test_restart_notification_open_update_end_of_rib() -> None:
    events, decoder = decode("bgp-restart.pcap")
    [note] = of(events, BgpNotification)
    assert note.flow and note.flow.src.ip == WORKER1
    assert note.message.describe() == "Cease / Administrative Shutdown"

    opens = {e.flow.src.ip: e.message for e in of(events, BgpOpen) if e.flow}
    assert set(opens) == {WORKER1, BASTION}
    node = opens[WORKER1]
    assert isinstance(node, BgpOpen)
    assert (node.asn, node.hold_time, node.router_id) == (64512, 9, WORKER1)
    caps = {c.code: str(c) for c in node.capabilities}
    # Every capability BIRD packed into its single optional parameter, not only the first.
    assert set(caps) == {1, 2, 64, 65, 70, 71}
    assert caps[1] == "multiprotocol IPv4 unicast"
    assert caps[64] == "graceful restart time 120 s: IPv4 unicast"
    assert caps[65] == "4-octet AS 64512"
    assert caps[70] == "enhanced route refresh"
    assert "restart aware only" in str(next(c for c in opens[BASTION].capabilities if c.code == 64))

    updates = [e.message for e in of(events, BgpUpdate, WORKER1)]
    announce = [u for u in updates if isinstance(u, BgpUpdate) and u.announced]
    assert [sorted(u.announced) for u in announce] == [["10.10.10.0/26", "10.50.0.16/28"]]
    attrs = announce[0].attributes
    assert attrs is not None
    assert (attrs.next_hop, attrs.origin, attrs.as_path, attrs.local_pref) == (WORKER1, "IGP", "", 100)
    assert [u.end_of_rib for u in updates if isinstance(u, BgpUpdate) and u.end_of_rib] == ["IPv4 unicast"]
    assert [e.message.end_of_rib for e in of(events, BgpUpdate, BASTION)] == ["IPv4 unicast"]

    stats = decoder.sessions.stats[(BASTION, WORKER1)]
    assert stats.state == "Established" and stats.downs == 1 and stats.opens == 1
    assert decoder.sessions.stats[(BASTION, CONTROL1)].state == "up before the capture"


def test_restart_session_down_lists_the_routes_it_takes() -> None:
    # Unseeded, the capture cannot know what worker1 announced before it began, and says so.
    events, _ = decode("bgp-restart.pcap")
    [down] = of(events, SessionDown)
    assert isinstance(down.message, SessionDown)
    assert down.message.withdrawn == () and not down.message.complete
    assert "whatever it announced before the capture" in down.message.describe()

    # Seeded with what the bastion held from worker1 (as `trace bgp` does from BIRD), it lists them.
    seeded = Decoder()
    seeded.sessions.seed(WORKER1, BASTION, ["10.10.10.0/26", "10.50.0.16/28"])
    events, _ = decode("bgp-restart.pcap", seeded)
    [down] = of(events, SessionDown)
    assert down.flow and down.flow.src.ip == WORKER1
    assert down.message.describe(NAMES[WORKER1]) == (
        "NOTIFICATION Cease / Administrative Shutdown from worker1; "
        "implicitly withdrawn 10.10.10.0/26, 10.50.0.16/28")


# -- BGP: the bastion's import filter pushed (configure), no session reset -----------------------

def test_filter_push_is_route_refresh_and_no_reset() -> None:
    events, decoder = decode("bgp-filter-push.pcap")
    assert not of(events, BgpOpen) and not of(events, BgpNotification) and not of(events, SessionDown)
    refreshes = of(events, BgpRouteRefresh, BASTION)
    assert {e.flow.dst.ip for e in refreshes if e.flow} == {CONTROL1, WORKER1, WORKER2}
    assert all(e.message.describe() == "IPv4 unicast" for e in refreshes)
    for node, block in ((CONTROL1, "10.50.0.0/28"), (WORKER1, "10.50.0.16/28"), (WORKER2, "10.50.0.32/28")):
        # Enhanced route refresh (RFC 7313): each answer is framed by BoRR ... EoRR.
        framing = [e.message.subtype for e in of(events, BgpRouteRefresh, node)]
        assert framing[:2] == [1, 2] or framing[0] == 1, framing
        announced = {p for e in of(events, BgpUpdate, node) for p in e.message.announced}
        withdrawn = {p for e in of(events, BgpUpdate, node) for p in e.message.withdrawn}
        assert announced == {"10.10.10.0/26", block}
        # BIRD re-feeds its whole table and withdraws what its export filter rejects.
        assert "10.0.1.0/24" in withdrawn and block not in withdrawn
    for pair in ((BASTION, CONTROL1), (BASTION, WORKER1), (BASTION, WORKER2)):
        assert decoder.sessions.stats[pair].downs == 0

    # Knowing what each node had announced (as the trace does), those withdrawals change nothing.
    seeded = Decoder()
    for node, block in ((CONTROL1, "10.50.0.0/28"), (WORKER1, "10.50.0.16/28"), (WORKER2, "10.50.0.32/28")):
        seeded.sessions.seed(node, BASTION, ["10.10.10.0/26", block])
    decode("bgp-filter-push.pcap", seeded)
    for node in (CONTROL1, WORKER1, WORKER2):
        stats = seeded.sessions.stats[tuple(sorted((BASTION, node)))]  # type: ignore[index]
        assert stats.withdrawn == {} and "10.0.1.0/24" in stats.idle_withdrawals[node]


# -- BGP: attributes, and a NOTIFICATION that is not a Cease -------------------------------------

def test_update_attributes_communities_and_bad_peer_as() -> None:
    events, decoder = decode("bgp-attributes.pcap")
    [decorated] = [e.message for e in of(events, BgpUpdate, WORKER2) if "192.0.2.0/24" in e.message.announced]
    assert isinstance(decorated, BgpUpdate) and decorated.attributes is not None
    a = decorated.attributes
    assert sorted(decorated.announced) == ["192.0.2.0/24", "198.51.100.0/25"]
    assert (a.med, a.local_pref, a.as_path, a.next_hop) == (50, 200, "65001", WORKER2)
    assert a.communities == ("64512:100", "NO_EXPORT")
    assert a.large_communities == ("64512:1:2",)

    notes = [e.message.describe() for e in of(events, BgpNotification, BASTION)]
    assert notes == ["OPEN Message Error / Bad Peer AS (peer AS 65000)"]
    wrong = [e.message for e in of(events, BgpOpen, WORKER2) if e.message.asn == 65000]
    assert len(wrong) == 1

    downs = [e.message for e in of(events, SessionDown)]
    assert any(d.withdrawn == ("198.51.100.0/25", "192.0.2.0/24") for d in downs)
    assert sum(not d.established for d in downs) == 2  # Bad Peer AS; a connection refused in error wait
    assert decoder.sessions.stats[(BASTION, WORKER2)].state == "Established"


def test_notification_codes_in_words() -> None:
    def message(code: int, sub: int, data: bytes = b"") -> bytes:
        body = bytes([code, sub]) + data
        return decode_bgp.MARKER + (19 + len(body)).to_bytes(2, "big") + b"\x03" + body

    assert decode_bgp.decode(message(4, 0)).describe() == "Hold Timer Expired"
    assert decode_bgp.decode(message(6, 2, b"\x05bye!!")).describe() == "Cease / Administrative Shutdown (bye!!)"
    assert decode_bgp.decode(message(6, 4)).describe() == "Cease / Administrative Reset"
    assert decode_bgp.decode(message(3, 11)).describe() == "UPDATE Message Error / Malformed AS_PATH"


# -- TLS: OpenSSL's hellos on the bastion, Linux cooked v2 (-i any) --------------------------------

def test_tls_hellos_and_alert() -> None:
    header, _ = read("tls-hellos.pcap")
    assert header.linktype == LINKTYPE_LINUX_SLL2
    events, decoder = decode("tls-hellos.pcap")
    hellos = [e.message for e in of(events, ClientHello)]
    servers = [e.message for e in of(events, ServerHello)]
    assert [h.sni for h in hellos] == ["passthrough.example.com"] * 3
    assert [h.alpn for h in hellos] == [("h2", "http/1.1"), ("http/1.1",), ()]
    assert hellos[0].versions[:2] == ("TLS 1.3", "TLS 1.2") and hellos[1].versions == ("TLS 1.2",)
    assert hellos[2].versions == ("TLS 1.3",)
    assert all(len(h.random) == 64 and int(h.random, 16) for h in hellos)
    assert len({h.random for h in hellos}) == 3
    assert [(s.version, s.cipher, s.alpn) for s in servers] == [
        ("TLS 1.3", "TLS_AES_256_GCM_SHA384", None),
        ("TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "http/1.1")]
    [alert] = [e for e in of(events, TlsAlert)]
    assert alert.flow and alert.flow.src.port == 8444 and alert.message.describe() == "fatal protocol_version"
    # -i any saw every packet once here; the handshakes are one per connection all the same.
    assert len(decoder.handshakes.handshakes) == 3
    line = render.line(of(events, ClientHello)[0], NAMES)
    assert "bastion(10.0.1.10):" in line and "> worker1(10.0.1.12):8443  TLS ClientHello  SNI passthrough" in line


# -- TCP reassembly on real bytes: reordered, duplicated, split ------------------------------------

def _segments(name: str) -> list[tuple[float, Segment]]:
    header, recs = read(name)
    out = []
    for r in recs:
        ip = parse_ip(header.linktype, r.data)
        seg = parse_tcp(ip) if ip else None
        assert seg is not None
        out.append((r.time, seg))
    return out


def _split(seg: Segment, size: int) -> list[Segment]:
    if len(seg.payload) <= size:
        return [seg]
    return [Segment(seg.flow, (seg.seq + i) % (1 << 32), seg.ack, seg.flags & ~0x01 if i + size < len(seg.payload)
                    else seg.flags, seg.payload[i:i + size]) for i in range(0, len(seg.payload), size)]


def _messages(segments: list[tuple[float, Segment]]) -> list[str]:
    streams = tcpstream.Reassembler()
    splitters: dict[object, decode_bgp.MessageSplitter] = {}
    out = []
    for t, seg in segments:
        for ev in streams.feed(seg, t):
            if isinstance(ev, tcpstream.Data):
                for raw in splitters.setdefault(ev.flow, decode_bgp.MessageSplitter()).feed(ev.data, ev.after_gap):
                    out.append(f"{ev.flow.src}>{ev.flow.dst} {decode_bgp.decode(raw).kind} "
                               f"{decode_bgp.decode(raw).describe()}")
    return out


def _by_flow(messages: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in messages:
        out.setdefault(m.split(" ", 1)[0], []).append(m)
    return out


def test_reassembly_survives_splits_reordering_and_duplicates() -> None:
    segments = _segments("bgp-filter-push.pcap")
    expected = _by_flow(_messages(segments))
    assert sum(map(len, expected.values())) > 20
    rng = random.Random(7)
    pieces = [(t, s) for t, seg in segments for s in _split(seg, 5)]
    # A third of the pieces are captured twice (as -i any does on a router) and every window of
    # four is shuffled; only a direction's very first piece stays first, since a capture that
    # starts mid-stream can only start the stream where its first packet says.
    mangled: list[tuple[float, Segment]] = []
    for t, s in pieces:
        mangled.append((t, s))
        if rng.random() < 0.33:
            mangled.append((t, s))
    for i in range(0, len(mangled) - 4, 4):
        window = mangled[i:i + 4]
        rng.shuffle(window)
        mangled[i:i + 4] = window
    first = {}
    for t, s in pieces:
        first.setdefault(s.flow, s)
    started: set[object] = set()
    held: dict[object, list[tuple[float, Segment]]] = {}
    ordered: list[tuple[float, Segment]] = []
    for t, s in mangled:
        if s.flow in started:
            ordered.append((t, s))
        elif s is first[s.flow]:
            started.add(s.flow)
            ordered += [(t, s)] + held.pop(s.flow, [])
        else:
            held.setdefault(s.flow, []).append((t, s))
    assert ordered != pieces
    assert _by_flow(_messages(ordered)) == expected


def test_splitter_resynchronises_after_a_gap() -> None:
    keepalive = decode_bgp.MARKER + b"\x00\x13\x04"
    s = decode_bgp.MessageSplitter()
    assert s.feed(b"\x00\x17\x02\x00\x00" + keepalive[:10]) == []  # the end of an unknown message
    assert s.feed(keepalive[10:] + keepalive) == [keepalive, keepalive]
    assert s.feed(keepalive[:7], after_gap=False) == []
    assert s.feed(b"\x99" * 3 + keepalive, after_gap=True) == [keepalive]


# -- the pcap copy and the CLI's -r --------------------------------------------------------------

def test_tee_copies_the_stream_byte_for_byte() -> None:
    raw = (PCAPS / "bgp-restart.pcap").read_bytes()
    src, out = io.BytesIO(raw), io.BytesIO()
    header = pcapfile.read_header(src)
    tee = pcapfile.Tee(out)
    tee.header(header)
    for r in pcapfile.records(src, header):
        tee.record(r)
    assert out.getvalue() == raw and header.linktype == LINKTYPE_ETHERNET
    with pytest.raises(pcapfile.PcapError, match="pcapng"):
        pcapfile.read_header(io.BytesIO(b"\x0a\x0d\x0d\x0a" + b"\0" * 28))


def test_capture_runs_tcpdump_in_the_namespace_bound_to_us() -> None:
    argv = CaptureSpec("gwlab-x.bastion", "eth1", "tcp port 179", 5).argv()
    assert argv[:2] == [argv[0], "--net=/run/netns/gwlab-x.bastion"] and "nsenter" in argv[0]
    tcpdump = argv[argv.index("--pdeathsig"):]
    assert tcpdump[1] == "TERM"
    for flag in ("--immediate-mode", "-U", "-w", "-"):
        assert flag in tcpdump
    assert tcpdump[tcpdump.index("-Z") + 1] == "root"  # dropping to tcpdump's user would clear pdeathsig
    assert tcpdump[tcpdump.index("-c") + 1] == "5" and tcpdump[-2:] == ["--", "tcp port 179"]


@pytest.mark.skipif(os.geteuid() != 0, reason="the CLI needs root")
def test_cli_reads_a_pcap_with_a_filter_as_json() -> None:
    out = subprocess.run([sys.executable, "-m", "orchestrator", "capture", "-r", str(PCAPS / "bgp-restart.pcap"),
                          "--filter", "tcp port 179 and host 10.0.1.12", "--json", "--lab", "no-such-lab"],
                         capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    events, summary = lines[:-1], lines[-1]
    assert {e["src"]["ip"] for e in events} == {WORKER1, BASTION}
    kinds = [e["kind"] for e in events]
    assert kinds.count("OPEN") == 2 and "NOTIFICATION" in kinds and "SESSION DOWN" in kinds
    [upd] = [e for e in events if e["kind"] == "UPDATE" and e["detail"]["announced"]]
    assert upd["detail"]["attributes"]["local_pref"] == 100
    assert summary["stopped_by"] == "end of file" and summary["packets"] == len(_segments("bgp-restart.pcap")) - sum(
        1 for _, s in _segments("bgp-restart.pcap") if WORKER1 not in (s.flow.src.ip, s.flow.dst.ip))
