"""`show route [all]` and `show route count`: routes with their paths, next hops and BGP attributes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from orchestrator.bird.parse.text import int_or_none, key_value, lines

# `<dest> [<proto> <since>[ from <addr>]] <* or !> (<pref>[/<metric>]) [<info>]`
_PATH = re.compile(
    r"^(?P<dest>.*?)\s*\[(?P<proto>\S+) (?P<since>[^\]]*?)(?: from (?P<src>\S+))?\]"
    r"\s*(?P<flag>[*!])?\s*\((?P<pref>\d+)(?:/(?P<metric>[^)]*))?\)\s*(?P<info>.*?)\s*$")
_NEXT_HOP = re.compile(r"^(?:via (?P<gw>\S+))?(?:\s*(?:on|dev) (?P<iface>\S+))?(?P<rest>.*)$")
_COUNT = re.compile(
    r"(?:Total: )?(\d+) of (\d+) routes for (\d+) networks(?: in (?:table \S+|\d+ tables?))?")



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
            preference=int(m["pref"]), metric=int_or_none(m["metric"]), kind=kind,
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
        local_pref=int_or_none(raw.get("BGP.local_pref")),
        med=int_or_none(raw.get("BGP.med")),
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

    for line in lines(text):
        if not line.strip():
            continue
        if line.startswith("\t"):
            body = line.strip()
            if current is None:
                continue
            if current.attrs is None and re.match(r"(via|dev) ", body):
                current.hops.append(_next_hop(body))
                continue
            kv = key_value(body)
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
    for line in lines(text):
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
