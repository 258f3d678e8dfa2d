"""The API server in process: its data directory (0700: PKI, kubeconfig, store), the store reloaded,
HTTPS served from a thread. `python -m orchestrator.apiserver` runs one in the foreground."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from orchestrator.apiserver import openapi
from orchestrator.apiserver.admission import Admission
from orchestrator.apiserver.crud import Objects
from orchestrator.apiserver.httpd import Server, tls_context
from orchestrator.apiserver.messages import LogSource
from orchestrator.apiserver.rest import Api
from orchestrator.apiserver.store import Store
from orchestrator.apiserver.tls import Pki, ensure_pki, write_kubeconfig

STORE_FILE = "store.json"
LOCK_FILE = "lock"


class ServerError(Exception):
    """Why the API server cannot start, in one sentence with the fix."""


NETNS_DIR = Path("/run/netns")


def lab_namespace() -> str | None:
    """The name of the lab namespace (gwlab-*) this thread is in, or None (the host's, or another)."""
    here = os.stat(f"/proc/self/task/{threading.get_native_id()}/ns/net")
    try:
        names = sorted(p for p in NETNS_DIR.iterdir() if p.name.startswith("gwlab-"))
    except FileNotFoundError:
        return None
    for path in names:
        try:
            st = os.stat(path)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (here.st_dev, here.st_ino):
            return path.name
    return None


def _lock(data: Path) -> int:
    fd = os.open(data / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ServerError(f"another API server already uses {data} (it holds {data / LOCK_FILE}); stop it "
                          "first, or give this one its own --data directory") from None
    return fd


class ApiServer:
    def __init__(self, data: Path, host: str, port: int = 6443, admissions: list[Admission] | None = None,
                 log_source: LogSource | None = None) -> None:
        self.data = data
        self.host = host
        self.port = port
        if lab_namespace() is None:
            # the house rule: no lab socket listens outside the lab's own namespaces
            raise ServerError("refusing to listen outside a lab network namespace (gwlab-*): run the API server "
                              "inside one (ip netns exec gwlab-NAME ..., or netns.inside() in process)")
        data.mkdir(parents=True, exist_ok=True)
        os.chmod(data, 0o700)
        self._lock_fd = _lock(data)
        self.pki: Pki = ensure_pki(data, host)
        self.store = Store(data / STORE_FILE)
        old_umask = os.umask(0o077)  # the store file is made 0600 by mkstemp; keep everything else private
        try:
            self.objects = Objects(self.store, admissions)
        finally:
            os.umask(old_umask)
        self.api = Api(self.objects, f"{host}:{port}", log_source)
        self.httpd = Server((host, port), self.api, tls_context(self.pki))
        self.port = self.httpd.server_address[1]
        self.kubeconfig = write_kubeconfig(self.pki, host, self.port)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def warm(self) -> None:
        """Build the OpenAPI documents now (0.1 s) rather than on kubectl's first request."""
        threading.Thread(target=openapi.root, name="openapi-warm", daemon=True).start()

    def start(self) -> ApiServer:
        self.warm()
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="apiserver", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.warm()
        self.httpd.serve_forever()

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
        self.httpd.server_close()
        os.close(self._lock_fd)
