"""gwlab create secret tls NAME --cert FILE --key FILE, as kubectl create secret tls."""

from __future__ import annotations

import argparse

from orchestrator.cli import common


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("create", help="create a Secret from a certificate and key (secret tls)")
    common(p)
    p.add_argument("what", choices=["secret"])
    p.add_argument("type", choices=["tls"])
    p.add_argument("name")
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("-n", "--namespace", default="default")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from orchestrator import lab, pki
    from orchestrator.errors import LabError
    from orchestrator.manifests import Document

    try:
        cert, key = Path(args.cert).read_bytes(), Path(args.key).read_bytes()
    except OSError as exc:
        raise LabError(f"cannot read {exc.filename}: {exc.strerror}") from exc
    body = pki.tls_secret(args.name, cert, key, args.namespace)
    for line in lab.open_lab(args.topo, args.lab).apply([Document("(gwlab create secret tls)", 0, body)]).lines():
        print(line)
    return 0
