"""gwlab trace WHAT: captures that prove a path while something happens.

  gwlab trace bgp [--during 'CMD'] [--settle S] [--duration S] [-w FILE.pcap] [--json]
  gwlab trace passthrough [--sni HOST] [-w DIR] [--json]

Traces are subcommands registered in TRACES: `bgp` (BGP on the bastion while a command runs) and
`passthrough` (the workshop's request from the bastion -> the node ECMP chose -> its DNAT -> the
gateway pod -> the backend pod, the ClientHello compared on both legs).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from orchestrator.cli import common


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("trace", help="capture while something happens and list what it did (bgp, passthrough)")
    traces = p.add_subparsers(dest="trace", metavar="WHAT", required=True)
    for name, (helptext, adder) in TRACES.items():
        t = traces.add_parser(name, help=helptext)
        common(t)
        adder(t)


def _add_bgp(p: argparse.ArgumentParser) -> None:
    p.description = ("Capture BGP on the bastion's segment interface while CMD runs (e.g. `gwlab bird restart "
                     "worker1`; GWLAB_LAB is set to the lab), until BGP has been quiet for --settle seconds after "
                     "it; then list per peer the UPDATEs (announced and withdrawn prefixes), session resets "
                     "(NOTIFICATION, connection closed, new OPEN) and ROUTE-REFRESH. Without --during it runs "
                     "until Ctrl-C or --duration.")
    p.add_argument("--during", metavar="CMD", help="a shell command line to run while capturing")
    p.add_argument("--settle", type=float, default=3.0, metavar="S",
                   help="seconds of BGP quiet (KEEPALIVEs aside) after CMD before stopping (default 3)")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds at most")
    p.add_argument("-w", dest="write", type=Path, metavar="FILE.pcap", help="also write the capture to a pcap")
    p.add_argument("--json", action="store_true", help="the trace as one JSON document")
    p.set_defaults(run=run_bgp)


def _add_passthrough(p: argparse.ArgumentParser) -> None:
    p.description = ("Send the workshop's request (its curl, from the bastion) while capturing on the bastion, every "
                     "node's segment interface, the gateway pod and the backend pods; then show its path hop by hop "
                     "(the node the bastion's ECMP route chose, the DNAT that matched, the gateway pod, the backend "
                     "pod) and prove passthrough: the same ClientHello (random and SNI) on the client and backend "
                     "legs, the backend's ServerHello and certificate at the client. With an SNI no TLSRoute takes "
                     "(e.g. --sni unknown.example.com) it proves the opposite: refused at the gateway, nothing "
                     "reached any backend; so too with --no-sni (https to the Gateway's address) and --plain-http "
                     "(http to the TLS port). Exit 0 when the expected outcome holds, 1 otherwise.")
    ask = p.add_mutually_exclusive_group()
    ask.add_argument("--sni", metavar="HOST", help="the server name to ask for (default: the workshop's, "
                     "passthrough.example.com); curl resolves it to the Gateway's address")
    ask.add_argument("--no-sni", action="store_true", help="TLS without SNI: curl https://<the Gateway's address>")
    ask.add_argument("--plain-http", action="store_true", help="plain HTTP to the TLS listener's port")
    p.add_argument("-w", dest="write", type=Path, metavar="DIR", help="also write each capture to DIR/<point>.<iface>.pcap")
    p.add_argument("--json", action="store_true", help="the trace as one JSON document")
    p.set_defaults(run=run_passthrough)


# name -> (help, function adding its arguments and run)
TRACES = {
    "bgp": ("BGP on the bastion while a command runs: UPDATEs, withdrawals, resets per peer", _add_bgp),
    "passthrough": ("the workshop's request hop by hop: ECMP node, DNAT, gateway pod, backend pod; "
                    "proves TLS passthrough (or the refusal of an unknown SNI)", _add_passthrough),
}


def run_bgp(args: argparse.Namespace) -> int:
    from orchestrator import lab
    from orchestrator.capture import trace_bgp
    from orchestrator.errors import LabError

    if args.during is None and args.duration is None:
        print("no --during command: capturing until Ctrl-C", file=sys.stderr, flush=True)
    if args.settle < 0 or (args.duration is not None and args.duration <= 0):
        raise LabError("--settle must be >= 0 and --duration > 0")
    running = lab.open_lab(args.topo, args.lab)
    echo = (lambda _: None) if args.json else (lambda text: print(f"  | {text}", file=sys.stderr, flush=True))
    trace = trace_bgp.trace_bgp(running, args.during, args.settle, args.duration, args.write, echo)
    if args.json:
        print(json.dumps(trace_bgp.as_json(trace), indent=1))
    else:
        print("\n".join(trace_bgp.report(trace)))
    if trace.command is not None and trace.command.exit_code not in (0, None):
        return 1
    return 0


def run_passthrough(args: argparse.Namespace) -> int:
    from orchestrator import lab
    from orchestrator.capture import passthrough_report, trace_passthrough

    running = lab.open_lab(args.topo, args.lab)
    request = "no-sni" if args.no_sni else "plain-http" if args.plain_http else "tls"
    trace = trace_passthrough.trace_passthrough(running, args.sni, args.write, request=request)
    if args.json:
        print(json.dumps(passthrough_report.as_json(trace), indent=1))
    else:
        print("\n".join(passthrough_report.report(trace)))
    if trace.outcome.interrupted:
        return 130
    return 0 if trace.ok else 1
