"""python -m orchestrator.apiserver --data DIR --listen ADDR:PORT"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from orchestrator.apiserver.server import ApiServer


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: expected ADDR:PORT, e.g. 10.0.1.11:6443")
    return host.strip("[]"), int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestrator.apiserver",
                                     description="A Kubernetes API server for one lab, for real kubectl.")
    parser.add_argument("--data", type=Path, required=True, help="directory for PKI, kubeconfig and store (0700)")
    parser.add_argument("--listen", type=_address, required=True, help="ADDR:PORT to serve HTTPS on")
    args = parser.parse_args(argv)
    host, port = args.listen
    try:
        server = ApiServer(args.data, host, port)
    except OSError as exc:
        print(f"apiserver: cannot serve on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
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
