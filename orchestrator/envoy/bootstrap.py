"""Envoy's bootstrap for one proxy: who it is (node id and cluster as Envoy Gateway names them),
its admin API on a UNIX socket in the pod's directory (never a TCP port), and file-based LDS and
CDS; EDS and RDS sources are named by each cluster and listener (translate.py)."""

from __future__ import annotations

from typing import Any

from orchestrator.envoy.layout import ProxyLayout


def bootstrap(layout: ProxyLayout, *, node_id: str, gateway: str) -> dict[str, Any]:
    """node_id: the proxy pod's name (Envoy Gateway's --service-node $(ENVOY_POD_NAME));
    gateway: "<ns>/<name>" (its --service-cluster, the proxy infra's name)."""
    return {
        "node": {"id": node_id, "cluster": gateway},
        "admin": {
            "access_log": [{
                "name": "envoy.access_loggers.file",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                    "path": "/dev/null",
                },
            }],
            "address": {"pipe": {"path": str(layout.admin_socket), "mode": 0o600}},
        },
        "dynamic_resources": {
            "lds_config": layout.config_source(layout.lds),
            "cds_config": layout.config_source(layout.cds),
        },
        "layered_runtime": {"layers": [{
            "name": "global_config",
            "static_layer": {
                "re2.max_program_size.error_level": 4294967295,
                "re2.max_program_size.warn_level": 1000,
            },
        }]},
    }
