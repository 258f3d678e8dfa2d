"""BGP messages (RFC 4271 and friends) from the bytes of one TCP direction, decoded with scapy.

scapy's BGP module decodes only the first capability of an optional parameter, while BIRD packs
every capability into one: capabilities are split here and each one decoded on its own. The AS
size in AS_PATH follows the session (4 octets once both OPENs carry capability 65, which is also
the default when a capture starts mid-session, as BIRD always offers it).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from orchestrator.capture import scapy_setup

MARKER = b"\xff" * 16
HEADER = 19
MAX_MESSAGE = 65535  # RFC 8654 extended messages; 4096 otherwise

AFI = {1: "IPv4", 2: "IPv6", 25: "L2VPN"}
SAFI = {1: "unicast", 2: "multicast", 4: "labeled", 70: "EVPN", 128: "VPN", 133: "flowspec"}
ORIGIN = {0: "IGP", 1: "EGP", 2: "incomplete"}
WELL_KNOWN_COMMUNITIES = {0xFFFFFF01: "NO_EXPORT", 0xFFFFFF02: "NO_ADVERTISE", 0xFFFFFF03: "NO_EXPORT_SUBCONFED",
                          0xFFFF029A: "BLACKHOLE", 0xFFFF0000: "GRACEFUL_SHUTDOWN"}
RR_SUBTYPES = {0: "refresh", 1: "BoRR (begin of refresh)", 2: "EoRR (end of refresh)"}
CEASE_WITH_MESSAGE = (2, 4)  # administrative shutdown / reset may carry a message (RFC 9003)


def family(afi: int, safi: int) -> str:
    return f"{AFI.get(afi, f'AFI {afi}')} {SAFI.get(safi, f'SAFI {safi}')}"


@dataclass(frozen=True)
class Capability:
    code: int
    name: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.name} {self.detail}".strip()


@dataclass(frozen=True)
class BgpOpen:
    version: int
    asn: int  # the 4-octet AS when capability 65 says so, else the header's
    hold_time: int
    router_id: str
    capabilities: tuple[Capability, ...]
    kind: str = "OPEN"

    @property
    def four_octet_as(self) -> bool:
        return any(c.code == 65 for c in self.capabilities)

    def describe(self) -> str:
        caps = "; ".join(str(c) for c in self.capabilities) or "none"
        return (f"AS {self.asn}, hold time {self.hold_time} s, router id {self.router_id}, "
                f"capabilities: {caps}")


@dataclass(frozen=True)
class PathAttributes:
    origin: str | None = None
    as_path: str = ""  # "64512 64513 {65000 65001}", "" when empty
    next_hop: str | None = None
    med: int | None = None
    local_pref: int | None = None
    communities: tuple[str, ...] = ()  # "64512:100" or a well-known name
    large_communities: tuple[str, ...] = ()  # "64512:1:2"
    extended_communities: tuple[str, ...] = ()  # hex of each 8-octet value
    others: tuple[str, ...] = ()  # names of attributes not decoded further

    def describe(self) -> str:
        parts = [f"next hop {self.next_hop}"] if self.next_hop else []
        if self.origin:
            parts.append(f"origin {self.origin}")
        parts.append(f"AS path {self.as_path or '(empty)'}")
        if self.local_pref is not None:
            parts.append(f"local pref {self.local_pref}")
        if self.med is not None:
            parts.append(f"MED {self.med}")
        if self.communities:
            parts.append("communities " + " ".join(self.communities))
        if self.large_communities:
            parts.append("large communities " + " ".join(self.large_communities))
        if self.extended_communities:
            parts.append("extended communities " + " ".join(self.extended_communities))
        if self.others:
            parts.append("also " + ", ".join(self.others))
        return ", ".join(parts)


@dataclass(frozen=True)
class BgpUpdate:
    withdrawn: tuple[str, ...] = ()
    announced: tuple[str, ...] = ()
    attributes: PathAttributes | None = None
    end_of_rib: str | None = None  # the family, for an End-of-RIB marker
    kind: str = "UPDATE"

    def describe(self) -> str:
        if self.end_of_rib:
            return f"End-of-RIB {self.end_of_rib}"
        parts = []
        if self.withdrawn:
            parts.append("withdrawn " + ", ".join(self.withdrawn))
        if self.announced:
            parts.append("announced " + ", ".join(self.announced))
        if self.attributes:
            parts.append(self.attributes.describe())
        return "; ".join(parts) or "(no routes)"


@dataclass(frozen=True)
class BgpNotification:
    code: int
    subcode: int
    code_name: str
    subcode_name: str
    message: str = ""  # a shutdown communication, or the data in hex
    kind: str = "NOTIFICATION"

    def describe(self) -> str:
        text = f"{self.code_name} / {self.subcode_name}" if self.subcode_name else self.code_name
        return text + (f" ({self.message})" if self.message else "")


@dataclass(frozen=True)
class BgpKeepalive:
    kind: str = "KEEPALIVE"

    def describe(self) -> str:
        return ""


@dataclass(frozen=True)
class BgpRouteRefresh:
    afi: int
    safi: int
    subtype: int
    kind: str = "ROUTE-REFRESH"

    def describe(self) -> str:
        sub = RR_SUBTYPES.get(self.subtype, f"subtype {self.subtype}")
        return family(self.afi, self.safi) + ("" if self.subtype == 0 else f", {sub}")


@dataclass(frozen=True)
class BgpUnknown:
    type: int
    length: int
    error: str = ""
    kind: str = "UNKNOWN"

    def describe(self) -> str:
        return f"type {self.type}, {self.length} bytes" + (f": {self.error}" if self.error else "")


BgpMessage = BgpOpen | BgpUpdate | BgpNotification | BgpKeepalive | BgpRouteRefresh | BgpUnknown


@dataclass
class MessageSplitter:
    """Cuts one direction's bytes into BGP messages; after a gap it looks for the next marker."""

    buf: bytearray = field(default_factory=bytearray)
    synced: bool = False

    def feed(self, data: bytes, after_gap: bool = False) -> list[bytes]:
        if after_gap:
            self.buf.clear()
            self.synced = False
        self.buf += data
        out: list[bytes] = []
        while True:
            if not self.synced or self.buf[:16] != MARKER:
                i = self.buf.find(MARKER)
                if i < 0:
                    del self.buf[:max(0, len(self.buf) - 15)]
                    return out
                del self.buf[:i]
                self.synced = True
            if len(self.buf) < HEADER:
                return out
            length = int.from_bytes(self.buf[16:18], "big")
            if not HEADER <= length <= MAX_MESSAGE:  # not a header after all: look further
                del self.buf[:1]
                self.synced = False
                continue
            if len(self.buf) < length:
                return out
            out.append(bytes(self.buf[:length]))
            del self.buf[:length]


def decode(message: bytes, four_octet_as: bool = True) -> BgpMessage:
    """One whole BGP message (marker included)."""
    kind = message[18] if len(message) >= HEADER else -1
    try:
        if kind == 4:
            return BgpKeepalive()
        if kind == 1:
            return _open(message)
        if kind == 2:
            return _update(message, four_octet_as)
        if kind == 3:
            return _notification(message)
        if kind == 5:
            return _route_refresh(message)
    except Exception as exc:  # noqa: BLE001 - a malformed message is shown, not fatal
        return BgpUnknown(kind, len(message), f"{type(exc).__name__}: {exc}")
    return BgpUnknown(kind, len(message))


def _open(message: bytes) -> BgpOpen:
    bgp = scapy_setup.bgp()
    pkt = bgp.BGPHeader(message)
    body = pkt[bgp.BGPOpen]
    # The optional parameters are walked by hand: scapy stops at the first capability of each.
    params = message[29:29 + message[28]]
    caps: list[Capability] = []
    while len(params) >= 2:
        ptype, plen = params[0], params[1]
        value, params = params[2:2 + plen], params[2 + plen:]
        if ptype == 2:
            caps += _capabilities(value)
        else:
            caps.append(Capability(-ptype, f"optional parameter {ptype}", f"{plen} bytes"))
    asn = next((int(c.detail) for c in caps if c.code == 65 and c.detail.isdigit()), int(body.my_as))
    return BgpOpen(int(body.version), asn, int(body.hold_time), str(body.bgp_id), tuple(caps))


def _capabilities(value: bytes) -> list[Capability]:
    bgp = scapy_setup.bgp()
    out: list[Capability] = []
    while len(value) >= 2:
        code, length = value[0], value[1]
        data, raw = value[2:2 + length], value[:2 + length]
        value = value[2 + length:]
        out.append(_capability(bgp, code, data, raw))
    return out


def _capability(bgp: Any, code: int, data: bytes, raw: bytes) -> Capability:
    names = {1: "multiprotocol", 2: "route refresh", 5: "extended next hop", 6: "extended message",
             9: "BGP role", 64: "graceful restart", 65: "4-octet AS", 69: "ADD-PATH",
             70: "enhanced route refresh", 71: "long-lived graceful restart", 73: "hostname",
             128: "route refresh (old Cisco code)"}
    name = names.get(code) or str(bgp._capabilities.get(code, f"capability {code}"))
    if code == 1 and len(data) >= 4:
        cap = bgp.BGPCapability(raw)
        return Capability(code, name, family(int(cap.afi), int(cap.safi)))
    if code == 65 and len(data) == 4:
        return Capability(code, name, str(int(bgp.BGPCapability(raw).asn)))
    if code == 64 and len(data) >= 2:
        cap = bgp.BGPCapability(raw)
        flags = int(cap.restart_flags)
        state = ["restarting"] if flags & 0x8 else []
        state += ["notification"] if flags & 0x4 else []
        fams = [family(int(e.afi), int(e.safi)) + (" (forwarding preserved)" if int(e.flags) & 0x80 else "")
                for e in cap.entries]
        detail = f"time {int(cap.restart_time)} s" + ("".join(f", {s}" for s in state))
        if not fams:
            detail += ", no address family (restart aware only)"
        return Capability(code, name, detail + (": " + ", ".join(fams) if fams else ""))
    if code == 69:
        modes = {1: "receive", 2: "send", 3: "send/receive"}
        fams = [f"{family(int.from_bytes(data[i:i + 2], 'big'), data[i + 2])} {modes.get(data[i + 3], '?')}"
                for i in range(0, len(data) - 3, 4)]
        return Capability(code, name, ", ".join(fams))
    if code == 71:
        fams = [f"{family(int.from_bytes(data[i:i + 2], 'big'), data[i + 2])} "
                f"stale time {int.from_bytes(data[i + 4:i + 7], 'big')} s" for i in range(0, len(data) - 6, 7)]
        return Capability(code, name, ", ".join(fams))
    if code == 5:
        fams = [f"{family(int.from_bytes(data[i:i + 2], 'big'), int.from_bytes(data[i + 2:i + 4], 'big'))}"
                f" over {AFI.get(int.from_bytes(data[i + 4:i + 6], 'big'), '?')}" for i in range(0, len(data) - 5, 6)]
        return Capability(code, name, ", ".join(fams))
    if code == 73 and data:
        host = data[1:1 + data[0]].decode(errors="replace")
        rest = data[1 + data[0]:]
        domain = rest[1:1 + rest[0]].decode(errors="replace") if rest else ""
        return Capability(code, name, host + (f".{domain}" if domain else ""))
    if code == 9 and len(data) == 1:
        roles = {0: "provider", 1: "route server", 2: "route server client", 3: "customer", 4: "peer"}
        return Capability(code, name, roles.get(data[0], str(data[0])))
    return Capability(code, name, data.hex() if data else "")


def _raw_attributes(message: bytes) -> list[tuple[int, bytes]]:
    """(type code, value) of each path attribute, walked by hand: scapy keeps only the first
    community of a COMMUNITIES attribute, so list-valued attributes are read from these bytes."""
    wlen = int.from_bytes(message[19:21], "big")
    start = 21 + wlen + 2
    end = start + int.from_bytes(message[21 + wlen:23 + wlen], "big")
    out, i = [], start
    while i + 3 <= end:
        flags, code = message[i], message[i + 1]
        if flags & 0x10:
            length, i = int.from_bytes(message[i + 2:i + 4], "big"), i + 4
        else:
            length, i = message[i + 2], i + 3
        out.append((code, message[i:i + length]))
        i += length
    return out


def _update(message: bytes, four_octet_as: bool) -> BgpUpdate:
    bgp = scapy_setup.bgp()
    bgp.bgp_module_conf.use_2_bytes_asn = not four_octet_as
    body = bgp.BGPHeader(message)[bgp.BGPUpdate]
    withdrawn = [str(n.prefix) for n in body.withdrawn_routes]
    announced = [str(n.prefix) for n in body.nlri]
    raw = _raw_attributes(message)
    if not withdrawn and not announced and not raw:
        return BgpUpdate(end_of_rib=family(1, 1))
    attrs = PathAttributes()
    end_of_rib = None
    for parsed, (code, value) in zip(body.path_attr, raw):
        attrs, eor, more_w, more_a = _attribute(bgp, code, value, parsed.attribute, attrs)
        withdrawn += more_w
        announced += more_a
        end_of_rib = end_of_rib or eor
    if end_of_rib and len(raw) == 1 and not withdrawn and not announced:
        return BgpUpdate(end_of_rib=end_of_rib)
    has_attrs = attrs != PathAttributes()
    return BgpUpdate(tuple(withdrawn), tuple(announced), attrs if has_attrs else None)


def _attribute(bgp: Any, code: int, raw: bytes, value: Any,
               a: PathAttributes) -> tuple[PathAttributes, str | None, list[str], list[str]]:
    if code == 1:
        return replace(a, origin=ORIGIN.get(raw[0], str(raw[0])) if raw else "?"), None, [], []
    if code == 2:
        return replace(a, as_path=_as_path(value)), None, [], []
    if code == 3:
        return replace(a, next_hop=str(value.next_hop)), None, [], []
    if code == 4:
        return replace(a, med=int.from_bytes(raw, "big")), None, [], []
    if code == 5:
        return replace(a, local_pref=int.from_bytes(raw, "big")), None, [], []
    if code == 8:
        comms = [int.from_bytes(raw[i:i + 4], "big") for i in range(0, len(raw) - 3, 4)]
        return replace(a, communities=a.communities + tuple(
            WELL_KNOWN_COMMUNITIES.get(c, f"{c >> 16}:{c & 0xFFFF}") for c in comms)), None, [], []
    if code == 32:
        large = [":".join(str(int.from_bytes(raw[i + j:i + j + 4], "big")) for j in (0, 4, 8))
                 for i in range(0, len(raw) - 11, 12)]
        return replace(a, large_communities=a.large_communities + tuple(large)), None, [], []
    if code == 16:
        ext = [raw[i:i + 8].hex() for i in range(0, len(raw) - 7, 8)]
        return replace(a, extended_communities=a.extended_communities + tuple(ext)), None, [], []
    if code == 14:
        nlri = [str(getattr(n, "prefix", n)) for n in getattr(value, "nlri", [])]
        nh = getattr(value, "nh_v6_global", None) or getattr(value, "nh_v4_addr", None)
        return replace(a, next_hop=a.next_hop or (str(nh) if nh else None)), None, [], nlri
    if code == 15:
        afi, safi = int.from_bytes(raw[0:2], "big"), raw[2]
        routes = getattr(getattr(value, "afi_safi_specific", None), "withdrawn_routes", []) or []
        withdrawn = [str(n.prefix) for n in routes]
        return a, (family(afi, safi) if len(raw) == 3 else None), withdrawn, []
    name = str(bgp.path_attributes.get(code, f"attribute {code}"))
    return replace(a, others=a.others + (name,)), None, [], []


def _as_path(value: Any) -> str:
    parts = []
    for seg in getattr(value, "segments", []):
        numbers = " ".join(str(int(n)) for n in seg.segment_value)
        parts.append(f"{{{numbers}}}" if int(seg.segment_type) == 1 else numbers)
    return " ".join(parts)


def _notification(message: bytes) -> BgpNotification:
    bgp = scapy_setup.bgp()
    body = bgp.BGPHeader(message)[bgp.BGPNotification]
    code, sub = int(body.error_code), int(body.error_subcode)
    code_name = str(bgp._error_codes.get(code, f"error {code}"))
    subs = bgp._error_subcodes.get(code, {})
    sub_name = str(subs.get(sub, f"subcode {sub}")) if subs or sub else ""
    data = message[21:]
    text = ""
    if code == 6 and sub in CEASE_WITH_MESSAGE and data and data[0] + 1 <= len(data):
        text = data[1:1 + data[0]].decode(errors="replace")
    elif code == 2 and sub == 2 and len(data) in (2, 4):
        text = f"peer AS {int.from_bytes(data, 'big')}"
    elif data:
        text = f"data {data.hex()}"
    return BgpNotification(code, sub, code_name, sub_name, text)


def _route_refresh(message: bytes) -> BgpRouteRefresh:
    bgp = scapy_setup.bgp()
    body = bgp.BGPHeader(message)[bgp.BGPRouteRefresh]
    return BgpRouteRefresh(int(body.afi), int(body.safi), int(body.subtype))
