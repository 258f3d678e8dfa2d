"""The workshop's shell blocks, read from its text at test time (the text is never copied here).

Prerequisites are indented code inside <details>; the demo's are fenced (```), indented by two
spaces, with the curl's continuation line not indented; step 6's `sleep 30` stands alone. A block
after "Sample of output" is output, not a command.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

WORKSHOP = Path(os.environ.get("GWLAB_WORKSHOP_TEXT", "/work/shared/reference/000_67861ae34c10e948.txt"))


@dataclass(frozen=True)
class Block:
    section: str  # "prerequisite 3", "demo 5", "clean-up 1", ...
    code: str


def _unindent(lines: list[str], width: int) -> str:
    return "\n".join(ln[width:] if ln[:width].strip() == "" else ln.lstrip() for ln in lines).strip("\n")


def blocks(text: str) -> list[Block]:
    lines = text.splitlines()
    found: list[Block] = []
    part, section, output_next, i = "", "", False, 0
    while i < len(lines):
        line, s = lines[i], lines[i].strip()
        if s.startswith("### "):
            part = s[4:].strip().lower()
        elif s.startswith("**PREREQUISITE"):
            part = "prerequisite"
        elif m := re.match(r"^(\d+)\.\s+<details>", s):
            section, output_next = f"{part} {m.group(1)}", False
        elif m := re.match(r"^#### (\d+)\. (.*)", s):
            section, output_next = f"{part} {m.group(1)} {m.group(2)[:20].strip()}", False
        elif "Sample of output" in s:
            output_next = True
        elif s.startswith("```"):
            body: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                body.append(lines[i])
                i += 1
            if not output_next and any(b.strip() for b in body):
                found.append(Block(section, _unindent(body, 2)))
            output_next = False
        elif line.startswith(" " * 8) and s and part == "prerequisite":
            body = []
            while i < len(lines) and (lines[i].startswith(" " * 8) or not lines[i].strip()):
                body.append(lines[i])
                i += 1
            if not output_next:
                found.append(Block(section, _unindent(body, 8)))
            output_next = False
            continue
        elif re.match(r"^sleep \d+$", s):
            found.append(Block(section, s))
        i += 1
    return found


def workshop_blocks() -> list[Block]:
    return blocks(WORKSHOP.read_text())


# Prepended to the script the tests run: `watch CMD` runs CMD until two outputs in a row agree
# (bounded), as a reader watches until the output settles; `sleep N` (the workshop's "wait for 30
# seconds" for the services and gateway to be ready) ends as soon as every Gateway is Programmed for
# its latest generation and each of its listeners' ports takes a TCP connection at its address from
# where the script runs, and after N seconds at most: the script never depends on how fast the lab is.
HARNESS = r"""
watch() {
  local prev="" out="" n=0
  while [ $n -lt 20 ]; do
    out=$(bash -c "$*" 2>&1); [ -n "$prev" ] && [ "$out" = "$prev" ] && break
    prev=$out; n=$((n+1)); command sleep 0.5
  done
  printf '%s\n' "$out"
}
sleep() {
  local end=$((SECONDS + ${1%s})) lines ready gen obs prog addr ports p
  while [ $SECONDS -lt $end ]; do
    ready=1
    lines=$(kubectl get gateways -A -o jsonpath='{range .items[*]}{.metadata.generation} {.status.conditions[?(@.type=="Programmed")].observedGeneration} {.status.conditions[?(@.type=="Programmed")].status} {.status.addresses[0].value} {.spec.listeners[*].port}{"\n"}{end}' 2>/dev/null) || ready=0
    [ -n "$lines" ] || ready=0
    while read -r gen obs prog addr ports; do
      if [ "$gen" != "$obs" ] || [ "$prog" != True ] || [ -z "$addr" ]; then ready=0; continue; fi
      for p in $ports; do timeout 1 bash -c "exec 3<>/dev/tcp/$addr/$p" 2>/dev/null || ready=0; done
    done <<< "$lines"
    [ $ready = 1 ] && return 0
    command sleep 0.2
  done
}
"""
