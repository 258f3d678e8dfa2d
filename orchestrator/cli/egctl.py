"""gwlab egctl config envoy-proxy all|listener|cluster|endpoint|route [POD] [-n NS] [-o json|yaml]:
what Envoy Gateway's `egctl config envoy-proxy` prints, Envoy's config dump (EDS included) of each
gateway proxy, keyed by the proxy pod's namespace and name; also `gwlab egctl stats` for the
proxies' counters. Read from each proxy's admin API (a UNIX socket in its pod's directory)."""

from __future__ import annotations

import argparse
import json
import sys

from orchestrator.cli import common

KINDS = ("all", "listener", "cluster", "endpoint", "route")


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("egctl", help="the gateway proxies' Envoy config and stats, as egctl shows them")
    verbs = p.add_subparsers(dest="egctl_verb", metavar="config|stats", required=True)
    config = verbs.add_parser("config", help="Envoy's config dump of each proxy")
    what = config.add_subparsers(dest="target", metavar="envoy-proxy", required=True)
    proxy = what.add_parser("envoy-proxy", help="the gateway proxies")
    proxy.add_argument("kind", choices=KINDS, help="which part of the config dump")
    for q in (proxy, verbs.add_parser("stats", help="Envoy's counters and gauges of each proxy")):
        common(q)
        q.add_argument("pod", nargs="?", help="one proxy pod (default: every one)")
        q.add_argument("-n", "--namespace", help="the proxy pods' namespace (default: any)")
        q.add_argument("-o", "--output", choices=("json", "yaml"), default="json")
        q.set_defaults(run=run)
    verbs.choices["stats"].add_argument("--prefix", default="", help="only stats whose name starts with this")


def run(args: argparse.Namespace) -> int:
    from orchestrator import lab
    from orchestrator.envoy.admin import Admin, AdminError, egctl_config
    from orchestrator.envoy.layout import ProxyLayout

    running = lab.open_lab(args.topo, args.lab)
    proxies = {(p.spec.namespace, p.spec.name): Admin(ProxyLayout(p.log.parent).admin_socket)
               for p in running.engine.host_pods() or []
               if p.spec.role == "gateway" and args.namespace in (None, p.spec.namespace)
               and args.pod in (None, p.spec.name)}
    if not proxies:
        where = f" named {args.pod}" if args.pod else ""
        print(f"gwlab egctl: no gateway proxy pod{where} in lab {running.topo.name}"
              + (f", namespace {args.namespace}" if args.namespace else ""), file=sys.stderr)
        return 1
    if args.egctl_verb == "config":
        out: dict[str, dict[str, object]] = egctl_config(args.kind, proxies)
    else:
        out = {}
        for (ns, pod), admin in sorted(proxies.items()):
            try:
                out.setdefault(ns, {})[pod] = admin.stats(args.prefix)
            except AdminError as exc:
                out.setdefault(ns, {})[pod] = {"error": str(exc)}
    if args.output == "yaml":
        import yaml

        print(yaml.safe_dump(out, sort_keys=False), end="")
    else:
        print(json.dumps(out, indent=2))
    return 0
