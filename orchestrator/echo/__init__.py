"""An echo server compatible with the Gateway API conformance echo server, echo-basic.

Run it with `python -m orchestrator.echo [--bind ADDR]`. Like echo-basic it is configured by
its environment:

- HTTP_PORT (default 3000): plain HTTP/1.1, always on.
- H2C_PORT (default 3001): cleartext HTTP/2 (prior knowledge or `Upgrade: h2c`); plain
  HTTP/1.1 requests there get 400 "Expected h2c request", as from echo-basic.
- HTTPS_PORT (default 8443), TLS_SERVER_CERT, TLS_SERVER_PRIVKEY: HTTPS, only when both files
  are given; ALPN offers h2 and http/1.1. TLS_CLIENT_CACERTS: verify client certificates if sent.
- POD_NAME, NAMESPACE, SERVICE_NAME, INGRESS_NAME: echoed as pod, namespace, service, ingress.

Extensions: ECHO_BIND_ADDRESS (or --bind; default 0.0.0.0, echo-basic binds every address), a
port of "0" for a free one and "off" to disable a listener, ECHO_LOG_REQUESTS=1 for echo-basic's
per-request log line (off by default: it costs throughput), ECHO_WORKERS=N to serve from N
processes sharing the listening sockets (default 1). When every listener is bound it
prints one line, e.g. `echo-basic listening https=8443 http=3000 h2c=3001 bind=0.0.0.0`.
SIGTERM or SIGINT closes the listeners and connections and exits 0.

Routes, as echo-basic's: `/health` (200 "OK"), `/status/NNN` (that status, empty body),
anything else echoes the request as JSON (path, host, method, proto, headers, namespace,
ingress, service, pod, and tls {version, serverName, negotiatedProtocol, cipherSuite} over
HTTPS), honouring `?delay=<Go duration>` and the `X-Echo-Set-Header: Name: value, ...` request
header. Not implemented: the `/ws` WebSocket echo (it echoes like any other path).

Benchmark extension: `GET /bytes/N` on the HTTP and HTTPS ports answers N bytes
(0 <= N <= 64 MiB) of application/octet-stream, sliced from one pre-built buffer and sent as fast
as HTTP/2 flow control and the socket allow (e.g. `h2load -n 1000 -c 4 -m 2
https://HOST:8443/bytes/1048576`). On the h2c port it is echoed, like every path there.
"""

from .handler import Context, Echo, Request, Response
from .server import EchoConfig, EchoServer, main, serve
from .tlsinfo import ServerTLS, TLSInfo

__all__ = [
    "Context",
    "Echo",
    "EchoConfig",
    "EchoServer",
    "Request",
    "Response",
    "ServerTLS",
    "TLSInfo",
    "main",
    "serve",
]
