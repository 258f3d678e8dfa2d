"""Output of commands run inside the lab's containers, read back into the shapes the shared checks use.

- `birdc -v -s SOCKET CMD` prints BIRD's reply lines with their codes (`NNNN-text`, `NNNN text`),
  continuations indented by five spaces instead of one, no line for code 0, and the greeting first;
  a command birdc itself refuses is printed without a code. Read back, it is the Reply the control
  socket gave (orchestrator.bird.birdc), minus nothing the checks read.
- `ip -j route show exact PREFIX table main`: JSON, one object per route.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv4Network

from orchestrator.bird.birdc import ASYNC, Reply, ReplyLine, parse_line
from orchestrator.engines.base import KernelRoute

CLIENT_REFUSED = 9000  # birdc refused the command itself (no code on the line): a parse error
VERBOSE_CONTINUATION = "     "


def reply_from_verbose(output: str, command: str) -> Reply:
    """`birdc -v` output (greeting included) -> the Reply BIRD sent."""
    lines: list[ReplyLine] = []
    code = 0
    final = False
    for raw in output.splitlines()[1:]:  # the first line is the greeting, 0001 BIRD x.y.z ready.
        if raw.startswith(VERBOSE_CONTINUATION):
            raw = " " + raw[len(VERBOSE_CONTINUATION):]
        if raw.startswith(">>> "):  # a spontaneous message, as birdc prints it
            lines.append(ReplyLine(ASYNC, raw[4:]))
            continue
        line, last = parse_line(raw, code)
        if line.code < 0 and not raw.startswith(("+", " ")):
            line = ReplyLine(CLIENT_REFUSED, raw)
            last = True
        lines.append(line)
        code = line.code if line.code >= 0 else code
        final = last
    if lines and not final:
        lines.append(ReplyLine(0, ""))  # the `0000 ` line birdc does not print
    return Reply(lines, command)



def verbose_greeting(output: str) -> str:
    """The greeting as plain birdc prints it, from `birdc -v` output (`0001 BIRD 1.6.8 ready.`)."""
    first = output.splitlines()[0] if output else ""
    line, _ = parse_line(first, 0)
    return line.text if line.code >= 0 else first


def kernel_routes(output: str, dst: IPv4Network) -> list[KernelRoute]:
    """`ip -j route show exact DST table main` -> the routes, their ECMP next hops and type."""
    out = []
    for r in json.loads(output or "[]"):
        if r.get("dst") not in (str(dst), str(dst.network_address)):
            continue
        gws = [IPv4Address(r["gateway"])] if r.get("gateway") else []
        gws += [IPv4Address(h["gateway"]) for h in r.get("nexthops", []) if h.get("gateway")]
        out.append(KernelRoute(dst, tuple(sorted(gws)), str(r.get("type", "unicast"))))
    return out
