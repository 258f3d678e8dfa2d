"""A Graph as mermaid (`flowchart`), Graphviz dot, or SVG laid out here in layers (no external tool)."""

from __future__ import annotations

from html import escape

from orchestrator.graph.model import Edge, Graph, Node

MERMAID_EDGE = {"link": "---", "bgp-up": "-.-", "bgp-down": "-.-", "route": "-->", "path": "==>"}
DOT_STYLE = {"link": 'penwidth=2', "bgp-up": 'style=dashed color="#2a7d2a"', "bgp-down": 'style=dashed color="#c0392b"',
             "route": 'color="#1f5fa8" arrowhead=normal', "path": 'color="#8e44ad" penwidth=2 arrowhead=normal'}
SVG_STROKE = {"link": ("#444", "", 2), "bgp-up": ("#2a7d2a", "6,4", 1.5), "bgp-down": ("#c0392b", "6,4", 1.5),
              "route": ("#1f5fa8", "", 1), "path": ("#8e44ad", "", 2)}
FILL = {"bastion": "#fdebd0", "router": "#d6eaf8", "segment": "#eeeeee", "route": "#e8f6f3", "pod": "#fef9e7",
        "gateway": "#f4ecf7"}


def _q(text: str) -> str:
    return text.replace('"', "'")


def mermaid(g: Graph) -> str:
    out = ["---", f"title: {g.title}", "---", "flowchart TB"]
    for n in g.nodes:
        out.append(f'    {n.id}["{"<br/>".join(_q(x) for x in n.lines)}"]')
    for e in g.edges:
        arrow = MERMAID_EDGE[e.style]
        out.append(f"    {e.a} {arrow}|\"{_q(e.label)}\"| {e.b}" if e.label else f"    {e.a} {arrow} {e.b}")
    for i, e in enumerate(g.edges):
        if e.style == "bgp-down":
            out.append(f"    linkStyle {i} stroke:#c0392b")
        elif e.style == "bgp-up":
            out.append(f"    linkStyle {i} stroke:#2a7d2a")
    for kind, color in FILL.items():
        ids = [n.id for n in g.nodes if n.kind == kind]
        if ids:
            out.append(f"    classDef {kind} fill:{color},stroke:#555")
            out.append(f"    class {','.join(ids)} {kind}")
    return "\n".join(out) + "\n"


def dot(g: Graph) -> str:
    out = ["graph gwlab {", f'    label="{_q(g.title)}"; labelloc=t; rankdir=TB;',
           '    node [shape=box style="rounded,filled" fontname="Helvetica"]; edge [fontname="Helvetica" fontsize=10];']
    for layer in sorted({n.layer for n in g.nodes}):
        ids = " ".join(n.id for n in g.nodes if n.layer == layer)
        out.append(f"    {{ rank=same; {ids} }}")
    for n in g.nodes:
        label = "\\n".join(_q(x) for x in n.lines)
        out.append(f'    {n.id} [label="{label}" fillcolor="{FILL[n.kind]}"];')
    for e in g.edges:
        label = f' label="{_q(e.label)}"' if e.label else ""
        directed = " dir=forward" if e.style in ("route", "path") else ""
        out.append(f"    {e.a} -- {e.b} [{DOT_STYLE[e.style]}{directed}{label}];")
    out.append("}")
    return "\n".join(out) + "\n"


def _size(n: Node) -> tuple[float, float]:
    return max(len(x) for x in n.lines) * 7.2 + 24, len(n.lines) * 16 + 14


def svg(g: Graph) -> str:
    """Layers top to bottom, nodes spread evenly in each; straight edges with their labels."""
    layers = sorted({n.layer for n in g.nodes})
    rows = [[n for n in g.nodes if n.layer == layer] for layer in layers]
    gap_x, gap_y, top = 40.0, 110.0, 50.0
    widths = [sum(_size(n)[0] for n in row) + gap_x * (len(row) - 1) for row in rows]
    width = max(widths + [600.0]) + 2 * gap_x
    pos: dict[str, tuple[float, float, float, float]] = {}
    y = top
    for row, w in zip(rows, widths):
        x = (width - w) / 2
        height = max(_size(n)[1] for n in row)
        for n in row:
            nw, nh = _size(n)
            pos[n.id] = (x, y, nw, nh)
            x += nw + gap_x
        y += height + gap_y
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{y:.0f}" '
           f'font-family="Helvetica, Arial, sans-serif" font-size="12">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
           f'<text x="{gap_x}" y="24" font-size="15" font-weight="bold">{escape(g.title)}</text>']
    for e in g.edges:
        out += _svg_edge(e, pos)
    for n in g.nodes:
        x, y0, nw, nh = pos[n.id]
        out.append(f'<g class="{n.kind}"><rect x="{x:.1f}" y="{y0:.1f}" width="{nw:.1f}" height="{nh:.1f}" rx="8" '
                   f'fill="{FILL[n.kind]}" stroke="#555"/>')
        for i, line in enumerate(n.lines):
            weight = ' font-weight="bold"' if i == 0 else ""
            out.append(f'<text x="{x + nw / 2:.1f}" y="{y0 + 22 + 16 * i:.1f}" text-anchor="middle"{weight}>'
                       f"{escape(line)}</text>")
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _svg_edge(e: Edge, pos: dict[str, tuple[float, float, float, float]]) -> list[str]:
    ax, ay, aw, ah = pos[e.a]
    bx, by, bw, bh = pos[e.b]
    x1, y1 = ax + aw / 2, (ay + ah if by > ay else ay if by < ay else ay + ah / 2)
    x2, y2 = bx + bw / 2, (by if by > ay else by + bh if by < ay else by + bh / 2)
    color, dash, width = SVG_STROKE[e.style]
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    marker = ' marker-end="url(#arrow)"' if e.style in ("route", "path") else ""
    out = [f'<line class="{e.style}" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{color}" '
           f'stroke-width="{width}"{dashes}{marker}/>']
    if e.label:
        out.append(f'<text x="{(x1 + x2) / 2 + 4:.1f}" y="{(y1 + y2) / 2 - 3:.1f}" font-size="10" fill="{color}">'
                   f"{escape(e.label)}</text>")
    return out


RENDERERS = {"mermaid": mermaid, "dot": dot, "svg": svg}
