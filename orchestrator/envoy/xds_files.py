"""Delivery of xDS as files Envoy watches: each file written to a temporary name and renamed into
its watched directory (Envoy reloads on the move, never reads half a file), and only the files
whose text changed, so an endpoint change is one EDS file and touches no listener or cluster.

Order matters to Envoy: a new cluster's EDS file exists before CDS names it, and a route config
before the listener using it; a cluster leaves CDS only after no listener names it; files of
resources that are gone are removed last.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator.envoy.bootstrap import bootstrap
from orchestrator.envoy.layout import XDS_KINDS, ProxyLayout
from orchestrator.envoy.translate import Resource, XdsResources

TYPE_URLS = {
    "lds": "type.googleapis.com/envoy.config.listener.v3.Listener",
    "cds": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
    "eds": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
    "rds": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
}


# libyaml's safe loader and dumper where PyYAML was built with it: the pure-Python ones took most of
# a pass's xDS work (every readiness poll reads LDS and EDS). Both emit and read the same documents.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump(doc: Any, sort_keys: bool) -> str:
    """YAML text of a document as yaml.safe_dump writes it (block style)."""
    return yaml.dump(doc, Dumper=_DUMPER, sort_keys=sort_keys, default_flow_style=False)


@dataclass(frozen=True)
class WriteReport:
    written: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)

    def kinds(self) -> set[str]:
        return {p.parent.name for p in self.written + self.removed}


def discovery_response(kind: str, resources: list[Resource]) -> str:
    doc = {"resources": [{"@type": TYPE_URLS[kind], **r} for r in resources]}
    return dump(doc, sort_keys=True)


def prepare(layout: ProxyLayout, *, node_id: str, gateway: str) -> bool:
    """Make the directories (0700) and write the bootstrap. True if the bootstrap changed."""
    layout.root.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in (layout.root, layout.xds, *(layout.dir(kind) for kind in XDS_KINDS)):
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if layout.owner is not None:
            os.chown(path, layout.owner, layout.owner)
    text = dump(bootstrap(layout, node_id=node_id, gateway=gateway), sort_keys=False)
    return _replace(layout, layout.bootstrap, text)


def write(layout: ProxyLayout, res: XdsResources) -> WriteReport:
    """Bring the watched files to `res`, writing only what changed. The directories must exist
    (prepare); LDS and CDS files are always present, empty when there is nothing to serve."""
    report = WriteReport()
    eds = {layout.eds(a["clusterName"]): discovery_response("eds", [a]) for a in res.endpoints}
    rds = {layout.rds(r["name"]): discovery_response("rds", [r]) for r in res.routes}
    names = {c["name"] for c in res.clusters}
    leaving = [c for c in (read(layout.cds) if layout.cds.is_file() else []) if c.get("name") not in names]
    # While listeners may still name a leaving cluster, CDS keeps it; it goes once LDS is written.
    kept = [{k: v for k, v in c.items() if k != "@type"} for c in leaving]
    steps = [*eds.items(), *rds.items(),
             (layout.cds, discovery_response("cds", res.clusters + kept)),
             (layout.lds, discovery_response("lds", res.listeners)),
             (layout.cds, discovery_response("cds", res.clusters))]
    for path, text in steps:
        if _replace(layout, path, text) and path not in report.written:
            report.written.append(path)
    for kind, keep in (("eds", eds), ("rds", rds)):
        for stale in sorted(layout.dir(kind).glob("*.yaml")):
            if stale not in keep:
                stale.unlink()
                report.removed.append(stale)
    return report


def read(path: Path) -> list[dict[str, Any]]:
    """The resources of one xDS file (for tests and `egctl`-like views of what was sent)."""
    doc = yaml.load(path.read_text(), Loader=_LOADER)  # noqa: S506 - the safe loader, in C where built
    return list(doc.get("resources", [])) if isinstance(doc, dict) else []


def _replace(layout: ProxyLayout, path: Path, text: str) -> bool:
    try:
        if path.read_text() == text:
            return False
    except FileNotFoundError:
        pass
    # The temporary file lives outside every watched directory; only the rename lands in one.
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=layout.root)
    try:
        if layout.owner is not None:  # the unprivileged proxy reads it (0600)
            os.fchown(fd, layout.owner, layout.owner)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True
