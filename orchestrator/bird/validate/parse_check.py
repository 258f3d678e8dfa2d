"""BIRD's own parser (`bird -p`) on a copy of the candidate: its error as file:line:col with the line,
a caret and a fix (the other dialect, a missing `;`, an undefined symbol); the diff with the running config."""

from __future__ import annotations

import difflib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from orchestrator.bird import binaries, conftext
from orchestrator.bird.validate.report import DIALECT_NAMES, Diagnostic
from orchestrator.errors import LabError


def _bird_parse(bird: Path, conf: Path) -> tuple[bool, str]:
    out = subprocess.run([str(bird), "-p", "-c", str(conf)], capture_output=True, text=True, check=False,
                         timeout=30)
    return out.returncode == 0, (out.stderr or out.stdout).strip()


def _error_location(message: str, copy: Path) -> tuple[str | None, int | None, int | None, str]:
    """`bird: FILE:LINE:COL text` -> (file, line, col, text); file None when it is the copy."""
    body = message.splitlines()[-1] if message else ""
    body = body.removeprefix("bird: ")
    prefix = str(copy) + ":"
    rest = body[len(prefix):] if body.startswith(prefix) else None
    file: str | None = None
    if rest is None:
        head, sep, tail = body.partition(" ")
        parts = head.rsplit(":", 2)
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            return parts[0], int(parts[1]), int(parts[2]), tail
        return "?", None, None, body
    head, _, tail = rest.partition(" ")
    nums = head.split(":")
    if len(nums) == 2 and all(n.isdigit() for n in nums):
        return file, int(nums[0]), int(nums[1]), tail
    return file, None, None, rest


def parse_check(text: str, dialect: str, display: str, source_dir: Path | None, node: str = "the router"
                ) -> list[Diagnostic]:
    """`bird -p -c` of the router's dialect on a copy (logs redirected, includes absolute); its
    error as file:line:col with the line and a caret, and which dialect the file is in if not this one."""
    bird = binaries.bird_binaries(dialect).bird
    work = Path(tempfile.mkdtemp(prefix="gwlab-parse-"))
    try:
        copy = conftext.redirect(text, source_dir, work)
        conf = work / "candidate.conf"
        conf.write_text(copy.text)
        ok, message = _bird_parse(bird, conf)
        if ok:
            return []
        file, line, col, what = _error_location(message, conf)
        source: str | None = None
        if file is None:
            file = display
            lines = text.splitlines()
            if line is not None and col is not None:
                col = copy.original_col(line, col)
            if line is not None and 1 <= line <= len(lines):
                source = lines[line - 1]
        elif line is not None:
            try:
                source = Path(file).read_text(errors="replace").splitlines()[line - 1]
            except (OSError, IndexError):
                source = None
        other = "2" if dialect == "1" else "1"
        fix = "correct the line (BIRD stops at the first error)"
        diags = []
        try:
            other_bird = binaries.bird_binaries(other).bird
        except LabError:
            other_bird = None
        if other_bird is not None and _bird_parse(other_bird, conf)[0]:
            diags.append(Diagnostic(
                "error", "dialect", display,
                f"this is a {DIALECT_NAMES[other]} config, but {node} runs {DIALECT_NAMES[dialect]} "
                f"({DIALECT_NAMES[dialect]} stops at line {line}: {what})", line, col, source,
                fix=f"write it in {DIALECT_NAMES[dialect]}'s dialect" + (
                    " (channel options such as import/export go back into the protocol)" if dialect == "1"
                    else " (import/export go into an ipv4 { } channel)")
                + (", or run the bastion on BIRD 2 (`gwlab up --bastion-bird 2`)" if dialect == "1" else "")))
            return diags
        if not conftext.looks_like_bird(text):
            return [Diagnostic("error", "not-bird", display,
                               f"is not a BIRD config: no line starts like a BIRD statement (protocol, filter, "
                               f"router id, ...); BIRD says: {what}", line, col, source,
                               fix="give the router's bird.conf")]
        if file == display and line is not None and "syntax error" in what:
            fix = _semicolon_hint(text, line, col) or fix
        if file == display:
            what, fix = _undefined(text, what, source, col, fix)
        return [Diagnostic("error", "parse", file, what, line, col, source, fix=fix)]
    finally:
        shutil.rmtree(work, ignore_errors=True)


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _undefined(text: str, what: str, source: str | None, col: int | None, fix: str) -> tuple[str, str]:
    """BIRD 1.6 says `No such filter.`, BIRD 2 `syntax error, unexpected CF_SYM_UNDEFINED`: name the
    symbol and list what the config defines."""
    if source is None or col is None or not ("CF_SYM_UNDEFINED" in what or what.startswith("No such")):
        return what, fix
    m = _WORD.match(source, col - 1)
    if m is None:
        return what, fix
    word = m.group(0)
    before = source[:col - 1].split()
    kind = before[-1] if before and before[-1] in ("filter", "function", "table", "template", "from") else ""
    masked = conftext.mask_comments(text)
    kinds = {"filter": "filter", "function": "function", "table": "table", "template": "template",
             "from": "template"}
    defined = kinds.get(kind, "filter")
    names = sorted(set(re.findall(rf"^\s*{defined}\s+(?:bgp\s+)?([A-Za-z_][A-Za-z0-9_]*)", masked, re.M)))
    message = f"{defined if kind else 'symbol'} `{word}` is not defined (BIRD: {what.rstrip('.')})"
    hint = f"define {defined} {word}, or use a defined one" + (f": {', '.join(names)}" if names else "")
    return message, hint


def _semicolon_hint(text: str, line: int, col: int | None) -> str:
    """BIRD reports a missing `;` at the next token: when that token starts its line, point at the
    statement before it."""
    lines = conftext.mask_comments(text).splitlines()
    if not 1 <= line <= len(lines) or col is None or lines[line - 1][:col - 1].strip():
        return ""
    for n in range(line - 1, 0, -1):
        prev = lines[n - 1].rstrip()
        if prev.strip():
            if prev[-1] in ";{}":
                return ""
            return f"line {n} ends without `;` (`{prev.strip()}`): add it"
    return ""


def unified_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        old_name, new_name))


