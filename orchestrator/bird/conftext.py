"""Reading a bird.conf as text, without parsing it (BIRD itself is the parser).

A copy of a candidate that BIRD parses or runs outside its router must not write where the router
writes: BIRD opens `log "FILE"` and `mrtdump "FILE"` while it parses, so the copy gets those
redirected into a scratch directory, and relative `include`s made absolute (BIRD resolves them from
the including file's directory). Lines are kept, so BIRD's line numbers hold; the column shifts
of rewritten lines are recorded to map BIRD's columns back to the original.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

_DIRECTIVE = re.compile(r'\b(log|mrtdump|include)(\s+)"([^"\n]*)"')
_STATEMENT = re.compile(
    r"^\s*(protocol|filter|function|template|router\s+id|log|define|table|include|debug|"
    r"timeformat|roa|mrtdump|listen|graceful\s+restart|attribute|ipv4\s+table|ipv6\s+table|"
    r"watchdog|hostname|eval|cli|mpls)\b", re.M)


def mask_comments(text: str) -> str:
    """The text with `# ...` and `/* ... */` comments blanked (same length, newlines kept)."""
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        c = text[i]
        if in_string:
            out.append(c)
            if c == '"' or c == "\n":
                in_string = False
            i += 1
        elif c == '"':
            in_string = True
            out.append(c)
            i += 1
        elif c == "#":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def has_statements(text: str) -> bool:
    return bool(mask_comments(text).strip())


def looks_like_bird(text: str) -> bool:
    """Whether any line starts like a BIRD statement (after comments are removed)."""
    return bool(_STATEMENT.search(mask_comments(text)))


@dataclass(frozen=True)
class Redirected:
    text: str
    shifts: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # line -> [(col, delta)]
    redirected: tuple[str, ...] = ()  # the original paths that were redirected

    def original_col(self, line: int, col: int) -> int:
        """BIRD's column on the copy -> the column on the original line."""
        for start, delta in sorted(self.shifts.get(line, []), reverse=True):
            if col > start:
                col -= delta
        return max(col, 1)


def redirect(text: str, source_dir: Path | None, scratch_dir: Path) -> Redirected:
    """A copy whose log/mrtdump files go to `scratch_dir` and whose relative includes are absolute."""
    masked = mask_comments(text)
    pieces: list[str] = []
    shifts: dict[int, list[tuple[int, int]]] = {}
    redirected: list[str] = []
    pos = 0
    for m in _DIRECTIVE.finditer(masked):
        keyword, path = m.group(1), m.group(3)
        if keyword == "include":
            if path.startswith("/") or source_dir is None:
                continue
            new = str(source_dir / path)
        else:
            new = str(scratch_dir / f"{keyword}.{len(redirected)}")
            redirected.append(path)
        start = m.start(3)
        pieces.append(text[pos:start] + new)
        pos = m.end(3)
        line = text.count("\n", 0, start) + 1
        col = start - (text.rfind("\n", 0, start) + 1) + 1
        shifts.setdefault(line, []).append((col, len(new) - len(path)))
    pieces.append(text[pos:])
    return Redirected("".join(pieces), shifts, tuple(redirected))


_LOCAL = re.compile(r"\blocal\s+(\d+\.\d+\.\d+\.\d+)")
_ROUTER_ID = re.compile(r"\brouter\s+id\s+(\d+\.\d+\.\d+\.\d+)")
_IFACE = re.compile(r'\binterface\s+"([A-Za-z0-9_.-]{1,15})"')


def guess_local_address(text: str) -> IPv4Address | None:
    """The address BGP sessions are made from (`local X as N`), else the router id."""
    masked = mask_comments(text)
    for pattern in (_LOCAL, _ROUTER_ID):
        m = pattern.search(masked)
        if m:
            try:
                return IPv4Address(m.group(1))
            except ValueError:
                continue
    return None


def guess_interface(text: str) -> str | None:
    """The first plain interface name the config names (e.g. `interface "eth1"` of protocol direct)."""
    m = _IFACE.search(mask_comments(text))
    return m.group(1) if m else None


_PREFIX = re.compile(r"(?<![\d.])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})/(\d{1,2})(?![\d])")


def mentioned_prefixes(text: str) -> list[IPv4Network]:
    """Every IPv4 prefix written in the config (outside comments), e.g. those its filters match."""
    out: list[IPv4Network] = []
    for m in _PREFIX.finditer(mask_comments(text)):
        try:
            net = IPv4Network(f"{m.group(1)}/{m.group(2)}", strict=False)
        except ValueError:
            continue
        if net not in out:
            out.append(net)
    return out


_NEIGHBOR = re.compile(r"\bneighbor\s+(\d+\.\d+\.\d+\.\d+)")


def neighbor_addresses(text: str) -> list[IPv4Address]:
    """The IPv4 BGP neighbours written in the config (`neighbor X as N`), in order, once each."""
    out: list[IPv4Address] = []
    for m in _NEIGHBOR.finditer(mask_comments(text)):
        try:
            ip = IPv4Address(m.group(1))
        except ValueError:
            continue
        if ip not in out:
            out.append(ip)
    return out
