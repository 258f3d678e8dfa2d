"""gwlab patch KIND NAME --type=json --patch '...': RFC 6902 operations, in YAML or JSON, as kubectl."""

from __future__ import annotations

import argparse

from orchestrator.cli import common


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("patch", help="change an object with a JSON patch (RFC 6902)")
    common(p)
    p.add_argument("target", help="KIND or KIND/NAME")
    p.add_argument("name", nargs="?")
    p.add_argument("--type", default="json", choices=["json"], help="only json (RFC 6902) patches")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("-p", "--patch", help="the operations, in YAML or JSON")
    group.add_argument("--patch-file", metavar="FILE")
    p.add_argument("-n", "--namespace", default="default")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from orchestrator import cluster, lab
    from orchestrator.errors import LabError
    from orchestrator.k8s import api, jsonpatch
    from orchestrator.manifests import Document

    kind_name, _, name = args.target.partition("/")
    name = name or args.name
    kind = api.kind_of(kind_name)
    if not name:
        raise LabError(f"name the {kind.aliases[0]} to patch")
    running = lab.open_lab(args.topo, args.lab)
    stored = {cluster.key(d): d for d in cluster.Store(running.topo.name).load()}
    doc = stored.get((kind.kind, args.namespace, name))
    if doc is None:
        raise LabError(f'{kind.aliases[0]} "{name}" not found in namespace {args.namespace}')
    text = Path(args.patch_file).read_text() if args.patch_file else args.patch
    body = jsonpatch.apply_patch(doc.body, jsonpatch.parse_patch(text))
    for field, before, after in (("apiVersion", doc.body.get("apiVersion"), body.get("apiVersion")),
                                 ("kind", doc.kind, body.get("kind")),
                                 ("metadata.name", doc.name, (body.get("metadata") or {}).get("name")),
                                 ("metadata.namespace", (doc.body.get("metadata") or {}).get("namespace"),
                                  (body.get("metadata") or {}).get("namespace"))):
        if before != after:
            raise LabError(f"the patch changes {field} ({before!r} -> {after!r}): a patch cannot rename or move "
                           "an object; apply a new one and delete the old")
    result = running.apply([Document(f"patch of {kind.aliases[0]}/{name}", 0, body)])
    changed = any(c.verb != "unchanged" for c in result.changes)
    group = f".{kind.group}" if kind.group else ""
    print(f"{kind.aliases[0]}{group}/{name} {'patched' if changed else 'patched (no change)'}")
    for line in result.lines()[len(result.changes):]:
        print(line)
    return 0
