"""The Docker engine, through the docker SDK, behind a small typed interface (so that a recording
stand-in can replace it: no Docker engine runs on the machines that test this project).

Only a local engine is used: the host bridge and kind's nodes live on this host, so the engine's
Unix socket must be this host's (DOCKER_HOST may name another unix socket, nothing else).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from orchestrator.errors import LabError

DEFAULT_SOCKET = Path("/var/run/docker.sock")


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: bytes
    stderr: bytes


@dataclass(frozen=True)
class ContainerInfo:
    name: str
    status: str  # running, exited, ...
    labels: dict[str, str] = field(default_factory=dict)


class DockerApi(Protocol):
    def image_present(self, ref: str) -> bool:
        """What `docker image inspect REF` tells: the image is in the local store."""

    def build_image(self, context: Path, dockerfile: str, tag: str) -> list[str]:
        """Build and tag an image; returns the build's output lines."""

    def exec(self, container: str, argv: list[str]) -> ExecResult:
        """`docker exec CONTAINER ARGV...`, to completion."""

    def containers(self, label: str, value: str | None = None) -> list[ContainerInfo]:
        """Containers, running or not, that carry a label (with that value when given)."""

    def remove(self, name: str) -> bool:
        """`docker rm -f NAME`; False if there was no such container."""


def socket_path() -> tuple[Path | None, str]:
    """The local engine's socket, or None and why it cannot be used (from DOCKER_HOST)."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host:
        return DEFAULT_SOCKET, ""
    if host.startswith("unix://"):
        return Path(host[len("unix://"):]), ""
    return None, (f"DOCKER_HOST={host} names a remote engine; the containerlab engine needs this host's "
                  "(its bridge and kind's nodes live here)")


class SdkDocker:
    """The real Docker engine, over its local Unix socket, with the docker SDK."""

    def __init__(self, socket: Path, timeout: int = 600) -> None:
        import docker

        self._client: Any = docker.DockerClient(base_url=f"unix://{socket}", timeout=timeout)

    def ping(self) -> None:
        self._client.ping()

    def image_present(self, ref: str) -> bool:
        import docker.errors

        try:
            self._client.images.get(ref)
        except docker.errors.ImageNotFound:
            return False
        return True

    def build_image(self, context: Path, dockerfile: str, tag: str) -> list[str]:
        import docker.errors

        try:
            _, logs = self._client.images.build(path=str(context), dockerfile=dockerfile, tag=tag, rm=True)
        except docker.errors.BuildError as exc:
            said = [str(c.get("stream") or c.get("error") or "").rstrip() for c in exc.build_log]
            raise LabError(f"docker build of {tag} from {context} failed: {exc.msg}\n"
                           + "\n".join(s for s in said if s)[-2000:]) from None
        return [str(chunk.get("stream", "")).rstrip() for chunk in logs if chunk.get("stream", "").strip()]

    def exec(self, container: str, argv: list[str]) -> ExecResult:
        import docker.errors

        try:
            target = self._client.containers.get(container)
        except docker.errors.NotFound:
            raise LabError(f"container {container} does not exist: is the lab up?") from None
        if target.status != "running":
            raise LabError(f"container {container} is {target.status}, not running")
        result = target.exec_run(argv, demux=True)
        stdout, stderr = result.output if result.output else (b"", b"")
        return ExecResult(int(result.exit_code), stdout or b"", stderr or b"")

    def containers(self, label: str, value: str | None = None) -> list[ContainerInfo]:
        wanted = f"{label}={value}" if value is not None else label
        found = self._client.containers.list(all=True, filters={"label": wanted})
        return [ContainerInfo(c.name, c.status, dict(c.labels or {})) for c in found]

    def remove(self, name: str) -> bool:
        import docker.errors

        try:
            self._client.containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            return False
        return True


def connect() -> tuple[SdkDocker | None, str]:
    """The local Docker engine if its socket answers, else None and why (nothing else is tried)."""
    path, why = socket_path()
    if path is None:
        return None, why
    if not path.exists():
        return None, f"no Docker engine: {path} does not exist"
    try:
        client = SdkDocker(path)
        client.ping()
    except Exception as exc:  # the SDK raises several kinds for a socket that does not answer
        return None, f"the Docker engine at {path} does not answer ({type(exc).__name__}: {exc})"
    return client, ""
