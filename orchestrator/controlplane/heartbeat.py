"""heartbeat.py --node N --source IP --to IP --port P --interval S: a node's heartbeat, the kubelet's
Lease renewal reduced to one UDP datagram a period, sent from the node's segment address to the
control plane's over the lab's segment.

Started by `up` (orchestrator.controlplane.heartbeats) inside the node's namespace as a plain script
(`python -I -S heartbeat.py`: only the standard library), unprivileged (the user nobody, no
capabilities, no-new-privs), recorded like the lab's other processes and stopped by its PID. It never
listens, and it cannot send from the root namespace: it binds its socket to the node's segment
address first, an address that exists only inside the node's namespace."""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import time

MAX_LIFETIME = 7 * 24 * 3600.0  # bounded: a sender outliving its lab by a week stops by itself


def datagram(node: str, seq: int) -> bytes:
    """One beat, as nodelife.parse_beat reads it (this script imports nothing of the project)."""
    return f"gwlab-heartbeat 1 {node} {seq}".encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="heartbeat.py")
    parser.add_argument("--node", required=True)
    parser.add_argument("--source", required=True, help="the node's segment address")
    parser.add_argument("--to", required=True, help="the control plane's segment address")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--interval", type=float, required=True)
    args = parser.parse_args(argv)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((args.source, 0))
    except OSError as exc:
        print(f"heartbeat: cannot bind {args.source} ({exc}): not inside node {args.node}'s namespace", flush=True)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    deadline = time.monotonic() + MAX_LIFETIME
    seq = 0
    while time.monotonic() < deadline:
        try:
            sock.sendto(datagram(args.node, seq), (args.to, args.port))
        except OSError:
            pass  # the node's link is down (isolated): the beat is lost, as on a cut cable
        seq += 1
        time.sleep(args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
