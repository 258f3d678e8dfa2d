"""Frames -> IP -> TCP, parsed from the captured bytes (the link types tcpdump writes on Linux)."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

# link type -> (offset of the ethertype, offset of the network header); None: the family byte rules
LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2 = 1, 101, 113, 276
LINKTYPE_NULL, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_RAW_OLD = 0, 228, 229, 12
ETH_IPV4, ETH_IPV6, VLAN_TAGS = 0x0800, 0x86DD, (0x8100, 0x88A8)
PROTO_TCP = 6
TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int

    def __str__(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class Flow:
    """One direction of a TCP connection."""

    src: Endpoint
    dst: Endpoint

    @property
    def reverse(self) -> Flow:
        return Flow(self.dst, self.src)

    @property
    def connection(self) -> tuple[Endpoint, Endpoint]:
        """The same key for both directions."""
        a, b = sorted((self.src, self.dst), key=lambda e: (e.ip, e.port))
        return a, b


@dataclass(frozen=True)
class Segment:
    flow: Flow
    seq: int
    ack: int
    flags: int
    payload: bytes

    @property
    def syn(self) -> bool:
        return bool(self.flags & TCP_SYN)

    @property
    def fin(self) -> bool:
        return bool(self.flags & TCP_FIN)

    @property
    def rst(self) -> bool:
        return bool(self.flags & TCP_RST)


@dataclass(frozen=True)
class IPPacket:
    version: int
    src: str
    dst: str
    proto: int
    payload: bytes


def network_offset(linktype: int, data: bytes) -> tuple[int, int] | None:
    """(ethertype, offset of the IP header) of a frame, or None if it carries no IP."""
    if linktype == LINKTYPE_ETHERNET:
        off, etype = 14, int.from_bytes(data[12:14], "big") if len(data) >= 14 else 0
        while etype in VLAN_TAGS and len(data) >= off + 4:
            etype, off = int.from_bytes(data[off + 2:off + 4], "big"), off + 4
        return (etype, off) if etype in (ETH_IPV4, ETH_IPV6) else None
    if linktype == LINKTYPE_LINUX_SLL and len(data) >= 16:
        etype = int.from_bytes(data[14:16], "big")
        return (etype, 16) if etype in (ETH_IPV4, ETH_IPV6) else None
    if linktype == LINKTYPE_LINUX_SLL2 and len(data) >= 20:
        etype = int.from_bytes(data[0:2], "big")
        return (etype, 20) if etype in (ETH_IPV4, ETH_IPV6) else None
    if linktype in (LINKTYPE_RAW, LINKTYPE_RAW_OLD, LINKTYPE_IPV4, LINKTYPE_IPV6) and data:
        return (ETH_IPV4 if data[0] >> 4 == 4 else ETH_IPV6), 0
    if linktype == LINKTYPE_NULL and len(data) >= 5:
        return (ETH_IPV4 if data[4] >> 4 == 4 else ETH_IPV6), 4
    return None


def parse_ip(linktype: int, data: bytes) -> IPPacket | None:
    where = network_offset(linktype, data)
    if where is None:
        return None
    etype, off = where
    ip = data[off:]
    if etype == ETH_IPV4 and len(ip) >= 20 and ip[0] >> 4 == 4:
        ihl = (ip[0] & 0x0F) * 4
        total = int.from_bytes(ip[2:4], "big")
        if (int.from_bytes(ip[6:8], "big") & 0x1FFF) != 0:  # a later fragment: no transport header
            return IPPacket(4, socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20]), -1, b"")
        return IPPacket(4, socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20]), ip[9],
                        ip[ihl:total] if total >= ihl else ip[ihl:])
    if etype == ETH_IPV6 and len(ip) >= 40 and ip[0] >> 4 == 6:
        plen = int.from_bytes(ip[4:6], "big")
        return IPPacket(6, socket.inet_ntop(socket.AF_INET6, ip[8:24]),
                        socket.inet_ntop(socket.AF_INET6, ip[24:40]), ip[6], ip[40:40 + plen])
    return None


def parse_tcp(ip: IPPacket) -> Segment | None:
    t = ip.payload
    if ip.proto != PROTO_TCP or len(t) < 20:
        return None
    sport, dport, seq, ack, off_flags = struct.unpack("!HHIIH", t[:14])
    header = (off_flags >> 12) * 4
    if header < 20 or len(t) < header:
        return None
    return Segment(Flow(Endpoint(ip.src, sport), Endpoint(ip.dst, dport)), seq, ack, off_flags & 0x3F,
                   t[header:])


def summary(linktype: int, data: bytes) -> str:
    """One line for a packet that no decoder claimed (scapy's summary of the frame)."""
    from orchestrator.capture import scapy_setup

    layer = scapy_setup.l2_class(linktype)
    if layer is None:
        return f"link type {linktype}, {len(data)} bytes"
    try:
        return str(layer(data).summary())
    except Exception as exc:  # noqa: BLE001 - a frame scapy cannot dissect is still shown
        return f"{len(data)} bytes ({type(exc).__name__} in scapy)"
