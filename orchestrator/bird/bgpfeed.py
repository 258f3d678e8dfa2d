"""A minimal BGP-4 speaker that feeds routes to a BIRD under test (RFC 4271, 4760, 6793, 1997, 8092).

It plays a node of the lab towards a throwaway BIRD in a scratch namespace: it opens the session
from the node's address with the node's AS, sends the routes the node really advertises with their
path attributes, then End-of-RIB, and keeps the session open while the routes are read. Being a
plain TCP client, it connects as soon as BIRD listens (BIRD's own active side waits a second).
It only ever talks to an address inside a lab namespace.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

MARKER = b"\xff" * 16
OPEN, UPDATE, NOTIFICATION, KEEPALIVE = 1, 2, 3, 4
AS_TRANS = 23456
MAX_MESSAGE = 4096
ORIGINS = {"IGP": 0, "EGP": 1, "Incomplete": 2, "INCOMPLETE": 2, "?": 2}

# (code, subcode) -> what BIRD meant, for the report (RFC 4271 section 4.5 and 6.x).
_NOTIFICATIONS = {
    (1, 0): "message header error", (2, 0): "OPEN message error",
    (2, 1): "unsupported version number", (2, 2): "bad peer AS", (2, 3): "bad BGP identifier",
    (2, 4): "unsupported optional parameter", (2, 6): "unacceptable hold time",
    (2, 7): "unsupported capability", (3, 0): "UPDATE message error",
    (3, 1): "malformed attribute list", (3, 3): "missing well-known attribute",
    (3, 5): "attribute length error", (3, 8): "invalid NEXT_HOP attribute",
    (3, 11): "malformed AS_PATH", (4, 0): "hold timer expired", (5, 0): "finite state machine error",
    (6, 0): "cease", (6, 1): "cease: maximum number of prefixes reached",
    (6, 2): "cease: administrative shutdown", (6, 3): "cease: peer de-configured",
    (6, 4): "cease: administrative reset", (6, 5): "cease: connection rejected",
    (6, 6): "cease: other configuration change", (6, 7): "cease: connection collision resolution",
    (6, 8): "cease: out of resources",
}


class FeedError(Exception):
    """The session could not be opened; the text says what BIRD answered."""


@dataclass(frozen=True)
class PathAttrs:
    """The path attributes of one advertised route, as `show route all` prints them."""

    origin: str = "IGP"
    as_path: tuple[int, ...] = ()
    local_pref: int | None = 100
    med: int | None = None
    communities: tuple[tuple[int, int], ...] = ()
    large_communities: tuple[tuple[int, int, int], ...] = ()

    def encode(self, next_hop: IPv4Address, ibgp: bool, as4: bool) -> bytes:
        out = _attr(0x40, 1, bytes([ORIGINS.get(self.origin, 0)]))
        if self.as_path:
            fmt = "!I" if as4 else "!H"
            segs = b""
            path = list(self.as_path)
            while path:
                chunk, path = path[:255], path[255:]
                segs += bytes([2, len(chunk)]) + b"".join(
                    struct.pack(fmt, a if as4 or a < 65536 else AS_TRANS) for a in chunk)
            out += _attr(0x40, 2, segs)
        else:
            out += _attr(0x40, 2, b"")
        out += _attr(0x40, 3, next_hop.packed)
        if self.med is not None:
            out += _attr(0x80, 4, struct.pack("!I", self.med))
        if ibgp and self.local_pref is not None:
            out += _attr(0x40, 5, struct.pack("!I", self.local_pref))
        if self.communities:
            out += _attr(0xC0, 8, b"".join(struct.pack("!HH", a, b) for a, b in self.communities))
        if self.large_communities:
            out += _attr(0xC0, 32, b"".join(struct.pack("!III", *c) for c in self.large_communities))
        return out


def _attr(flags: int, code: int, value: bytes) -> bytes:
    if len(value) > 255:
        return struct.pack("!BBH", flags | 0x10, code, len(value)) + value
    return struct.pack("!BBB", flags, code, len(value)) + value


def _message(kind: int, body: bytes = b"") -> bytes:
    return MARKER + struct.pack("!HB", 19 + len(body), kind) + body


def _nlri(prefix: IPv4Network) -> bytes:
    n = (prefix.prefixlen + 7) // 8
    return bytes([prefix.prefixlen]) + prefix.network_address.packed[:n]


def open_message(asn: int, router_id: IPv4Address, hold: int = 0) -> bytes:
    caps = (bytes([1, 4]) + struct.pack("!HBB", 1, 0, 1)  # multiprotocol: IPv4 unicast
            + bytes([2, 0])  # route refresh: a filter change re-imports without a session reset
            + bytes([65, 4]) + struct.pack("!I", asn))  # 4-octet AS numbers
    params = bytes([2, len(caps)]) + caps
    my_as = asn if asn < 65536 else AS_TRANS
    return _message(OPEN, struct.pack("!BHH4sB", 4, my_as, hold, router_id.packed, len(params)) + params)


def update_messages(routes: list[tuple[IPv4Network, PathAttrs]], next_hop: IPv4Address, ibgp: bool,
                    as4: bool) -> list[bytes]:
    """UPDATEs carrying `routes` (routes sharing attributes share a message), then End-of-RIB."""
    groups: dict[PathAttrs, list[IPv4Network]] = {}
    for prefix, attrs in routes:
        groups.setdefault(attrs, []).append(prefix)
    out = []
    for attrs, prefixes in groups.items():
        encoded = attrs.encode(next_hop, ibgp, as4)
        room = MAX_MESSAGE - 19 - 4 - len(encoded)
        batch = b""
        for p in prefixes:
            nlri = _nlri(p)
            if len(batch) + len(nlri) > room:
                out.append(_message(UPDATE, struct.pack("!HH", 0, len(encoded)) + encoded + batch))
                batch = b""
            batch += nlri
        if batch:
            out.append(_message(UPDATE, struct.pack("!HH", 0, len(encoded)) + encoded + batch))
    out.append(_message(UPDATE, struct.pack("!HH", 0, 0)))  # End-of-RIB (RFC 4724)
    return out


def describe_notification(body: bytes) -> str:
    code, sub = (body[0], body[1]) if len(body) >= 2 else (0, 0)
    text = _NOTIFICATIONS.get((code, sub)) or _NOTIFICATIONS.get((code, 0)) or "error"
    return f"NOTIFICATION {code}/{sub} ({text})"


@dataclass
class Session:
    """One established session from `local` (a node's address) to the BIRD under test."""

    sock: socket.socket
    as4: bool
    remote_as: int  # the AS BIRD's OPEN announces
    sent: int = 0

    def send_routes(self, routes: list[tuple[IPv4Network, PathAttrs]], next_hop: IPv4Address,
                    ibgp: bool) -> None:
        for msg in update_messages(routes, next_hop, ibgp, self.as4):
            self.sock.sendall(msg)
        self.sent += len(routes)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise FeedError("BIRD closed the connection")
        data += chunk
    return data


def _read_message(sock: socket.socket) -> tuple[int, bytes]:
    head = _recv_exact(sock, 19)
    length, kind = struct.unpack("!HB", head[16:19])
    if head[:16] != MARKER or length < 19 or length > 65535:
        raise FeedError("not a BGP message")
    return kind, _recv_exact(sock, length - 19)


def peer_open(open_body: bytes) -> tuple[int, bool]:
    """BIRD's OPEN -> (its AS, whether it announces 4-octet AS numbers, capability 65)."""
    if len(open_body) < 10:
        raise FeedError("OPEN message too short")
    asn = struct.unpack("!H", open_body[1:3])[0]
    as4 = False
    params, i = open_body[10:10 + open_body[9]], 0
    while i + 2 <= len(params):
        ptype, plen = params[i], params[i + 1]
        value = params[i + 2:i + 2 + plen]
        if ptype == 2:
            j = 0
            while j + 2 <= len(value):
                if value[j] == 65 and value[j + 1] == 4:
                    as4, asn = True, struct.unpack("!I", value[j + 2:j + 6])[0]
                j += 2 + value[j + 1]
        i += 2 + plen
    return asn, as4


def connect(local: IPv4Address, asn: int, remote: IPv4Address, deadline: float,
            port: int = 179) -> Session:
    """Open a session to BIRD (retrying while it is not listening yet) and wait until Established.

    Call it with the thread inside the namespace that holds `local`."""
    last = "no answer"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FeedError(last)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(min(remaining, 1.0))
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind((str(local), 0))
            sock.connect((str(remote), port))
            sock.sendall(open_message(asn, local))
            kind, body = _read_message(sock)
            if kind == NOTIFICATION:
                raise FeedError(f"BIRD answered {describe_notification(body)}")
            if kind != OPEN:
                raise FeedError(f"BIRD sent message type {kind} instead of OPEN")
            remote_as, as4 = peer_open(body)
            sock.sendall(_message(KEEPALIVE))
            kind, body = _read_message(sock)
            if kind == NOTIFICATION:
                raise FeedError(f"BIRD answered {describe_notification(body)}")
            sock.settimeout(None)
            return Session(sock, as4, remote_as)
        except FeedError as exc:
            sock.close()
            last = str(exc)
            if "NOTIFICATION" in last:
                raise
        except OSError as exc:
            sock.close()
            last = f"connection to {remote}:{port} failed: {exc.strerror or exc}"
        time.sleep(0.01)
