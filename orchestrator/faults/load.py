"""The failover load, run inside the bastion's namespace: the workshop's request (TLS to the Gateway's
address with SNI passthrough.example.com, verified against the lab's CA, `GET /get`) on a new TCP and
TLS connection each time, at a fixed rate for a fixed time. Bounded: rate x duration requests at
most, each given TIMEOUT seconds. One JSON line per request on stdout: start, end, ok, error. SIGTERM
ends it early: no new request, those under way are waited for and reported.

    python -m orchestrator.faults.load ADDRESS PORT HOST CA RATE DURATION
"""

from __future__ import annotations

import json
import signal
import socket
import ssl
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import Final

TIMEOUT: Final = 1.0  # seconds a request gets, connect to answer
MAX_REQUESTS: Final = 20_000


@dataclass(frozen=True)
class Outcome:
    i: int
    start: float  # epoch seconds
    end: float
    ok: bool
    error: str  # "" when ok; else what failed: connect timeout, connection refused, TLS ..., reset, HTTP 503, ...


def classify(exc: BaseException, stage: str) -> str:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"{stage} timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return f"reset during {stage}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({exc.reason or 'handshake'})"
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{stage}: {exc.strerror or exc}"
    return f"{stage}: {type(exc).__name__}"


def one(i: int, address: str, port: int, host: str, ctx: ssl.SSLContext) -> Outcome:
    start = time.time()
    stage = "connect"
    try:
        with socket.create_connection((address, port), timeout=TIMEOUT) as raw:
            stage = "TLS handshake"
            with ctx.wrap_socket(raw, server_hostname=host) as tls:
                stage = "response"
                tls.sendall(f"GET /get HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                head = tls.recv(64)
        status = head.split(b"\r\n", 1)[0].decode(errors="replace")
        ok = status.startswith("HTTP/1.1 200")
        return Outcome(i, start, time.time(), ok, "" if ok else (f"answer {status}" if status else "closed without answer"))
    except Exception as exc:  # noqa: BLE001 - every failure is a counted outcome
        return Outcome(i, start, time.time(), False, classify(exc, stage))


def main(argv: list[str]) -> int:
    address, port, host, ca, rate, duration = argv[0], int(argv[1]), argv[2], argv[3], float(argv[4]), float(argv[5])
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols(["http/1.1"])
    total = min(MAX_REQUESTS, int(rate * duration))
    lock = threading.Lock()

    def run(i: int) -> None:
        out = one(i, address, port, host, ctx)
        with lock:
            sys.stdout.write(json.dumps(asdict(out)) + "\n")
            sys.stdout.flush()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # the run saw the lab heal: end, answers kept
    t0 = time.monotonic()
    threads = []
    for i in range(total):
        if stop.is_set():
            break
        delay = t0 + i / rate - time.monotonic()
        if delay > 0 and stop.wait(delay):
            break
        t = threading.Thread(target=run, args=(i,), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(TIMEOUT * 4)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
