"""Parsers of birdc's `show protocols [all]` and `show route [all|count]` output.

Both BIRD 1.6 and BIRD 2 layouts are read by one grammar (their lines differ but do not
clash); `dialect()` tells which one printed a text. Input is what birdc prints (the greeting
line may be there). Lines that fit nothing are skipped, so a parser never fails on them.
The package's names are its modules' (text, protocols, routes), gathered here for its users.
"""

from orchestrator.bird.parse.protocols import (
    Channel,
    Protocol,
    ProtocolDetail,
    RouteCounts,
    Timer,
    parse_protocol_detail,
    parse_protocols,
    parse_protocols_all,
)
from orchestrator.bird.parse.routes import (
    NextHop,
    Route,
    RouteAttributes,
    RouteCount,
    RoutePath,
    parse_routes,
    route_count,
)
from orchestrator.bird.parse.text import dialect

__all__ = ["Channel", "NextHop", "Protocol", "ProtocolDetail", "Route", "RouteAttributes", "RouteCount",
           "RouteCounts", "RoutePath", "Timer", "dialect", "parse_protocol_detail", "parse_protocols",
           "parse_protocols_all", "parse_routes", "route_count"]
