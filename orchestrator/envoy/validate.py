"""Envoy's own verdict on a translation before it reaches a running proxy: `envoy --mode validate`
on a bootstrap holding the listeners and clusters as static resources (it binds nothing, starts
nothing; ~0.1 s). A refused translation is never written where Envoy watches.

Validate mode insists that every file a config source names exists, and opens the access log, so
the check runs on a scratch copy of the proxy's directory with the EDS and RDS files written there.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from orchestrator.envoy.layout import ProxyLayout
from orchestrator.envoy.spawn import envoy_binary
from orchestrator.envoy.translate import XdsResources
from orchestrator.envoy.xds_files import discovery_response, dump


class EnvoyRefused(ValueError):
    pass


def check(layout: ProxyLayout, res: XdsResources, binary: Path | None = None) -> None:
    """Raise EnvoyRefused with Envoy's message if it would refuse these resources."""
    with tempfile.TemporaryDirectory(prefix="gwlab-envoy-validate-") as tmp:
        scratch = ProxyLayout(Path(tmp))
        moved: dict[str, Any] = json.loads(json.dumps({
            "listeners": res.listeners, "clusters": res.clusters, "routes": res.routes, "endpoints": res.endpoints,
        }).replace(json.dumps(str(layout.root))[1:-1], json.dumps(str(scratch.root))[1:-1]))
        for kind in ("eds", "rds"):
            scratch.dir(kind).mkdir(parents=True)
        for cla in moved["endpoints"]:
            scratch.eds(cla["clusterName"]).write_text(discovery_response("eds", [cla]))
        for route in moved["routes"]:
            scratch.rds(route["name"]).write_text(discovery_response("rds", [route]))
        config = scratch.root / "validate.yaml"
        config.write_text(dump({
            "node": {"id": "validate", "cluster": "validate"},
            "static_resources": {"listeners": moved["listeners"], "clusters": moved["clusters"]},
        }, sort_keys=True))
        out = subprocess.run([str(binary or envoy_binary()), "--mode", "validate", "-c", str(config),
                              "--disable-hot-restart", "--log-level", "critical"],
                             capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        lines = [line.split("] ", 2)[-1] for line in (out.stdout + out.stderr).splitlines() if line.strip()]
        raise EnvoyRefused("Envoy refused the translation: " + "; ".join(lines or [f"exit {out.returncode}"]))
