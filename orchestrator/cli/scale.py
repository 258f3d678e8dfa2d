"""gwlab scale deployment NAME --replicas=N."""

from __future__ import annotations

import argparse

from orchestrator.cli import common


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("scale", help="set a Deployment's replicas")
    common(p)
    p.add_argument("target", help="deployment/NAME or deployment")
    p.add_argument("name", nargs="?")
    p.add_argument("--replicas", type=int, required=True)
    p.add_argument("-n", "--namespace", default="default")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import copy

    from orchestrator import cluster, lab
    from orchestrator.errors import LabError
    from orchestrator.k8s import api
    from orchestrator.manifests import Document

    kind_name, _, name = args.target.partition("/")
    name = name or args.name
    if api.kind_of(kind_name).kind != "Deployment" or not name:
        raise LabError("usage: gwlab scale deployment NAME --replicas N")
    if args.replicas < 0:
        raise LabError("--replicas must be 0 or more")
    running = lab.open_lab(args.topo, args.lab)
    stored = {cluster.key(d): d for d in cluster.Store(running.topo.name).load()}
    doc = stored.get(("Deployment", args.namespace, name))
    if doc is None:
        raise LabError(f'deployment "{name}" not found in namespace {args.namespace}')
    body = copy.deepcopy(doc.body)
    body.setdefault("spec", {})["replicas"] = args.replicas
    result = running.apply([Document(doc.file, doc.index, body)])
    print(f"deployment.apps/{name} scaled")
    for line in result.lines()[len(result.changes):]:
        print(line)
    return 0  # as kubectl: the objects are applied; pods still starting are listed above
