"""Envoy's admin API over its UNIX socket (the proxy has no TCP admin port): readiness, config
dump by resource type (as `egctl config envoy-proxy all|listener|cluster|endpoint|route` shows it),
stats counters, clusters."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

# egctl's resource types -> the config dump's section @type
DUMP_TYPES = {
    "listener": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
    "cluster": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
    "endpoint": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump",
    "route": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
}


class AdminError(OSError):
    pass


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Admin:
    def __init__(self, socket_path: Path, timeout: float = 2.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def request(self, path: str, method: str = "GET") -> Response:
        head = f"{method} {path} HTTP/1.1\r\nHost: envoy\r\nConnection: close\r\n\r\n".encode()
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(self.timeout)
                s.connect(str(self.socket_path))
                s.sendall(head)
                chunks = []
                while chunk := s.recv(1 << 16):
                    chunks.append(chunk)
        except OSError as exc:
            raise AdminError(f"Envoy admin at {self.socket_path}: {exc}") from exc
        return _parse(b"".join(chunks), self.socket_path)

    def ready(self) -> bool:
        """GET /ready answers 200 LIVE once the initial listeners and clusters are loaded."""
        try:
            return self.request("/ready").status == 200
        except AdminError:
            return False

    def server_info(self) -> dict[str, Any]:
        info: dict[str, Any] = self.request("/server_info").json()
        return info

    def config_dump(self, kind: str = "all") -> dict[str, Any]:
        """The config dump, or only one resource type's section (EDS included for all|endpoint)."""
        if kind != "all" and kind not in DUMP_TYPES:
            raise ValueError(f"unknown resource type {kind!r}: use all, {', '.join(DUMP_TYPES)}")
        dump: dict[str, Any] = self.request("/config_dump?include_eds").json()
        if kind == "all":
            return dump
        return {"configs": [c for c in dump.get("configs", []) if c.get("@type") == DUMP_TYPES[kind]]}

    def stats(self, prefix: str = "") -> dict[str, int]:
        """Counters and gauges by name (histograms and text readouts left out)."""
        body = self.request("/stats?format=json").json()
        out: dict[str, int] = {}
        for stat in body.get("stats", []):
            value = stat.get("value")
            if isinstance(value, int) and str(stat.get("name", "")).startswith(prefix):
                out[stat["name"]] = value
        return out

    def counter(self, name: str) -> int:
        """One stat's value; 0 while Envoy has not created it (nothing counted yet)."""
        return self.stats(name).get(name, 0)

    def clusters(self) -> dict[str, Any]:
        clusters: dict[str, Any] = self.request("/clusters?format=json").json()
        return clusters

    def cluster_hosts(self, cluster: str) -> list[str]:
        """"ip:port" of the hosts Envoy holds for a cluster now."""
        for status in self.clusters().get("cluster_statuses", []):
            if status.get("name") == cluster:
                return [f"{h['address']['socket_address']['address']}:{h['address']['socket_address']['port_value']}"
                        for h in status.get("host_statuses", [])]
        return []


def _parse(raw: bytes, where: Path) -> Response:
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise AdminError(f"Envoy admin at {where}: no HTTP response")
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        raise AdminError(f"Envoy admin at {where}: bad status line {lines[0]!r}") from None
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    return Response(status, body)


def _dechunk(data: bytes) -> bytes:
    out, pos = bytearray(), 0
    while True:
        end = data.index(b"\r\n", pos)
        size = int(data[pos:end].split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += data[end + 2:end + 2 + size]
        pos = end + 2 + size + 2


def egctl_config(kind: str, proxies: Mapping[tuple[str, str], Admin]) -> dict[str, dict[str, Any]]:
    """What `egctl config envoy-proxy KIND` prints: each proxy's dump under its namespace and pod
    name; a proxy that does not answer shows the error instead."""
    out: dict[str, dict[str, Any]] = {}
    for (namespace, pod), admin in sorted(proxies.items()):
        try:
            out.setdefault(namespace, {})[pod] = admin.config_dump(kind)
        except AdminError as exc:
            out.setdefault(namespace, {})[pod] = {"error": str(exc)}
    return out
