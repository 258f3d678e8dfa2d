"""HTTPS with client certificates (mTLS against the cluster CA), HTTP/1.1 keep-alive, chunked streams."""

from __future__ import annotations

import json
import select
import socket
import ssl
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from orchestrator.apiserver.body import MAX_BODY
from orchestrator.apiserver.errors import too_large
from orchestrator.apiserver.messages import Request, Response
from orchestrator.apiserver.rest import Api
from orchestrator.apiserver.tls import Pki

IDLE_TIMEOUT = 120.0


def tls_context(pki: Pki) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(pki.server_cert, pki.server_key)
    ctx.load_verify_locations(pki.ca_cert)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: Api, ctx: ssl.SSLContext) -> None:
        self.api = api
        self.ctx = ctx
        super().__init__(address, Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The handshake happens in the connection's own thread, never in the accept loop.
        try:
            request.settimeout(IDLE_TIMEOUT)
            # Headers and body go out as separate writes: without this, Nagle and delayed ACKs add 40 ms.
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(conn, client_address)
        finally:
            try:
                conn.close()
            except OSError:
                pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def _handle(self) -> None:
        url = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        length = int(headers.get("content-length") or 0)
        if length > MAX_BODY:
            self._send(Response(413, too_large().status()))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        req = Request(self.command, url.path, dict(parse_qsl(url.query)), headers, body)
        self._send(self.server.api.handle(req))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def _send(self, resp: Response) -> None:
        self.send_response(resp.code)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Cache-Control", resp.headers.pop("Cache-Control", "no-cache, private"))
        for name, value in resp.headers.items():
            self.send_header(name, value)
        if resp.stream is not None:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            try:
                for chunk in resp.stream:
                    if not chunk:
                        # A client waiting on a stream sends nothing; readable means it hung up.
                        if select.select([self.connection], [], [], 0)[0]:
                            self.close_connection = True
                            return
                        continue
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (OSError, ssl.SSLError, socket.timeout):
                self.close_connection = True
            finally:
                close = getattr(resp.stream, "close", None)
                if close is not None:
                    close()
            return
        data = resp.body if isinstance(resp.body, bytes) else json.dumps(resp.body, separators=(",", ":")).encode()
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
