"""One step from a translation to a running proxy: Envoy's verdict first, then the changed files.
A refused translation raises EnvoyRefused and leaves the watched files (and the proxy) as they were."""

from __future__ import annotations

from pathlib import Path

from orchestrator.envoy import validate, xds_files
from orchestrator.envoy.layout import ProxyLayout
from orchestrator.envoy.translate import XdsResources


def deliver(layout: ProxyLayout, res: XdsResources, binary: Path | None = None) -> xds_files.WriteReport:
    validate.check(layout, res, binary)
    return xds_files.write(layout, res)
