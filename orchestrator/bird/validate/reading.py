"""Reading what validate is given: the candidate file (readable, text, not empty) and a --routes FILE."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.bird import conftext


from orchestrator.bird.validate.report import Diagnostic

if TYPE_CHECKING:
    from orchestrator.bird.policy import FedRoute


def read_candidate(path: Path, display: str) -> tuple[str | None, list[Diagnostic]]:
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        return None, [Diagnostic("error", "unreadable", display, "is a directory, not a file",
                                 fix="give the path of the bird.conf file")]
    except OSError as exc:
        return None, [Diagnostic("error", "unreadable", display, f"cannot be read: {exc.strerror or exc}",
                                 fix="check the path and its permissions")]
    if b"\0" in raw:
        return None, [Diagnostic("error", "binary", display, "is a binary file, not a BIRD config",
                                 fix="give the bird.conf text file")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        return None, [Diagnostic("error", "binary", display, f"is not UTF-8 text (byte {exc.start}), "
                                 "not a BIRD config", line=line, fix="give the bird.conf text file")]
    return text, []


def content_problems(text: str, display: str) -> list[Diagnostic]:
    if not conftext.has_statements(text):
        what = "is empty" if not text.strip() else "holds only comments"
        return [Diagnostic("error", "empty", display, f"{what}: a router given it would stop every protocol "
                           "(BIRD: \"No protocol is specified in the config file\")",
                           fix="give the whole bird.conf (router id, protocols, filters)")]
    return []


@dataclass(frozen=True)
class RoutesSpec:
    entries: tuple[tuple[IPv4Network, tuple[str, ...]], ...]  # prefix, peers ("" = every peer)
    name: str = "--routes"

    def for_peer(self, names: tuple[str, ...]) -> list[FedRoute]:
        from orchestrator.bird.policy import FedRoute

        return [FedRoute(p) for p, peers in self.entries if not peers or set(peers) & set(names)]


def read_routes(path: Path, display: str) -> tuple[RoutesSpec | None, list[Diagnostic]]:
    """One route a line: `PREFIX [PEER...]` (PEER: a node or protocol name, or a neighbour address;
    none: every peer sends it); `#` starts a comment."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        msg = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, [Diagnostic("error", "routes-file", display, f"cannot be read: {msg}",
                                 fix="give a text file with one prefix a line")]
    entries: list[tuple[IPv4Network, tuple[str, ...]]] = []
    problems = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0]
        words = line.split()
        if not words:
            continue
        try:
            prefix = IPv4Network(words[0])
        except ValueError:
            col = raw.index(words[0]) + 1
            try:
                hint = f"write {IPv4Network(words[0], strict=False)}"
            except ValueError:
                hint = "write an IPv4 prefix such as 10.10.10.0/26"
            problems.append(Diagnostic("error", "routes-file", display,
                                       f"{words[0]!r} is not an IPv4 prefix with its host bits zero",
                                       n, col, raw, fix=hint))
            continue
        entries.append((prefix, tuple(words[1:])))
    if not entries and not problems:
        problems.append(Diagnostic("error", "routes-file", display, "holds no prefix",
                                   fix="write one prefix a line, e.g. 10.10.10.0/26"))
    return (RoutesSpec(tuple(entries), display) if not problems else None), problems


