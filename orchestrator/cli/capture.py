"""gwlab capture NODE[:IFACE] | -r FILE: capture inside a node's or pod's namespace, decode BGP and TLS."""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import ExitStack
from pathlib import Path

from orchestrator.cli import common

BGP_FILTER = "tcp port 179"


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "capture", help="capture on a node or pod (tcpdump in its namespace), decode BGP and TLS live",
        description="Capture inside the network namespace of a lab node or pod, write a pcap (-w) and print "
                    "decoded BGP messages and TLS hellos as they pass. Stops on Ctrl-C, --count or --duration "
                    "and writes every packet captured until then. -r decodes a pcap taken elsewhere.")
    common(p)
    p.add_argument("target", nargs="?", metavar="NODE[:IFACE]",
                   help="bastion, control1, worker1, ..., a topology node name, the segment's bridge, or a pod "
                        "(pod/NAME); IFACE defaults to all of the namespace's interfaces")
    p.add_argument("--bgp", action="store_true", help="decode BGP only (filter: tcp port 179)")
    p.add_argument("--tls", action="store_true", help="decode TLS hellos only (filter: tcp)")
    p.add_argument("--filter", metavar="BPF", default="", help="a tcpdump filter expression (overrides the above)")
    p.add_argument("-w", dest="write", metavar="FILE.pcap", type=Path, help="write the packets to a pcap file")
    p.add_argument("-r", dest="read", metavar="FILE", type=Path, help="decode a pcap (or pcapng) file instead")
    p.add_argument("--count", type=int, metavar="N", help="stop after N packets")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--json", action="store_true", help="one JSON object per decoded event, then a summary object")
    p.add_argument("--no-summary", action="store_true", help="leave out the per-session summary at the end")
    p.set_defaults(run=run)


def bpf_for(bgp: bool, tls: bool, custom: str) -> str:
    if custom:
        return custom
    if bgp and not tls:
        return BGP_FILTER
    if tls:
        return "tcp"
    return ""


def run(args: argparse.Namespace) -> int:
    from orchestrator.capture import render, targets
    from orchestrator.capture.decoder import Decoder, Event
    from orchestrator.capture.run import Stop, run as run_capture
    from orchestrator.capture.sniff import Capture, CaptureSpec
    from orchestrator.errors import LabError

    if (args.target is None) == (args.read is None):
        raise LabError("give a NODE[:IFACE] to capture on, or -r FILE to decode a capture")
    if args.count is not None and args.count < 1 or args.duration is not None and args.duration <= 0:
        raise LabError("--count and --duration must be positive")
    both = not args.bgp and not args.tls
    decoder = Decoder(bgp=args.bgp or both, tls=args.tls or both, others=both or bool(args.filter))
    bpf = bpf_for(args.bgp, args.tls, args.filter)
    names: dict[str, str] = {}
    if args.read is not None:
        if not args.read.is_file():
            raise LabError(f"no such file: {args.read}")
        spec = CaptureSpec(None, bpf=bpf, count=args.count, read_file=args.read.resolve())
        where = str(args.read)
        try:
            from orchestrator import lab

            names = targets.names(lab.open_lab(args.topo, args.lab))  # names, if the lab is up
        except LabError:
            pass
    else:
        from orchestrator import lab

        running = lab.open_lab(args.topo, args.lab)
        target = targets.resolve(running, args.target)
        names = targets.names(running)
        spec = CaptureSpec(target.ns, target.iface, bpf, args.count)
        where = f"{target.label}:{target.iface} (namespace {target.ns})"

    stopper: list[Stop] = []

    def show(event: Event) -> None:
        try:
            print(render.json_line(event, names) if args.json else render.line(event, names), flush=True)
        except BrokenPipeError:  # e.g. `| head`: stop capturing, quietly
            sys.stdout = open(os.devnull, "w")
            if stopper:
                stopper[0]("output closed")

    def started(stop: Stop) -> None:
        stopper.append(stop)
        if args.read is None:
            ends = ", ".join(x for x in (f"{args.count} packets" if args.count else "",
                                         f"{args.duration:g} s" if args.duration else "", "Ctrl-C") if x)
            print(f"capturing on {where}" + (f", filter '{bpf}'" if bpf else "")
                  + (f", writing {args.write}" if args.write else "") + f"; stops on {ends}",
                  file=sys.stderr, flush=True)

    with ExitStack() as stack:
        out = stack.enter_context(open(args.write, "wb")) if args.write else None
        result = run_capture(Capture(spec), decoder, show, out, args.duration, started)
    st = result.stats
    if result.linktype is None and args.read is not None and st.exit_code not in (0, None):
        raise LabError("tcpdump could not read it: " + " ".join(st.messages))
    tail = (f"{result.records} packets" + (f" written to {args.write}" if args.write else "")
            + f"; stopped by {result.stopped_by}")
    if st.captured is not None:
        tail += f"; tcpdump: {st.captured} captured, {st.received} received by filter, {st.dropped} dropped by kernel"
    if args.json:
        doc = {"summary": render.summary_json(decoder, names), "packets": result.records,
               "stopped_by": result.stopped_by, "tcpdump": {"captured": st.captured, "received": st.received,
                                                              "dropped": st.dropped}}
        print(json.dumps(doc, sort_keys=True), flush=True)
    else:
        if not args.no_summary:
            for text in render.summary(decoder, names):
                print(text)
        print(tail, file=sys.stderr, flush=True)
    return 0
