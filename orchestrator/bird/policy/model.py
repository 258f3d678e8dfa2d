"""What the route-policy test works on: the routes fed, the speakers feeding them, the scratch network,
the configs under test and what each run found."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from orchestrator.bird.bgpfeed import PathAttrs
from orchestrator.errors import LabError

SCRATCH_SYSCTLS = {
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
    "net.ipv6.conf.all.disable_ipv6": "1",
    "net.ipv6.conf.default.disable_ipv6": "1",
}
PEERS_IFACE = "peers"
START_WAIT = 3.0  # seconds for the scratch BIRD to answer on its socket
SESSION_WAIT = 3.0  # seconds for a session to reach Established
IMPORT_WAIT = 3.0  # seconds for BIRD to take in every route sent


RoutesFor = Callable[[str, IPv4Address], list["FedRoute"]]  # (protocol, neighbour) -> routes it sends


class PolicyTestError(LabError):
    """The route-policy test could not run (the config did not start, ...)."""


@dataclass(frozen=True)
class FedRoute:
    prefix: IPv4Network
    attrs: PathAttrs = PathAttrs()
    probe: bool = False  # made up to find leaks, not advertised by anyone


@dataclass(frozen=True)
class Feeder:
    """A neighbour of the router under test, as the lab really has it."""

    name: str  # control1, worker1, ... (a protocol name when there is no lab)
    ip: IPv4Address
    asn: int
    routes: tuple[FedRoute, ...]
    expect_as: int | None = None  # the router's AS as the node has it configured (None: any)


@dataclass(frozen=True)
class ScratchNet:
    """The router's side of the scratch link: its address, the segment, its interface's name."""

    router_ip: IPv4Address
    network: IPv4Network
    interface: str


@dataclass(frozen=True)
class SessionOutcome:
    feeder: str
    ip: IPv4Address
    protocol: str | None  # the config's protocol that took the session
    established: bool
    problem: str  # why the session did not come up, or ""
    sent: int
    accepted: frozenset[IPv4Network]


@dataclass(frozen=True)
class PolicyRun:
    label: str
    sessions: dict[str, SessionOutcome]  # by feeder name
    seconds: float
    feeders: list[Feeder] = field(default_factory=list)  # who sent what
    notes: list[str] = field(default_factory=list)

    def accepted(self, feeder: str, prefix: IPv4Network) -> bool:
        s = self.sessions.get(feeder)
        return bool(s and prefix in s.accepted)


@dataclass(frozen=True)
class ConfigUnderTest:
    label: str  # "candidate", "running"
    text: str
    source_dir: Path | None  # where its relative includes are resolved

