"""A client of BIRD's control socket, speaking its line protocol directly (BIRD 1.6 and 2).

Each reply line is `NNNN-text` (more lines follow), `NNNN text` (the reply's last line),
` text` (continues the previous code) or `+text` (a spontaneous message). Codes 0xxx report
success, 1xxx/2xxx carry table rows and headings, 8xxx are run-time errors and 9xxx parse
errors (BIRD's doc/reply_codes). The socket speaks full keywords only: `birdc` expands
abbreviations such as `sh pro` itself before sending.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType

from orchestrator.errors import LabError

ASYNC = -1  # a `+text` line: birdc prints it as `>>> text`
UNKNOWN = -2  # a line in no known shape: birdc prints it as `??? <line>`

_CODE = re.compile(r"(\d{4})([ -])(.*)", re.S)
_VERSION = re.compile(r"BIRD (\S+) ready\.")


class BirdError(LabError):
    """The control socket could not be used, or a command failed when it had to succeed."""


@dataclass(frozen=True)
class ReplyLine:
    code: int
    text: str
    continuation: bool = False  # came as ` text`: birdc prints it even under code 0

    @property
    def printed(self) -> str | None:
        """This line as birdc prints it, or None when birdc prints nothing (code 0)."""
        if self.code == ASYNC:
            return f">>> {self.text}"
        if self.code == UNKNOWN:
            return f"??? <{self.text}>"
        if self.code == 0 and not self.continuation:
            return None
        return self.text


@dataclass(frozen=True)
class Reply:
    lines: list[ReplyLine]
    command: str = ""
    greeting: str = ""  # the server's greeting, e.g. "BIRD 1.6.8 ready." (when it was read)
    status: int = 0  # the exit status birdc gives this reply

    def output(self) -> BirdcOutput:
        """What `birdc COMMAND` prints for this reply (greeting first), and its exit status."""
        return BirdcOutput((self.greeting + "\n" if self.greeting else "") + self.text, self.status)

    @property
    def code(self) -> int:
        """The code of the reply's final line."""
        return self.lines[-1].code if self.lines else UNKNOWN

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def error(self) -> str | None:
        """The text of the first 8xxx/9xxx line, e.g. `broken.conf:5:3 syntax error`."""
        for line in self.lines:
            if line.code >= 8000:
                return line.text
        return None

    @property
    def text(self) -> str:
        """Exactly what birdc prints for this reply, one newline after each line."""
        return "".join(p + "\n" for p in (ln.printed for ln in self.lines) if p is not None)

    def codes(self) -> list[int]:
        """The distinct codes in order of appearance (e.g. [2, 22, 3] for a `configure timeout`)."""
        seen: list[int] = []
        for line in self.lines:
            if line.code not in seen:
                seen.append(line.code)
        return seen

    def raise_for_error(self) -> Reply:
        if self.error is not None:
            raise BirdError(f"BIRD refused `{self.command}`: {self.error}")
        return self


def parse_line(raw: str, previous_code: int) -> tuple[ReplyLine, bool]:
    """One socket line (without its newline) -> (line, is it the last line of the reply)."""
    if raw.startswith(" "):
        return ReplyLine(previous_code, raw[1:], continuation=True), False
    if raw.startswith("+"):
        return ReplyLine(ASYNC, raw[1:]), False
    m = _CODE.fullmatch(raw)
    if m is None:
        return ReplyLine(UNKNOWN, raw), False
    return ReplyLine(int(m.group(1)), m.group(3)), m.group(2) == " "


def parse_reply(raw: str, command: str = "") -> Reply:
    """Numbered socket lines (e.g. a saved transcript) -> Reply. Stops at the final line."""
    lines: list[ReplyLine] = []
    code = 0
    for text in raw.splitlines():
        line, last = parse_line(text, code)
        lines.append(line)
        code = line.code if line.code >= 0 else code
        if last:
            break
    return Reply(lines, command)


class BirdClient:
    """One connection to a BIRD control socket; use as a context manager."""

    def __init__(self, socket_path: str | Path, timeout: float = 5.0) -> None:
        self.socket_path = str(socket_path)
        self.timeout = timeout
        self._buf = b""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(self.socket_path)
        except OSError as e:
            sock.close()
            raise BirdError(f"cannot connect to BIRD control socket {self.socket_path}: "
                            f"{e.strerror or e} (is bird running with -s {self.socket_path}?)"
                            ) from e
        self._sock: socket.socket | None = sock
        hello = self._read_reply("(greeting)")
        if hello.code != 1:
            self.close()
            raise BirdError(f"{self.socket_path}: unexpected greeting {hello.text.strip()!r}")
        self.greeting = hello.lines[-1].text  # "BIRD 1.6.8 ready."

    @property
    def version(self) -> str:
        """`1.6.8`, `2.0.12`, ... from the greeting `BIRD 1.6.8 ready.`"""
        m = _VERSION.search(self.greeting)
        return m.group(1) if m else ""

    @property
    def dialect(self) -> str:
        """`1` for BIRD 1.x, `2` for BIRD 2.x and later (what binaries.bird_binaries() takes)."""
        return "1" if self.version.startswith("1.") else "2"

    def command(self, cmd: str) -> Reply:
        """Send one command (full keywords, no newline) and read its whole reply."""
        if "\n" in cmd or "\r" in cmd:
            raise ValueError(f"a BIRD command is one line: {cmd!r}")
        if self._sock is None:
            raise BirdError(f"{self.socket_path}: connection already closed")
        try:
            self._sock.sendall(cmd.encode("utf-8", "surrogateescape") + b"\n")
        except OSError as e:
            self.close()
            raise BirdError(f"{self.socket_path}: sending `{cmd}` failed: {e}") from e
        return self._read_reply(cmd)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> BirdClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _read_reply(self, cmd: str) -> Reply:
        lines: list[ReplyLine] = []
        code = 0
        while True:
            line, last = parse_line(self._read_line(cmd), code)
            lines.append(line)
            code = line.code if line.code >= 0 else code
            if last:
                return Reply(lines, cmd)

    def _read_line(self, cmd: str) -> str:
        assert self._sock is not None
        while b"\n" not in self._buf:
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError as e:
                # The rest of this reply may still come: the connection is unusable now.
                self.close()
                raise BirdError(f"{self.socket_path}: no reply to `{cmd}` "
                                f"within {self.timeout:g} s") from e
            except OSError as e:
                self.close()
                raise BirdError(f"{self.socket_path}: reading the reply to `{cmd}` "
                                f"failed: {e}") from e
            if not chunk:
                self.close()
                raise BirdError(f"{self.socket_path}: BIRD closed the connection during `{cmd}`")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\n", 1)
        return raw.decode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class BirdcOutput:
    text: str  # what birdc prints on stdout
    status: int  # birdc's exit status

    @property
    def data(self) -> bytes:
        """The bytes to write to stdout (BIRD's bytes, even where they are not UTF-8)."""
        return self.text.encode("utf-8", "surrogateescape")


def birdc(socket_path: str | Path, command: str, timeout: float = 5.0) -> BirdcOutput:
    """What `birdc -s SOCKET COMMAND` prints: the greeting, then the reply without codes."""
    return ask(socket_path, command, timeout).output()


def ask(socket_path: str | Path, command: str, timeout: float = 5.0) -> Reply:
    """One command on a fresh connection: the reply, with the greeting and birdc's exit status.

    The exit status follows the version that answers: birdc 1.6 exits 0 even on an error
    reply, birdc 2 exits 1 when the last code is 8000 or more.
    """
    with BirdClient(socket_path, timeout) as client:
        reply = client.command(command)
        status = 1 if client.dialect != "1" and reply.code >= 8000 else 0
        return replace(reply, greeting=client.greeting, status=status)
