"""gwlab certs: the workshop's demo step 1. Prints the directory holding the lab's certificates
(example.com.crt/.key, the CA; passthrough.example.com.crt/.key, the echo server's), making them
if needed; `--apply` also creates the Secret server-certs from them, as `kubectl create secret tls`."""

from __future__ import annotations

import argparse

from orchestrator.cli import common


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("certs", help="print the directory of the lab's certificates (demo step 1)")
    common(p)
    p.add_argument("--apply", action="store_true", help="also create the Secret server-certs from them")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from orchestrator import demo, lab

    running = lab.open_lab(args.topo, args.lab)
    certs = demo.certificates(running)
    if args.apply:
        for line in running.apply([demo.server_certs_secret(certs)]).lines():
            print(line)
    print(certs.directory)
    return 0
