"""Gateway API hostnames: what makes one valid, and how listener and route hostnames match
(wildcards, intersections, precedence)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Any

from orchestrator.k8s.reader import FieldReader, join, type_name

DNS1123_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
HOSTNAME_RE = re.compile(rf"^(\*\.)?{DNS1123_SUBDOMAIN}$")


def read_hostname(r: FieldReader, m: dict[str, Any], key: str, path: str) -> str | None:
    if m.get(key) is None:
        return None
    return hostname_value(r, m[key], join(path, key))


def hostname_value(r: FieldReader, value: Any, where: str) -> str | None:
    if not isinstance(value, str):
        r.problem(where, f"must be a hostname string, got {type_name(value)}", "write a DNS name")
        return None
    problem = hostname_problem(value)
    if problem:
        r.problem(where, problem, "use a DNS name like foo.example.com or *.example.com")
        return None
    return value


def hostname_problem(value: str) -> str | None:
    """Why a Gateway API Hostname is invalid, or None."""
    if not 1 <= len(value) <= 253:
        return f"{value!r} must be 1 to 253 characters long"
    if not HOSTNAME_RE.match(value):
        if "*" in value:
            return f"{value!r}: a wildcard must be the whole first label, as in *.example.com"
        return f"{value!r} is not a valid hostname (lower-case RFC 1123 labels separated by dots)"
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return None
    return f"{value!r} is an IP address; hostnames (SNI names, RFC 6066) cannot be IPs"



def wildcard_matches(pattern: str, hostname: str) -> bool:
    """`*.example.com` matches `foo.example.com` and `foo.bar.example.com`, not `example.com`.

    Gateway API v1 gateway_types.go, Listener.Hostname: a `*.` prefix "is interpreted as a suffix
    match", and GatewaySpec.Listeners: the wildcard "will match any number of characters _and
    dots_ to the left". `hostname` may itself be a wildcard: then its suffix must be covered.
    """
    suffix = pattern[1:]  # ".example.com"
    host = hostname[2:] if hostname.startswith("*.") else hostname
    return host.endswith(suffix) and len(host) > len(suffix)


def intersect_hostname(a: str, b: str) -> str | None:
    """The most specific pattern matched by both, or None when no name matches both."""
    if a == b:
        return a
    a_wild, b_wild = a.startswith("*."), b.startswith("*.")
    if a_wild and wildcard_matches(a, b):
        return b
    if b_wild and wildcard_matches(b, a):
        return a
    return None


def route_hostnames_on_listener(listener: str | None, route: Sequence[str]) -> list[str | None]:
    """TLSRoute hostnames kept on a listener (apis/v1alpha2/tlsroute_types.go, Hostnames).

    No route hostnames: the listener's own. No listener hostname: the route's. Both: each
    route hostname that intersects, narrowed to the intersection (a `*.example.com` route on a
    `foo.example.com` listener serves foo.example.com). None stands for any SNI. Empty: no match.
    """
    if not route:
        return [listener]
    if listener is None:
        return list(dict.fromkeys(route))
    found = [intersect_hostname(listener, h) for h in route]
    return list(dict.fromkeys(h for h in found if h is not None))


def hostname_precedence(hostname: str | None) -> tuple[int, int, str]:
    """Sort key: exact names, then wildcards with more labels, then the catch-all (gateway_types.go,
    "Listeners that are distinct only by Hostname")."""
    if hostname is None:
        return (2, 0, "")
    if hostname.startswith("*."):
        return (1, -hostname.count("."), hostname)
    return (0, 0, hostname)

