"""`show protocols [all]`: one row per protocol, and the details (channels, route counts, BGP state)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from orchestrator.bird.parse.text import int_or_none, key_value, lines

_SINCE = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?|\S+"
_PROTO_ROW = re.compile(
    rf"^(?P<name>\S+)\s+(?P<proto>\S+)\s+(?P<table>\S+)\s+(?P<state>\S+)\s+"
    rf"(?P<since>{_SINCE})(?:\s+(?P<info>.*?))?\s*$")
_HEADER = re.compile(r"^name\s+proto\s+table\s+state\s+since\s+info\s*$", re.I)
_TIMER = re.compile(r"^(?P<left>[\d.]+)/(?P<total>[\d.]+)$")
_ROUTES = re.compile(r"(\d+) (imported|filtered|exported|preferred)")


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
    for line in lines(text):
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
        return int_or_none(self.fields.get("Neighbor AS"))

    @property
    def local_as(self) -> int | None:
        """Printed by BIRD 2; for BIRD 1.6 known only for an iBGP session that is up."""
        local = int_or_none(self.fields.get("Local AS"))
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
        return int_or_none(self._channel_field("Preference"))

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
        kv = key_value(stripped)
        if kv is None:
            continue
        key, value = kv
        if section.stat_columns and re.fullmatch(r"(Import|Export) \w+", key):
            values = value.split()
            section.stats[key] = {col: int_or_none(v) for col, v in zip(section.stat_columns, values)}
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
    for line in lines(text):
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
        first = next((ln for ln in lines(text) if ln.strip()), "")
        raise ValueError(f"no protocol in BIRD's answer: {first!r}")
    return details[0]


