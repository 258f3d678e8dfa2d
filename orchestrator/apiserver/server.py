"""The API server in process: its data directory (0700: PKI, kubeconfig, store), the store reloaded,
HTTPS served from a thread. `python -m orchestrator.apiserver` runs one in the foreground."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from orchestrator.apiserver.admission import Admission
from orchestrator.apiserver.crud import Objects
from orchestrator.apiserver.httpd import Server, tls_context
from orchestrator.apiserver.rest import Api, LogSource
from orchestrator.apiserver.store import Store
from orchestrator.apiserver.tls import Pki, ensure_pki, write_kubeconfig

STORE_FILE = "store.json"


class ApiServer:
    def __init__(self, data: Path, host: str, port: int = 6443, admissions: list[Admission] | None = None,
                 log_source: LogSource | None = None) -> None:
        self.data = data
        self.host = host
        self.port = port
        data.mkdir(parents=True, exist_ok=True)
        os.chmod(data, 0o700)
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

    def start(self) -> ApiServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="apiserver", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
