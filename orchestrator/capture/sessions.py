"""What a capture says about each BGP session and each TLS handshake, message after message.

BGP: a session is a pair of addresses; each TCP connection between them is one life of it. The
tracker knows per connection whether both OPENs carried 4-octet AS, and per direction which
prefixes the sender announced and has not withdrawn (from the capture, or seeded from a BIRD
that already held them), so a session that goes down (NOTIFICATION, FIN, RST) lists the routes it
implicitly withdraws.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from orchestrator.capture.decode_bgp import BgpMessage, BgpNotification, BgpOpen, BgpRouteRefresh, BgpUpdate
from orchestrator.capture.decode_tls import ClientHello, ServerHello, TlsAlert, TlsMessage
from orchestrator.capture.packet import Endpoint, Flow

Pair = tuple[str, str]  # the two addresses, sorted
Connection = tuple[Endpoint, Endpoint]


def pair_of(flow: Flow) -> Pair:
    a, b = sorted((flow.src.ip, flow.dst.ip))
    return a, b


@dataclass(frozen=True)
class SessionDown:
    """The session between flow.src and flow.dst ended; flow.src's routes are gone with it."""

    reason: str
    by: str  # the address that ended it (sent the NOTIFICATION, FIN or RST)
    withdrawn: tuple[str, ...]  # what flow.src had announced and not withdrawn
    complete: bool = True  # False: flow.src may have announced routes before the capture began
    established: bool = True  # False: the connection died before the session was up
    kind: str = "SESSION DOWN"

    def describe(self, by_name: str = "") -> str:
        routes = ", ".join(self.withdrawn)
        if not self.complete:
            routes += (" and " if routes else "") + "whatever it announced before the capture"
        routes = f"implicitly withdrawn {routes}" if routes else "no routes withdrawn"
        when = "" if self.established else " before the session was established"
        return f"{self.reason} from {by_name or self.by}{when}; {routes}"


@dataclass
class _Conn:
    pair: Pair
    opens: dict[str, BgpOpen] = field(default_factory=dict)  # sender ip -> its OPEN
    messages: int = 0
    down: bool = False
    confirmed: set[str] = field(default_factory=set)  # senders of a KEEPALIVE/UPDATE after the OPENs
    established: bool = False  # both sides confirmed, or up before the capture


@dataclass
class SessionStats:
    """Everything seen between two BGP speakers during the capture."""

    pair: Pair
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (sender ip, kind) -> messages
    announced: dict[str, list[str]] = field(default_factory=dict)  # sender ip -> prefixes, in order
    withdrawn: dict[str, list[str]] = field(default_factory=dict)  # explicit and implicit
    # Withdrawals of prefixes the sender had not announced (BIRD re-feeding its table after a
    # ROUTE-REFRESH withdraws everything its export filter rejects): no route changes.
    idle_withdrawals: dict[str, list[str]] = field(default_factory=dict)
    notifications: list[str] = field(default_factory=list)  # "sender: Cease / ..."
    refreshes: Counter[str] = field(default_factory=Counter)  # sender ip -> ROUTE-REFRESH sent
    end_of_rib: Counter[str] = field(default_factory=Counter)
    opens: int = 0
    downs: int = 0
    state: str = "up before the capture"

    def total(self, kind: str) -> int:
        return sum(n for (_, k), n in self.counts.items() if k == kind)


class BgpSessions:
    def __init__(self) -> None:
        self.stats: dict[Pair, SessionStats] = {}
        self._rib: dict[tuple[str, str], dict[str, None]] = {}  # (sender, receiver) -> prefixes
        self._conns: dict[Connection, _Conn] = {}
        self._complete: set[tuple[str, str]] = set()  # directions whose announcements we know in full

    def seed(self, sender: str, receiver: str, prefixes: list[str]) -> None:
        """Routes `sender` had announced to `receiver` before the capture (e.g. from BIRD)."""
        rib = self._rib.setdefault((sender, receiver), {})
        rib.update(dict.fromkeys(prefixes))
        self._complete.add((sender, receiver))

    def _stats(self, pair: Pair) -> SessionStats:
        return self.stats.setdefault(pair, SessionStats(pair))

    def _conn(self, flow: Flow) -> _Conn:
        key = flow.connection
        if key not in self._conns:
            self._conns[key] = _Conn(pair_of(flow))
        return self._conns[key]

    def four_octet_as(self, flow: Flow) -> bool:
        opens = self._conn(flow).opens
        return len(opens) < 2 or all(o.four_octet_as for o in opens.values())

    def message(self, flow: Flow, msg: BgpMessage) -> list[tuple[Flow, SessionDown]]:
        conn = self._conn(flow)
        stats = self._stats(conn.pair)
        sender, receiver = flow.src.ip, flow.dst.ip
        if conn.messages == 0 and not isinstance(msg, BgpOpen):
            conn.established = True  # the capture began in the middle of this session
        conn.messages += 1
        stats.counts[(sender, msg.kind)] += 1
        rib = self._rib.setdefault((sender, receiver), {})
        if isinstance(msg, BgpOpen):
            if not conn.opens:
                stats.opens += 1
                stats.state = "opening"
            conn.opens[sender] = msg
            self._complete.add((sender, receiver))
        elif isinstance(msg, BgpUpdate):
            if msg.end_of_rib:
                stats.end_of_rib[sender] += 1
            known = (sender, receiver) in self._complete
            for p in msg.withdrawn:
                if p in rib or not known:
                    rib.pop(p, None)
                    stats.withdrawn.setdefault(sender, []).append(p)
                else:
                    stats.idle_withdrawals.setdefault(sender, []).append(p)
            for p in msg.announced:
                rib[p] = None
                stats.announced.setdefault(sender, []).append(p)
        elif isinstance(msg, BgpRouteRefresh):
            stats.refreshes[sender] += 1
        elif isinstance(msg, BgpNotification):
            stats.notifications.append(f"{sender}: {msg.describe()}")
            return self._down(conn, flow, f"NOTIFICATION {msg.describe()}")
        if len(conn.opens) == 2 and not conn.established and msg.kind in ("KEEPALIVE", "UPDATE"):
            conn.confirmed.add(sender)
            if len(conn.confirmed) == 2:
                conn.established = True
                stats.state = "Established"
        return []

    def closed(self, flow: Flow, how: str) -> list[tuple[Flow, SessionDown]]:
        """The TCP connection of a BGP session was closed by flow.src."""
        conn = self._conn(flow)
        if conn.messages == 0:
            return []
        return self._down(conn, flow, "connection closed (FIN)" if how == "FIN" else "connection reset (RST)")

    def _down(self, conn: _Conn, flow: Flow, reason: str) -> list[tuple[Flow, SessionDown]]:
        """One event per side that loses routes (flow.src's first), or one from flow.src."""
        if conn.down:
            return []
        conn.down = True
        stats = self._stats(conn.pair)
        if not conn.established:
            # A connection that never carried the session (refused, collision, bad OPEN): the
            # routes of the session, if one is up on another connection, are not affected.
            if stats.state == "opening":
                stats.state = f"not established ({reason})"
            return [(flow, SessionDown(reason, flow.src.ip, (), True, False))]
        stats.downs += 1
        stats.state = f"down ({reason})"
        events: list[tuple[Flow, SessionDown]] = []
        complete = {}
        for side in (flow, flow.reverse):
            key = (side.src.ip, side.dst.ip)
            rib = self._rib.pop(key, {})
            complete[side] = key in self._complete
            self._complete.discard(key)
            if rib:
                stats.withdrawn.setdefault(side.src.ip, []).extend(rib)
                events.append((side, SessionDown(reason, flow.src.ip, tuple(rib), complete[side])))
        return events or [(flow, SessionDown(reason, flow.src.ip, (), complete[flow]))]


@dataclass
class Handshake:
    client: Flow
    client_hello: ClientHello | None = None
    server_hello: ServerHello | None = None
    alerts: list[tuple[str, TlsAlert]] = field(default_factory=list)  # ("client"|"server", alert)


class TlsHandshakes:
    def __init__(self) -> None:
        self.handshakes: dict[Connection, Handshake] = {}

    def message(self, flow: Flow, msg: TlsMessage) -> None:
        key = flow.connection
        if isinstance(msg, ClientHello):
            hs = self.handshakes.setdefault(key, Handshake(flow))
            hs.client, hs.client_hello = flow, msg
            return
        hs = self.handshakes.setdefault(key, Handshake(flow.reverse))
        if isinstance(msg, ServerHello):
            hs.server_hello = msg
        else:
            hs.alerts.append(("client" if flow == hs.client else "server", msg))
