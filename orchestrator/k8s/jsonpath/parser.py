"""The template parser, a port of client-go's (quirks included)."""

from __future__ import annotations

import re

from orchestrator.k8s.jsonpath.nodes import (
    ActionItem,
    FieldNode,
    FilterNode,
    IdentifierNode,
    Item,
    LiteralNode,
    Node,
    RangeItem,
    RecursiveNode,
    SliceNode,
    TextItem,
    UnionNode,
    WildcardNode,
)


_SLICE = re.compile(r"^(-?\d*)(:-?\d*)?(:-?\d*)?$")
_DICT_KEY = re.compile(r"^'([^']*)'$")
_FILTER = re.compile(r"^([^!<>=]+)([!<>=~]+)(.+?)$")
_TERMINATORS = set(" \t\r\n.,[]$@{}")


class _ActionParser:
    def __init__(self, text: str):
        self.s, self.pos = text, 0

    def parse(self) -> tuple[Node, ...]:
        nodes: list[Node] = []
        s = self.s
        while self.pos < len(s):
            if s.startswith("[?(", self.pos):
                nodes.append(self._filter())
            elif s.startswith("..", self.pos):
                if nodes and isinstance(nodes[-1], RecursiveNode):
                    raise ValueError("invalid multiple recursive descent")
                self.pos += 2
                nodes.append(RecursiveNode())
                if self.pos < len(s) and _is_alnum(s[self.pos]):
                    nodes.append(self._field())
            else:
                c = s[self.pos]
                if c in "\r\n":
                    raise ValueError("unclosed action")
                if c in " \t@$":
                    self.pos += 1
                elif c == "[":
                    nodes.append(self._array())
                elif c in "\"'":
                    nodes.append(LiteralNode(self._quoted(c)))
                elif c == ".":
                    self.pos += 1
                    nodes.append(self._field())
                elif c in "+-" or c.isdigit():
                    nodes.append(self._number())
                elif _is_alnum(c):
                    nodes.append(self._identifier())
                else:
                    raise ValueError(f"unrecognized character in action: {c!r}")
        return tuple(nodes)

    def _field(self) -> Node:
        start = self.pos
        while self.pos < len(self.s):
            c = self.s[self.pos]
            if c == "\\":
                self.pos += 2
                continue
            if c in _TERMINATORS:
                break
            self.pos += 1
        text = self.s[start : self.pos]
        return WildcardNode() if text == "*" else FieldNode(text.replace("\\", ""))

    def _identifier(self) -> Node:
        start = self.pos
        while self.pos < len(self.s) and self.s[self.pos] not in _TERMINATORS:
            self.pos += 1
        text = self.s[start : self.pos]
        if text in ("true", "false"):
            return LiteralNode(text == "true")
        return IdentifierNode(text)

    def _number(self) -> Node:
        start = self.pos
        if self.s[self.pos] in "+-":
            self.pos += 1
        while self.pos < len(self.s) and (self.s[self.pos].isdigit() or self.s[self.pos] == "."):
            self.pos += 1
        text = self.s[start : self.pos]
        try:
            return LiteralNode(int(text))
        except ValueError:
            pass
        try:
            return LiteralNode(float(text))
        except ValueError:
            raise ValueError(f"cannot parse number {text}") from None

    def _quoted(self, quote: str) -> str:
        start = self.pos
        self.pos += 1
        while True:
            if self.pos >= len(self.s) or self.s[self.pos] == "\n":
                raise ValueError("unterminated quoted string")
            c = self.s[self.pos]
            self.pos += 1
            if c == quote and self.s[self.pos - 2] != "\\":
                break
        return _unquote(self.s[start : self.pos])

    def _array(self) -> Node:
        end = self.s.find("]", self.pos)
        newline = self.s.find("\n", self.pos)
        if end < 0 or 0 <= newline < end:
            raise ValueError("unterminated array")
        text = self.s[self.pos + 1 : end]
        self.pos = end + 1
        if text == "*":
            text = ":"
        parts = text.split(",")
        if len(parts) > 1:
            return UnionNode(tuple(_ActionParser(f"[{p.strip()}]").parse() for p in parts))
        key = _DICT_KEY.match(text)
        if key:
            return FieldNode(key.group(1))
        m = _SLICE.match(text)
        if not m:
            raise ValueError(f"invalid array index {text}")
        start_s, end_s, step_s = m.group(1), m.group(2), m.group(3)
        start = _array_int(start_s)
        if end_s is None:
            return SliceNode(start, None, None, single=True)
        return SliceNode(start, _array_int(end_s[1:]), _array_int((step_s or ":")[1:]), single=False)

    def _filter(self) -> Node:
        self.pos += 3
        start = self.pos
        in_quote, closed, pair = False, False, ""
        while True:
            if self.pos >= len(self.s) or self.s[self.pos] == "\n":
                raise ValueError("unterminated filter")
            c = self.s[self.pos]
            self.pos += 1
            if c in "\"'":
                if not in_quote:
                    in_quote, pair = True, c
                elif self.s[self.pos - 2] != "\\" and c == pair:
                    closed = True
            elif c == ")" and in_quote == closed:
                break
        if self.pos >= len(self.s) or self.s[self.pos] != "]":
            raise ValueError("unclosed array expect ]")
        text = self.s[start : self.pos - 1]
        self.pos += 1
        m = _FILTER.match(text)
        if not m:
            return FilterNode(_ActionParser(text).parse(), "exists", ())
        operator = m.group(2)
        if operator not in ("==", "!=", "<", ">", "<=", ">="):
            raise ValueError(f"unrecognized filter operator {operator}")
        return FilterNode(_ActionParser(m.group(1)).parse(), operator, _ActionParser(m.group(3)).parse())


def _array_int(text: str) -> int | None:
    if text == "":
        return None
    if text == "-":
        raise ValueError("array index - is not a number")
    return int(text)


def _is_alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdigit()


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
_NUMERIC_ESCAPE = re.compile(r"x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}")


def _unquote(quoted: str) -> str:
    """Go's strconv.UnquoteChar escapes, for single- or double-quoted strings."""
    body, out, i = quoted[1:-1], [], 0
    while i < len(body):
        if body[i] != "\\":
            out.append(body[i])
            i += 1
            continue
        esc = body[i + 1 : i + 2]
        numeric = _NUMERIC_ESCAPE.match(body, i + 1)
        if esc in _ESCAPES:
            out.append(_ESCAPES[esc])
        elif esc in ("\\", "'", '"'):
            out.append(esc)
        elif numeric:
            text = numeric.group(0)
            out.append(chr(int(text, 8) if text[0].isdigit() else int(text[1:], 16)))
            i = numeric.end()
            continue
        else:
            raise ValueError(f"unquote string {quoted} error invalid syntax")
        i += 2
    return "".join(out)


def parse_template(template: str) -> list[Item]:
    root: list[Item] = []
    stack: list[list[Item]] = [root]
    pos = 0
    while pos < len(template):
        open_at = template.find("{", pos)
        if open_at < 0:
            stack[-1].append(TextItem(template[pos:]))
            break
        if open_at > pos:
            stack[-1].append(TextItem(template[pos:open_at]))
        close_at = _find_close(template, open_at + 1)
        nodes = _ActionParser(template[open_at + 1 : close_at]).parse()
        pos = close_at + 1
        if nodes and isinstance(nodes[0], IdentifierNode) and nodes[0].name == "range":
            rng = RangeItem(nodes[1:])
            stack[-1].append(rng)
            stack.append(rng.body)
        elif nodes and isinstance(nodes[0], IdentifierNode) and nodes[0].name == "end":
            if len(stack) == 1:
                raise ValueError("not in range, nothing to end")
            stack.pop()
        else:
            for node in nodes:
                if isinstance(node, IdentifierNode):
                    raise ValueError(f"unrecognized identifier {node.name}")
            stack[-1].append(ActionItem(nodes))
    return root


def _find_close(template: str, pos: int) -> int:
    """Index of the '}' closing an action, skipping quoted strings and filters."""
    quote = ""
    while pos < len(template):
        c = template[pos]
        if c in "\r\n" and not quote:
            break
        if quote:
            if c == quote and template[pos - 1] != "\\":
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "}":
            return pos
        pos += 1
    raise ValueError("unclosed action")

