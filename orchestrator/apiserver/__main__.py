"""python -m orchestrator.apiserver --data DIR --listen ADDR:PORT"""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
from pathlib import Path

from orchestrator.apiserver.server import ApiServer, ServerError


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected an IP address and a port, e.g. 10.0.1.11:6443 "
                                         "(the serving certificate names the address)") from None
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r}: expected ADDR:PORT with a port 1-65535, e.g. 10.0.1.11:6443")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestrator.apiserver",
                                     description="A Kubernetes API server for one lab, for real kubectl.")
    parser.add_argument("--data", type=Path, required=True, help="directory for PKI, kubeconfig and store (0700)")
    parser.add_argument("--listen", type=_address, required=True, help="ADDR:PORT to serve HTTPS on")
    args = parser.parse_args(argv)
    host, port = args.listen
    try:
        server = ApiServer(args.data, host, port)
    except ServerError as exc:
        print(f"apiserver: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = exc.filename or f"{host}:{port}"
        print(f"apiserver: cannot start: {where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"serving {server.url}; kubeconfig {server.kubeconfig}", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
