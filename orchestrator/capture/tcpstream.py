"""Each direction of a TCP connection put back in order: retransmissions and the second copy of a
packet seen on two interfaces (`-i any` on a router) are dropped, segments after a gap wait for it.

A capture may start in the middle of a connection: the first data seen starts the stream there.
If a gap never fills (the capture missed packets), the stream skips it after MAX_PENDING segments
and says so, so the decoders resynchronise instead of stalling.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.capture.packet import Flow, Segment

MOD = 1 << 32
HALF = 1 << 31
MAX_PENDING = 256


@dataclass(frozen=True)
class Data:
    flow: Flow
    time: float
    data: bytes
    after_gap: bool = False  # bytes were lost before these


@dataclass(frozen=True)
class Opened:
    """A SYN (without ACK): a new connection from flow.src."""

    flow: Flow
    time: float


@dataclass(frozen=True)
class Closed:
    flow: Flow  # the direction that closed (sent FIN or RST)
    time: float
    how: str  # "FIN" | "RST"


StreamEvent = Data | Opened | Closed


@dataclass
class _Direction:
    next_seq: int | None = None
    pending: dict[int, bytes] = field(default_factory=dict)
    fin_seq: int | None = None
    closed: bool = False  # FIN reached (or RST)
    reset: bool = False


class Reassembler:
    def __init__(self) -> None:
        self._dirs: dict[Flow, _Direction] = {}

    def feed(self, seg: Segment, time: float) -> list[StreamEvent]:
        d = self._dirs.get(seg.flow)
        events: list[StreamEvent] = []
        if seg.syn:
            if d is not None and d.next_seq == (seg.seq + 1) % MOD:
                return []  # the same SYN again
            d = self._dirs[seg.flow] = _Direction(next_seq=(seg.seq + 1) % MOD)
            if not seg.flags & 0x10:
                events.append(Opened(seg.flow, time))
            return events
        if d is None:
            d = self._dirs[seg.flow] = _Direction()
        if seg.rst:
            if not d.reset:  # also after a FIN: a reset still ends what the peer was sending
                d.closed = d.reset = True
                events.append(Closed(seg.flow, time, "RST"))
            return events
        if seg.payload:
            events += self._data(d, seg, time)
        if seg.fin and d.fin_seq is None:
            d.fin_seq = (seg.seq + len(seg.payload)) % MOD
        if d.fin_seq is not None and not d.closed and (d.next_seq is None or d.next_seq == d.fin_seq):
            d.closed = True
            events.append(Closed(seg.flow, time, "FIN"))
        return events

    def _data(self, d: _Direction, seg: Segment, time: float) -> list[StreamEvent]:
        if d.closed:
            return []
        seq, payload = seg.seq, seg.payload
        if d.next_seq is None:
            d.next_seq = seq
        ahead = (seq - d.next_seq) % MOD
        if ahead >= HALF:  # starts before what we have: keep only the new tail, if any
            behind = MOD - ahead
            if behind >= len(payload):
                return []
            seq, payload = d.next_seq, payload[behind:]
        elif ahead > 0:
            if len(d.pending) < MAX_PENDING:
                d.pending.setdefault(seq, payload)
                return []
            return self._skip_gap(d, seg.flow, time, seq, payload)
        return self._advance(d, seg.flow, time, payload, after_gap=False)

    def _advance(self, d: _Direction, flow: Flow, time: float, payload: bytes, after_gap: bool) -> list[StreamEvent]:
        assert d.next_seq is not None
        out = [payload]
        d.next_seq = (d.next_seq + len(payload)) % MOD
        while d.pending:
            progressed = False
            for seq in list(d.pending):
                ahead = (seq - d.next_seq) % MOD
                chunk = d.pending[seq]
                if ahead >= HALF:  # overlaps what we have
                    del d.pending[seq]
                    behind = MOD - ahead
                    if behind < len(chunk):
                        out.append(chunk[behind:])
                        d.next_seq = (d.next_seq + len(chunk) - behind) % MOD
                    progressed = True
                elif ahead == 0:
                    del d.pending[seq]
                    out.append(chunk)
                    d.next_seq = (d.next_seq + len(chunk)) % MOD
                    progressed = True
            if not progressed:
                break
        return [Data(flow, time, b"".join(out), after_gap)]

    def _skip_gap(self, d: _Direction, flow: Flow, time: float, seq: int, payload: bytes) -> list[StreamEvent]:
        d.pending.setdefault(seq, payload)
        assert d.next_seq is not None
        first = min(d.pending, key=lambda s: (s - d.next_seq) % MOD)  # type: ignore[operator]
        d.next_seq = first
        chunk = d.pending.pop(first)
        return self._advance(d, flow, time, chunk, after_gap=True)
