"""Parsers of birdc's `show protocols [all]` and `show route [all|count]` output.

Both BIRD 1.6 and BIRD 2 layouts are read by one grammar (their lines differ but do not
clash); `dialect()` tells which one printed a text. Input is what birdc prints (the greeting
line may be there). Lines that fit nothing are skipped, so a parser never fails on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_GREETING = re.compile(r"^BIRD \S+ ready\.$")
_SINCE = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?|\S+"
_PROTO_ROW = re.compile(
    rf"^(?P<name>\S+)\s+(?P<proto>\S+)\s+(?P<table>\S+)\s+(?P<state>\S+)\s+"
    rf"(?P<since>{_SINCE})(?:\s+(?P<info>.*?))?\s*$")
_HEADER = re.compile(r"^name\s+proto\s+table\s+state\s+since\s+info\s*$", re.I)
_TIMER = re.compile(r"^(?P<left>[\d.]+)/(?P<total>[\d.]+)$")
_ROUTES = re.compile(r"(\d+) (imported|filtered|exported|preferred)")

# `<dest> [<proto> <since>[ from <addr>]] <* or !> (<pref>[/<metric>]) [<info>]`
_PATH = re.compile(
    r"^(?P<dest>.*?)\s*\[(?P<proto>\S+) (?P<since>[^\]]*?)(?: from (?P<src>\S+))?\]"
    r"\s*(?P<flag>[*!])?\s*\((?P<pref>\d+)(?:/(?P<metric>[^)]*))?\)\s*(?P<info>.*?)\s*$")
_NEXT_HOP = re.compile(r"^(?:via (?P<gw>\S+))?(?:\s*(?:on|dev) (?P<iface>\S+))?(?P<rest>.*)$")
_COUNT = re.compile(
    r"(?:Total: )?(\d+) of (\d+) routes for (\d+) networks(?: in (?:table \S+|\d+ tables?))?")


def dialect(text: str) -> str | None:
    """`1` or `2` for text printed by BIRD 1.x or 2.x, None when nothing tells."""
    if re.search(r"^BIRD 1\.", text, re.M):
        return "1"
    if re.search(r"^BIRD [2-9]\.", text, re.M):
        return "2"
    if re.search(r"^(Name\s+Proto\s|Table \S+:$|\s+Channel \S+$)", text, re.M):
        return "2"
    if re.search(r"^name\s+proto\s", text, re.M) or re.search(r"\bunicast univ$", text, re.M):
        return "1"
    if re.search(r"^(Total: )?\d+ of \d+ routes for \d+ networks in ", text, re.M):
        return "2"
    if re.search(r"^\d+ of \d+ routes for \d+ networks$", text, re.M):
        return "1"
    if re.search(r"\[\S+ \d\d:\d\d:\d\d\.\d{3}", text):
        return "2"
    if re.search(r"\[\S+ \d\d:\d\d:\d\d[\] ]", text):
        return "1"
    return None


def _lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if not _GREETING.match(ln)]


# ---------------------------------------------------------------- show protocols [all]

@dataclass(frozen=True)
class Protocol:
    """One row of `show protocols`."""

    name: str
    proto: str  # BGP, Kernel, Device, Direct, Static, ...
    table: str  # `master` (1.6), `master4` or `---` (2)
    state: str  # up, start, down, ...
    since: str
    info: str  # e.g. `Established`, `Active        Socket: Connection refused`, ``

    @property
    def info_state(self) -> str:
        """The first word of info: the BGP state (Established, Active, Connect, Idle, Passive)."""
        return self.info.split(None, 1)[0] if self.info else ""

    @property
    def info_message(self) -> str:
        """What follows the state in info, e.g. `Socket: Connection refused`."""
        parts = self.info.split(None, 1)
        return parts[1] if len(parts) > 1 else ""

    @property
    def established(self) -> bool:
        return self.state == "up" and self.info_state == "Established"


def _protocol_row(line: str) -> Protocol | None:
    if not line or line[0].isspace() or _HEADER.match(line):
        return None
    m = _PROTO_ROW.match(line)
    if m is None:
        return None
    return Protocol(m["name"], m["proto"], m["table"], m["state"], m["since"], m["info"] or "")


def parse_protocols(text: str) -> list[Protocol]:
    """`show protocols` (or the rows of `show protocols all`) -> one Protocol per row."""
    rows: list[Protocol] = []
    in_table = False
    for line in _lines(text):
        if _HEADER.match(line):
            in_table = True
            continue
        row = _protocol_row(line) if in_table else None
        if row is not None:
            rows.append(row)
    return rows


@dataclass(frozen=True)
class RouteCounts:
    """The `Routes:` line: `1 imported, 1 filtered, 0 exported, 1 preferred`."""

    imported: int
    exported: int
    preferred: int
    filtered: int | None = None  # printed only with `import keep filtered on`


@dataclass(frozen=True)
class Timer:
    """A `left/total` pair such as `Hold timer: 7.301/9`."""

    left: float
    total: float


@dataclass(frozen=True)
class Channel:
    """A BIRD 2 `Channel ipv4` block (BIRD 1.6 prints these fields at the protocol level)."""

    name: str
    fields: dict[str, str] = field(default_factory=dict)
    routes: RouteCounts | None = None
    change_stats: dict[str, dict[str, int | None]] = field(default_factory=dict)

    @property
    def state(self) -> str | None:
        return self.fields.get("State")

    @property
    def import_filter(self) -> str | None:
        return self.fields.get("Input filter")

    @property
    def export_filter(self) -> str | None:
        return self.fields.get("Output filter")


@dataclass(frozen=True)
class ProtocolDetail:
    """`show protocols all NAME`: the row and what is printed below it."""

    row: Protocol
    fields: dict[str, str]  # every `Key: value` line of the protocol itself, raw
    timers: dict[str, Timer]  # `Hold timer`, `Keepalive timer`, `Connect delay`, `Error wait`
    channels: list[Channel]  # BIRD 2; for BIRD 1.6 one channel named after the table
    routes: RouteCounts | None  # of the first channel that prints them
    change_stats: dict[str, dict[str, int | None]]  # `Import updates` -> {`received`: 2, ...}

    @property
    def name(self) -> str:
        return self.row.name

    @property
    def proto(self) -> str:
        return self.row.proto

    @property
    def state(self) -> str:
        return self.row.state

    @property
    def since(self) -> str:
        return self.row.since

    @property
    def info(self) -> str:
        return self.row.info

    @property
    def description(self) -> str | None:
        return self.fields.get("Description")

    @property
    def bgp_state(self) -> str | None:
        """Established, Active, Connect, Idle, Passive, Down, ... (None for non-BGP)."""
        return self.fields.get("BGP state")

    @property
    def established(self) -> bool:
        return self.bgp_state == "Established"

    @property
    def neighbor_address(self) -> str | None:
        return self.fields.get("Neighbor address")

    @property
    def neighbor_as(self) -> int | None:
        return _int(self.fields.get("Neighbor AS"))

    @property
    def local_as(self) -> int | None:
        """Printed by BIRD 2; for BIRD 1.6 known only for an iBGP session that is up."""
        local = _int(self.fields.get("Local AS"))
        if local is None and self.fields.get("Session", "").startswith("internal"):
            return self.neighbor_as
        return local

    @property
    def neighbor_id(self) -> str | None:
        return self.fields.get("Neighbor ID")

    @property
    def source_address(self) -> str | None:
        return self.fields.get("Source address")

    @property
    def last_error(self) -> str | None:
        return self.fields.get("Last error")

    @property
    def hold_timer(self) -> Timer | None:
        return self.timers.get("Hold timer")

    @property
    def keepalive_timer(self) -> Timer | None:
        return self.timers.get("Keepalive timer")

    @property
    def preference(self) -> int | None:
        return _int(self._channel_field("Preference"))

    @property
    def import_filter(self) -> str | None:
        return self._channel_field("Input filter")

    @property
    def export_filter(self) -> str | None:
        return self._channel_field("Output filter")

    def _channel_field(self, key: str) -> str | None:
        for ch in self.channels:
            if key in ch.fields:
                return ch.fields[key]
        return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _key_value(line: str) -> tuple[str, str] | None:
    key, sep, value = line.strip().partition(":")
    if not sep or not key or key[0].isdigit():
        return None
    return key.strip(), value.strip()


def _route_counts(value: str) -> RouteCounts:
    found = {kind: int(n) for n, kind in _ROUTES.findall(value)}
    return RouteCounts(found.get("imported", 0), found.get("exported", 0),
                       found.get("preferred", 0), found.get("filtered"))


@dataclass
class _Section:
    """What is being collected: the protocol itself or one of its channels."""

    name: str
    fields: dict[str, str] = field(default_factory=dict)
    routes: RouteCounts | None = None
    stats: dict[str, dict[str, int | None]] = field(default_factory=dict)
    stat_columns: list[str] = field(default_factory=list)

    def channel(self) -> Channel:
        return Channel(self.name, self.fields, self.routes, self.stats)


def _detail(row: Protocol, body: list[str]) -> ProtocolDetail:
    top = _Section(row.name)
    legacy = _Section(row.table)  # BIRD 1.6 prints channel fields at the top level
    channels: list[_Section] = []
    timers: dict[str, Timer] = {}
    channel_indent = -1
    block_indent = -1  # inside `Local capabilities` / `Neighbor capabilities`: skipped
    for line in body:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        if block_indent >= 0:
            if indent > block_indent:
                continue
            block_indent = -1
        stripped = line.strip()
        m = re.fullmatch(r"Channel (\S+)", stripped)
        if m:
            channels.append(_Section(m[1]))
            channel_indent = indent
            continue
        if channel_indent >= 0 and indent <= channel_indent:
            channel_indent = -1
        section = channels[-1] if channel_indent >= 0 else top
        if stripped.endswith("capabilities"):
            block_indent = indent
            continue
        if stripped.startswith("Route change stats:"):
            section.stat_columns = stripped.split(":", 1)[1].split()
            continue
        kv = _key_value(stripped)
        if kv is None:
            continue
        key, value = kv
        if section.stat_columns and re.fullmatch(r"(Import|Export) \w+", key):
            values = value.split()
            section.stats[key] = {col: _int(v) for col, v in zip(section.stat_columns, values)}
            continue
        if key == "Routes":
            section.routes = _route_counts(value)
            continue
        tm = _TIMER.match(value)
        if tm and section is top:
            timers[key] = Timer(float(tm["left"]), float(tm["total"]))
        if section is top and key in ("Preference", "Input filter", "Output filter"):
            legacy.fields[key] = value
        section.fields.setdefault(key, value)
    if not channels and (legacy.fields or top.routes is not None):
        legacy.routes, legacy.stats = top.routes, top.stats
        channels.append(legacy)
    done = [c.channel() for c in channels]
    routes = next((c.routes for c in done if c.routes is not None), top.routes)
    stats = next((c.change_stats for c in done if c.change_stats), top.stats)
    return ProtocolDetail(row, top.fields, timers, done, routes, stats)


def parse_protocols_all(text: str) -> list[ProtocolDetail]:
    """`show protocols all [NAME]` -> one ProtocolDetail per protocol."""
    found: list[tuple[Protocol, list[str]]] = []
    in_table = False
    for line in _lines(text):
        if _HEADER.match(line):
            in_table = True
            continue
        if not in_table:
            continue
        row = _protocol_row(line)
        if row is not None:
            found.append((row, []))
        elif found:
            found[-1][1].append(line)
    return [_detail(row, body) for row, body in found]


def parse_protocol_detail(text: str) -> ProtocolDetail:
    """`show protocols all NAME` -> its ProtocolDetail; ValueError when the text has none."""
    details = parse_protocols_all(text)
    if not details:
        first = next((ln for ln in _lines(text) if ln.strip()), "")
        raise ValueError(f"no protocol in BIRD's answer: {first!r}")
    return details[0]


# ---------------------------------------------------------------- show route [all]

@dataclass(frozen=True)
class NextHop:
    gateway: str | None  # None for a device route (`dev eth0`)
    interface: str | None
    weight: int | None = None  # printed for each hop of an ECMP route
    extra: str = ""  # anything else on the line (`onlink`, `mpls 100`, ...)


@dataclass(frozen=True)
class RouteAttributes:
    """The lines `show route all` prints under a path."""

    type: str | None = None  # `BGP unicast univ` (1.6), `BGP univ` (2), `static univ`, ...
    origin: str | None = None  # IGP, EGP, Incomplete
    as_path: tuple[int, ...] | None = None  # () for a route from an iBGP peer
    next_hop: str | None = None
    local_pref: int | None = None
    med: int | None = None
    communities: tuple[tuple[int, int], ...] = ()
    large_communities: tuple[tuple[int, int, int], ...] = ()
    extra: dict[str, str] = field(default_factory=dict)  # every other attribute, raw

    @property
    def source(self) -> str | None:
        """The first word of Type: BGP, static, device, inherit (kernel), ..."""
        return self.type.split(None, 1)[0] if self.type else None


@dataclass(frozen=True)
class RoutePath:
    """One path to a prefix (the lines under a prefix are its alternative paths)."""

    protocol: str
    since: str
    primary: bool  # marked `*` (or `!`, BIRD's kernel sync error mark), the path in use
    preference: int
    metric: int | None
    kind: str  # unicast, multipath, blackhole, unreachable, prohibit, ...
    gateway: str | None  # the next hop when there is exactly one
    interface: str | None
    next_hops: list[NextHop]
    from_address: str | None = None  # `from X` in the brackets, when it differs from gateway
    info: str = ""  # protocol-specific tail, e.g. `[i]`, `[AS65000i]`
    attributes: RouteAttributes | None = None  # only with `all`
    table: str | None = None  # BIRD 2's `Table master4:` heading


@dataclass(frozen=True)
class Route:
    prefix: str
    paths: list[RoutePath]

    @property
    def primary(self) -> RoutePath | None:
        return next((p for p in self.paths if p.primary), None)


@dataclass
class _PathBuilder:
    prefix: str
    head: re.Match[str]
    table: str | None
    hops: list[NextHop] = field(default_factory=list)
    attrs: dict[str, str] | None = None
    last_key: str | None = None

    def build(self) -> RoutePath:
        m = self.head
        dest = m["dest"].split()
        kind = dest[0] if dest and dest[0] not in ("via", "dev") else "unicast"
        hops = list(self.hops)
        if dest and dest[0] in ("via", "dev"):
            hops.insert(0, _next_hop(m["dest"]))
        if len(hops) > 1:
            kind = "multipath"
        single = hops[0] if len(hops) == 1 else None
        return RoutePath(
            protocol=m["proto"], since=m["since"], primary=m["flag"] is not None,
            preference=int(m["pref"]), metric=_int(m["metric"]), kind=kind,
            gateway=single.gateway if single else None,
            interface=single.interface if single else None,
            next_hops=hops, from_address=m["src"], info=m["info"],
            attributes=_attributes(self.attrs) if self.attrs is not None else None,
            table=self.table)


def _next_hop(text: str) -> NextHop:
    m = _NEXT_HOP.match(text.strip())
    assert m is not None  # every part of the pattern is optional
    rest = m["rest"].strip()
    weight = re.search(r"\bweight (\d+)", rest)
    if weight:
        rest = (rest[:weight.start()] + rest[weight.end():]).strip()
    return NextHop(m["gw"], m["iface"], int(weight[1]) if weight else None, rest)


def _attributes(raw: dict[str, str]) -> RouteAttributes:
    known = {"Type", "BGP.origin", "BGP.as_path", "BGP.next_hop", "BGP.local_pref", "BGP.med",
             "BGP.community", "BGP.large_community"}
    as_path = raw.get("BGP.as_path")
    return RouteAttributes(
        type=raw.get("Type"),
        origin=raw.get("BGP.origin"),
        as_path=None if as_path is None else tuple(int(a) for a in re.findall(r"\d+", as_path)),
        next_hop=raw.get("BGP.next_hop"),
        local_pref=_int(raw.get("BGP.local_pref")),
        med=_int(raw.get("BGP.med")),
        communities=tuple((int(a), int(b)) for a, b in
                          re.findall(r"\((\d+),\s*(\d+)\)", raw.get("BGP.community", ""))),
        large_communities=tuple(
            (int(a), int(b), int(c)) for a, b, c in
            re.findall(r"\((\d+),\s*(\d+),\s*(\d+)\)", raw.get("BGP.large_community", ""))),
        extra={k: v for k, v in raw.items() if k not in known})


def parse_routes(text: str) -> list[Route]:
    """`show route [all|for X|filtered|protocol P|export P]` -> routes in BIRD's order."""
    routes: list[Route] = []
    table: str | None = None
    prefix: str | None = None
    current: _PathBuilder | None = None
    by_prefix: dict[tuple[str | None, str], list[RoutePath]] = {}

    def finish() -> None:
        nonlocal current
        if current is not None:
            key = (current.table, current.prefix)
            if key not in by_prefix:
                by_prefix[key] = []
                routes.append(Route(current.prefix, by_prefix[key]))
            by_prefix[key].append(current.build())
            current = None

    for line in _lines(text):
        if not line.strip():
            continue
        if line.startswith("\t"):
            body = line.strip()
            if current is None:
                continue
            if current.attrs is None and re.match(r"(via|dev) ", body):
                current.hops.append(_next_hop(body))
                continue
            kv = _key_value(body)
            if kv is not None and (current.attrs is not None or kv[0] == "Type"):
                current.attrs = current.attrs if current.attrs is not None else {}
                current.attrs.setdefault(kv[0], kv[1])
                current.last_key = kv[0]
            elif current.attrs is not None and current.last_key is not None:
                # a long attribute (community lists) goes on over several lines
                current.attrs[current.last_key] += " " + body
            continue
        table_head = re.fullmatch(r"Table (\S+):", line.strip())
        if table_head:
            finish()
            table, prefix = table_head[1], None
            continue
        if line[0].isspace():
            m = _PATH.match(line.strip())
            if m and prefix is not None:
                finish()
                current = _PathBuilder(prefix, m, table)
            continue
        first, _, rest = line.partition(" ")
        m = _PATH.match(rest.strip())
        if m and ("/" in first or ":" in first or "." in first):
            finish()
            prefix = first
            current = _PathBuilder(prefix, m, table)
    finish()
    return routes


@dataclass(frozen=True)
class RouteCount:
    """`show route count`: `8 of 8 routes for 6 networks` (summed over BIRD 2's tables)."""

    shown: int  # routes matching the command's options
    total: int  # routes examined
    networks: int


def route_count(text: str) -> RouteCount:
    """The count of `show route [...] count`; for any other `show route` text, of its routes."""
    total_line: RouteCount | None = None
    per_table: list[RouteCount] = []
    for line in _lines(text):
        m = _COUNT.fullmatch(line.strip())
        if m is None:
            continue
        found = RouteCount(int(m[1]), int(m[2]), int(m[3]))
        if line.strip().startswith("Total:"):
            total_line = found
        else:
            per_table.append(found)
    if total_line is not None:
        return total_line
    if per_table:
        return RouteCount(sum(c.shown for c in per_table), sum(c.total for c in per_table),
                          sum(c.networks for c in per_table))
    routes = parse_routes(text)
    paths = sum(len(r.paths) for r in routes)
    return RouteCount(paths, paths, len(routes))
