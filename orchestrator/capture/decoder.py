"""From captured frames to decoded events: the one place where packets meet the decoders."""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.capture import decode_bgp, decode_tls, packet, tcpstream
from orchestrator.capture.decode_bgp import BgpMessage
from orchestrator.capture.decode_tls import TlsMessage
from orchestrator.capture.packet import Flow
from orchestrator.capture.sessions import BgpSessions, Connection, SessionDown, TlsHandshakes

BGP_PORT = 179


@dataclass(frozen=True)
class PacketLine:
    """A packet no decoder claimed, in one line."""

    text: str
    kind: str = "packet"

    def describe(self) -> str:
        return self.text


Message = BgpMessage | TlsMessage | SessionDown | PacketLine


@dataclass(frozen=True)
class Event:
    time: float
    proto: str  # "BGP", "TLS" or "" for a packet line
    message: Message
    flow: Flow | None = None  # None for a packet that is not TCP/IP


@dataclass
class Decoder:
    """Feed it frames in capture order; it returns what each one completes.

    bgp/tls choose the decoders; others adds one line per packet that no decoder claimed."""

    bgp: bool = True
    tls: bool = True
    others: bool = False
    sessions: BgpSessions = field(default_factory=BgpSessions)
    handshakes: TlsHandshakes = field(default_factory=TlsHandshakes)
    packets: int = 0
    _streams: tcpstream.Reassembler = field(default_factory=tcpstream.Reassembler)
    _kinds: dict[Connection, str] = field(default_factory=dict)  # "bgp" | "tls" | "other"
    _bgp: dict[Flow, decode_bgp.MessageSplitter] = field(default_factory=dict)
    _tls: dict[Flow, decode_tls.TlsReader] = field(default_factory=dict)

    def feed(self, linktype: int, time: float, data: bytes) -> list[Event]:
        self.packets += 1
        ip = packet.parse_ip(linktype, data)
        seg = packet.parse_tcp(ip) if ip else None
        if seg is None:
            return self._other(linktype, time, data, None)
        key = seg.flow.connection
        if key not in self._kinds and self.bgp and BGP_PORT in (seg.flow.src.port, seg.flow.dst.port):
            self._kinds[key] = "bgp"
        events: list[Event] = []
        for ev in self._streams.feed(seg, time):
            if isinstance(ev, tcpstream.Data):
                events += self._data(ev)
            elif isinstance(ev, tcpstream.Closed) and self._kinds.get(key) == "bgp":
                events += [Event(time, "BGP", down, flow) for flow, down in self.sessions.closed(ev.flow, ev.how)]
        if self._kinds.get(key) in (None, "other"):
            events += self._other(linktype, time, data, seg.flow)
        return events

    def _other(self, linktype: int, time: float, data: bytes, flow: Flow | None) -> list[Event]:
        if not self.others:
            return []
        return [Event(time, "", PacketLine(packet.summary(linktype, data)), flow)]

    def _data(self, ev: tcpstream.Data) -> list[Event]:
        key = ev.flow.connection
        kind = self._kinds.get(key)
        if kind is None:
            if self.bgp and ev.data.startswith(decode_bgp.MARKER):
                kind = "bgp"
            elif self.tls and decode_tls.looks_like_tls(ev.data):
                kind = "tls"
            else:
                kind = "other"
            self._kinds[key] = kind
        if kind == "bgp":
            return self._bgp_data(ev)
        if kind == "tls":
            reader = self._tls.setdefault(ev.flow, decode_tls.TlsReader())
            out = []
            for msg in reader.feed(ev.data):
                self.handshakes.message(ev.flow, msg)
                out.append(Event(ev.time, "TLS", msg, ev.flow))
            return out
        return []

    def _bgp_data(self, ev: tcpstream.Data) -> list[Event]:
        splitter = self._bgp.setdefault(ev.flow, decode_bgp.MessageSplitter())
        out: list[Event] = []
        for raw in splitter.feed(ev.data, ev.after_gap):
            msg = decode_bgp.decode(raw, self.sessions.four_octet_as(ev.flow))
            out.append(Event(ev.time, "BGP", msg, ev.flow))
            out += [Event(ev.time, "BGP", down, flow) for flow, down in self.sessions.message(ev.flow, msg)]
        return out
