"""The package's shape (docs/ARCHITECTURE.md): no import loops, and no import from a higher floor
without a comment at the import saying why. Imports inside functions and under TYPE_CHECKING count."""

from __future__ import annotations

import ast
from pathlib import Path

from orchestrator import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "orchestrator"

# Lowest first. A module's floor is that of the longest prefix naming it.
FLOORS: list[tuple[str, ...]] = [
    ("orchestrator.errors", "orchestrator.safeyaml", "orchestrator.fsutil", "orchestrator.rundir", "orchestrator.state",
     "orchestrator.topology", "orchestrator.topology_gen", "orchestrator.templates", "orchestrator.pki",
     "orchestrator.report", "orchestrator.manifests", "orchestrator.columns", "orchestrator.timing"),
    ("orchestrator.bird", "orchestrator.calico", "orchestrator.k8s", "orchestrator.echo", "orchestrator.cluster",
     "orchestrator.envoy", "orchestrator.apiserver", "orchestrator.controlplane.admission",
     "orchestrator.controlplane.objects", "orchestrator.controlplane.writeback", "orchestrator.controlplane.written",
     "orchestrator.controlplane.nodelife", "orchestrator.controlplane.heartbeat"),
    ("orchestrator.engines.netns.namespaces", "orchestrator.engines.netns.rtnl",
     "orchestrator.engines.netns.neighbours", "orchestrator.engines.netns.procs",
     "orchestrator.engines.netns.teardown", "orchestrator.engines.netns.host", "orchestrator.engines.netns.network",
     "orchestrator.impair", "orchestrator.controlplane.client", "orchestrator.controlplane.process",
     "orchestrator.controlplane.heartbeats",
     "orchestrator.engines.netns.records"),
    ("orchestrator.engines", "orchestrator.controlplane"),
    ("orchestrator.lab", "orchestrator.checks"),
    ("orchestrator.bastion", "orchestrator.demo", "orchestrator.verification", "orchestrator.capture",
     "orchestrator.faults", "orchestrator.shell", "orchestrator.graph", "orchestrator.repair"),
    ("orchestrator.runbook",),
    ("orchestrator.cli", "orchestrator.__main__"),
]



def _name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(module: str) -> list[tuple[str, int]]:
    """(imported project module, line of the import statement)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name not in (module, "orchestrator"):
                found.append((name, node.lineno))
    return found


GRAPH = {m: _imports(m) for m in MODULES}


def _floor(module: str) -> int:
    best, floor = -1, -1
    for n, prefixes in enumerate(FLOORS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, floor = len(p), n
    return floor


def _loops() -> list[set[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for root in sorted(GRAPH):
        if root in index:
            continue
        work = [(root, iter(sorted({t for t, _ in GRAPH[root]})))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted({t for t, _ in GRAPH[w]}))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    group = set()
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        group.add(w)
                        if w == v:
                            break
                    if len(group) > 1:
                        groups.append(group)
    return groups


def test_every_module_has_a_floor() -> None:
    assert [m for m in MODULES if m != "orchestrator" and _floor(m) < 0] == []


def test_no_import_loops() -> None:
    assert _loops() == []


def test_no_upward_import_without_a_comment_saying_why() -> None:
    bad = []
    for module, imports in GRAPH.items():
        lines = MODULES[module].read_text().splitlines()
        for target, line in imports:
            if _floor(target) > _floor(module):
                said = "#" in lines[line - 1] or lines[line - 2].lstrip().startswith("#")
                if not said:
                    bad.append(f"{module}:{line} imports {target}")
    assert bad == []


def test_the_checker_finds_a_loop_and_an_upward_import() -> None:
    """The checks above can fail: a loop and an upward import made up here are found."""
    GRAPH["orchestrator.errors"] = GRAPH["orchestrator.errors"] + [("orchestrator.runbook", 1)]
    try:
        assert any({"orchestrator.errors", "orchestrator.runbook"} <= g for g in _loops())
        assert _floor("orchestrator.runbook") > _floor("orchestrator.errors")
    finally:
        GRAPH["orchestrator.errors"] = GRAPH["orchestrator.errors"][:-1]
