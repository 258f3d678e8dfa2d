"""Where one proxy's files live: bootstrap, xDS files Envoy watches, admin socket, log.

Each resource type has a directory of its own that Envoy watches (`watched_directory`): a file
renamed into `eds/` makes Envoy re-read the EDS files only, never the listeners. A resource name
becomes a file name by `/` -> `_` (Kubernetes names hold no `_`, so no two names collide).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

XDS_KINDS = ("lds", "cds", "eds", "rds")


def file_stem(resource_name: str) -> str:
    return resource_name.replace("/", "_")


@dataclass(frozen=True)
class ProxyLayout:
    root: Path  # the pod's directory; a UNIX socket path must stay under ~100 bytes
    owner: int | None = None  # uid (= gid) the proxy runs as: it owns the directory and every file

    @property
    def bootstrap(self) -> Path:
        return self.root / "envoy.yaml"

    @property
    def admin_socket(self) -> Path:
        return self.root / "admin.sock"

    @property
    def log(self) -> Path:
        return self.root / "container.log"

    @property
    def xds(self) -> Path:
        return self.root / "xds"

    def dir(self, kind: str) -> Path:
        return self.xds / kind

    @property
    def lds(self) -> Path:
        return self.dir("lds") / "listeners.yaml"

    @property
    def cds(self) -> Path:
        return self.dir("cds") / "clusters.yaml"

    def eds(self, cluster: str) -> Path:
        return self.dir("eds") / f"{file_stem(cluster)}.yaml"

    def rds(self, route_config: str) -> Path:
        return self.dir("rds") / f"{file_stem(route_config)}.yaml"

    def config_source(self, path: Path, *, initial_fetch_timeout: str | None = None) -> dict[str, Any]:
        """A file-based config source: Envoy re-reads `path` when a file is moved into its directory."""
        source: dict[str, Any] = {
            "pathConfigSource": {"path": str(path), "watchedDirectory": {"path": str(path.parent)}},
            "resourceApiVersion": "V3",
        }
        if initial_fetch_timeout is not None:
            source["initialFetchTimeout"] = initial_fetch_timeout
        return source
