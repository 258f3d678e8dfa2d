"""One step from a translation to a running proxy: Envoy's verdict first, then the changed files.
A refused translation raises EnvoyRefused and leaves the watched files (and the proxy) as they were.

Endpoints alone are not worth Envoy's verdict (~0.1 s of a second Envoy): when the listeners,
clusters and route configurations are those already on file, only EDS can change, and a
ClusterLoadAssignment of addresses and weights that the translation made is always valid."""

from __future__ import annotations

from pathlib import Path

from orchestrator.envoy import validate, xds_files
from orchestrator.envoy.layout import ProxyLayout
from orchestrator.envoy.translate import XdsResources


def only_endpoints_change(layout: ProxyLayout, res: XdsResources) -> bool:
    def on_file(path: Path) -> list[dict[str, object]] | None:
        try:
            return [{k: v for k, v in r.items() if k != "@type"} for r in xds_files.read(path)]
        except (OSError, ValueError):
            return None

    if on_file(layout.lds) != res.listeners or on_file(layout.cds) != res.clusters:
        return False
    return all(on_file(layout.rds(r["name"])) == [r] for r in res.routes)


def deliver(layout: ProxyLayout, res: XdsResources, binary: Path | None = None) -> xds_files.WriteReport:
    if not only_endpoints_change(layout, res):
        validate.check(layout, res, binary)
    return xds_files.write(layout, res)
