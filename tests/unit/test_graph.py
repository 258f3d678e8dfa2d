"""gwlab graph: the topology's picture in mermaid, dot and SVG."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from orchestrator import PROJECT_ROOT
from orchestrator.graph import model, render
from orchestrator.topology import load_named


def test_the_picture_names_the_topology_nodes_links_and_addresses() -> None:
    topo = load_named(None, None)
    g = model.static(topo)
    text = render.mermaid(g)
    assert text.splitlines()[3] == "flowchart TB"
    for n in topo.routers:
        assert f"{n.interface} {n.address}" in text and n.name in text
        assert f'{model.node_id(n.name)} ---|"{n.interface} - {n.bridge_port}"| {model.node_id(topo.bridge)}' in text
    assert f"bridge {topo.segment}" in text


def test_dot_and_svg_hold_every_node_and_edge() -> None:
    g = model.static(load_named(None, None))
    g.edges.append(model.Edge(model.node_id("bastion"), model.node_id("calico-worker"), "iBGP Established", "bgp-up"))
    dot = render.dot(g)
    assert dot.startswith("graph gwlab {") and dot.count(" -- ") == len(g.edges)
    root = ET.fromstring(render.svg(g))
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{ns}g")) == len(g.nodes)
    assert len(root.findall(f"{ns}line")) == len(g.edges)
    texts = {t.text for t in root.iter(f"{ns}text")}
    assert "calico-worker2 (worker2)" in texts and "iBGP Established" in texts


def test_graph_verb_writes_the_format_its_file_names(tmp_path: Path) -> None:
    out = tmp_path / "lab.svg"
    run = subprocess.run([sys.executable, "-m", "orchestrator", "graph", "-w", str(out)], cwd=PROJECT_ROOT,
                         capture_output=True, text=True, check=True)
    assert run.stdout.startswith(f"wrote {out} (svg, 5 nodes, 4 edges)")
    ET.parse(out)
