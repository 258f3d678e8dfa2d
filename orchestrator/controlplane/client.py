"""A small client of the lab's API server, for gwlab's own writes (the demo's steps, the Calico
manifests, `certs --apply`): HTTPS with the lab's client certificate, over a socket made inside a lab
namespace (the bastion's), so nothing of it touches the root namespace."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any

from orchestrator.apiserver.tls import Pki
from orchestrator.engines.netns import namespaces
from orchestrator.errors import LabError
from orchestrator.rundir import RunDir

PORT = 6443


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]

    @property
    def message(self) -> str:
        return str(self.body.get("message") or self.body)


class _Connection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, ns: str, pki: Pki, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.ns = ns
        self.pki = pki
        self.tls: ssl.SSLContext | None = None

    def connect(self) -> None:
        if self.tls is None:  # made on first use: the server writes its PKI when it starts
            self.tls = ssl.create_default_context(cafile=str(self.pki.ca_cert))
            self.tls.load_cert_chain(str(self.pki.client_cert), str(self.pki.client_key))
        with namespaces.inside(self.ns):  # the socket keeps the namespace it was made in
            sock = socket.create_connection((self.host, self.port), self.timeout)
        # http.client sends a request's headers and body in two writes: without TCP_NODELAY (which its
        # own connect() sets) each write with a body waited ~45 ms for the server's delayed ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


class Client:
    def __init__(self, files: RunDir, ns: str, host: str, port: int = PORT, timeout: float = 30.0) -> None:
        self.pki = Pki(files.apiserver)
        self.conn = _Connection(host, port, ns, self.pki, timeout)
        self.where = f"https://{host}:{port}"

    def request(self, method: str, path: str, body: Any = None,
                content_type: str = "application/json") -> Reply:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, data, headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                break
            except (http.client.HTTPException, ConnectionError) as exc:
                self.conn.close()  # a kept-alive connection the server closed: once more, new
                if attempt == 2:
                    raise LabError(f"the lab's API server at {self.where} did not answer {method} {path}: {exc}")
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {"message": raw.decode(errors="replace")}
        return Reply(resp.status, parsed if isinstance(parsed, dict) else {"items": parsed})

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Until the server answers /readyz (it starts beside BIRD, while `up` does other work)."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if not self.pki.kubeconfig.exists():  # written once the server listens
                time.sleep(0.02)
                continue
            try:
                if self.request("GET", "/readyz").status == 200:
                    return
            except (LabError, OSError) as exc:
                last = str(exc)
                self.conn.close()
            time.sleep(0.02)
        raise LabError(f"the lab's API server at {self.where} did not answer within {timeout:.0f} s ({last}); "
                       "see the control plane's log in the lab's run directory (controlplane.log)")

    def close(self) -> None:
        self.conn.close()
