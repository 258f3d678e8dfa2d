"""What the gateway's Envoy says about the traced connection: its access log lines (one JSON line
per connection, written when it closes, among Envoy's own log lines in the pod's log) for the
listener's port, written while the trace ran, each shown as one readable line."""

from __future__ import annotations

import os
import time
from typing import Any

from orchestrator.envoy.accesslog import AccessLogEntry, access_docs
from orchestrator.envoy.ir import container_port

# Envoy writes its access log every 100 ms in the lab (proxy.LOG_FLUSH_MS): wait at most this long.
LOG_WAIT = 1.0


def log_sizes(paths: list[str]) -> dict[str, int]:
    sizes = {}
    for path in paths:
        try:
            sizes[path] = os.path.getsize(path)
        except OSError:
            sizes[path] = 0
    return sizes


def _entries_since(sizes: dict[str, int], port: int) -> list[dict[str, Any]]:
    bound = f":{container_port(port)}"
    out = []
    for path, size in sizes.items():
        try:
            with open(path, "rb") as f:
                f.seek(size)
                text = f.read().decode(errors="replace")
        except OSError:
            continue
        out += [d for d in access_docs(text) if str(d.get("downstream_local_address", "")).endswith(bound)]
    return out


def describe(doc: dict[str, Any]) -> str:
    e = AccessLogEntry.from_json(doc)
    return (f"{e.downstream_remote_address or '-'} > {doc.get('downstream_local_address', '-')} "
            f"sni={e.requested_server_name or '-'} cluster={e.upstream_cluster or '-'} "
            f"upstream={e.upstream_host or '-'} bytes_received={e.bytes_received} bytes_sent={e.bytes_sent} "
            f"duration={e.duration_ms if e.duration_ms is not None else '-'}ms flags={e.response_flags}")


def access_lines(sizes: dict[str, int], port: int, client: str | None = None) -> list[str]:
    """The access log lines of the listener's port since `sizes`; waits (bounded) for the line of
    the client's connection (`ip:port`) when it is known, else for any line."""
    deadline = time.monotonic() + LOG_WAIT
    while True:
        docs = _entries_since(sizes, port)
        seen = any(d.get("downstream_remote_address") == client for d in docs) if client else bool(docs)
        if seen or time.monotonic() >= deadline:
            return [describe(d) for d in docs]
        time.sleep(0.05)
