"""Envoy's JSON access log lines (Envoy Gateway's default fields), read back from the pod's log,
where they sit among Envoy's own log lines."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class AccessLogEntry:
    start_time: str
    requested_server_name: str | None
    upstream_host: str | None
    upstream_cluster: str | None
    bytes_received: int
    bytes_sent: int
    duration_ms: int | None
    response_flags: str
    response_code: int | None
    route_name: str | None
    downstream_remote_address: str | None

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> AccessLogEntry:
        def text(key: str) -> str | None:
            value = doc.get(key)
            return None if value in (None, "-") else str(value)

        def number(key: str) -> int | None:
            value = doc.get(key)
            return int(value) if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()) else None

        return cls(
            start_time=str(doc.get("start_time", "")),
            requested_server_name=text("requested_server_name"),
            upstream_host=text("upstream_host"),
            upstream_cluster=text("upstream_cluster"),
            bytes_received=number("bytes_received") or 0,
            bytes_sent=number("bytes_sent") or 0,
            duration_ms=number("duration"),
            response_flags=text("response_flags") or "-",
            response_code=number("response_code"),
            route_name=text("route_name"),
            downstream_remote_address=text("downstream_remote_address"),
        )


def read_access_log(path: Path) -> list[AccessLogEntry]:
    """Every access log line of the file, in order; other lines (Envoy's own log) are skipped."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return []
    return [AccessLogEntry.from_json(doc) for doc in access_docs(text)]


def access_docs(text: str) -> list[dict[str, Any]]:
    """The access log's JSON objects among the lines of a pod's log (Envoy's own lines skipped)."""
    docs = []
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(doc, dict) and "start_time" in doc:
            docs.append(doc)
    return docs
