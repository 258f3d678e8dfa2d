"""gwlab get KIND [NAME] | KIND/NAME [-o yaml|json|name|wide|jsonpath=...]: objects with their status."""

from __future__ import annotations

import argparse
import json
import sys

from orchestrator.cli import common


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("get", help="show objects of the lab's cluster, as kubectl get does")
    common(p)
    p.add_argument("target", help="KIND or KIND/NAME (pods, svc, deploy, gateway, tlsroute, gatewayclass, ...)")
    p.add_argument("name", nargs="?", help="object name")
    p.add_argument("-o", "--output", default="", help="yaml, json, name, wide, or jsonpath=TEMPLATE")
    p.add_argument("-n", "--namespace", default="default")
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import yaml

    from orchestrator import lab, report
    from orchestrator.errors import LabError
    from orchestrator.k8s import api, jsonpath

    kind_name, _, name = args.target.partition("/")
    name = name or args.name
    running = lab.open_lab(args.topo, args.lab)
    kind = api.kind_of(kind_name)
    found = [api.View(kind, b) for b in running.engine.get(kind.kind, None if args.all_namespaces
                                                              else args.namespace)]
    items = api.select(found, name, None)
    bodies = [v.body for v in items]
    data = bodies[0] if name else {"apiVersion": "v1", "kind": "List", "items": bodies, "metadata": {}}
    out = args.output
    if out == "json":
        print(json.dumps(data, indent=4))
    elif out == "yaml":
        sys.stdout.write(yaml.safe_dump(data, sort_keys=False))
    elif out == "name":
        for v in items:
            group = f".{kind.group}" if kind.group else ""
            print(f"{kind.aliases[0]}{group}/{v.name}")
    elif out.startswith("jsonpath="):
        sys.stdout.write(jsonpath.jsonpath(out[len("jsonpath="):], data))
    elif out in ("", "wide"):
        if not items:
            print(f"No resources found in {args.namespace} namespace."
                  if kind.namespaced and not args.all_namespaces else "No resources found")
            return 0
        head, rows = api.table(kind, items, wide=out == "wide", all_namespaces=args.all_namespaces)
        print(report.table(head, rows))
    else:
        raise LabError(f"unknown output format {out!r}: use yaml, json, name, wide or jsonpath=...")
    return 0
