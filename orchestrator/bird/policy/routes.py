"""The routes a test feeds: what a node advertises (`show route export ... all`), what the bastion
received, and the probes outside the declared ranges."""

from __future__ import annotations

from ipaddress import IPv4Network

from orchestrator.bird import parse
from orchestrator.bird.bgpfeed import PathAttrs
from orchestrator.bird.policy.model import FedRoute

def attrs_of(a: parse.RouteAttributes | None) -> PathAttrs:
    """The path attributes `show route all` printed, as the speaker sends them."""
    if a is None:
        return PathAttrs()
    return PathAttrs(origin=a.origin or "IGP", as_path=a.as_path or (),
                     local_pref=a.local_pref if a.local_pref is not None else 100,
                     med=a.med, communities=a.communities, large_communities=a.large_communities)


def routes_from_export(text: str) -> list[FedRoute]:
    """`show route export P all` on a node -> the routes it sends, with their BGP attributes."""
    out: list[FedRoute] = []
    for route in parse.parse_routes(text):
        if ":" in route.prefix:
            continue
        path = route.primary or (route.paths[0] if route.paths else None)
        out.append(FedRoute(IPv4Network(route.prefix), attrs_of(path.attributes if path else None)))
    return out


def routes_received(texts: list[str]) -> dict[str, list[FedRoute]]:
    """`show route all` and `show route filtered all` on the router (with `import keep filtered on`
    they hold everything received) -> the routes each protocol received, by protocol name."""
    out: dict[str, dict[IPv4Network, FedRoute]] = {}
    for text in texts:
        for route in parse.parse_routes(text):
            if ":" in route.prefix:
                continue
            for p in route.paths:
                prefix = IPv4Network(route.prefix)
                out.setdefault(p.protocol, {}).setdefault(prefix, FedRoute(prefix, attrs_of(p.attributes)))
    return {proto: list(routes.values()) for proto, routes in out.items()}


def probes(declared: list[IPv4Network], extra: list[IPv4Network]) -> list[IPv4Network]:
    """Prefixes outside the declared ranges that a sound import filter must not accept: a default
    route, RFC 1918 and documentation space, each range's covering supernet and its sibling, and
    the segment the router itself sits on."""
    candidates = [IPv4Network("0.0.0.0/0"), IPv4Network("10.0.0.0/8"), IPv4Network("192.0.2.0/24")]
    for r in declared:
        if r.prefixlen > 0:
            sup = r.supernet()
            candidates += [sup, next(s for s in sup.subnets() if s != r)]
    candidates += extra
    out: list[IPv4Network] = []
    for c in candidates:
        if c not in out and not any(c.subnet_of(r) for r in declared):
            out.append(c)
    return out

