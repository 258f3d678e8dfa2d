"""What each lower package may import (docs/ARCHITECTURE-k8s.md), read from the source: a module that
reaches above its layer fails here, naming the import."""

from __future__ import annotations

import ast
from pathlib import Path

from orchestrator import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "orchestrator"
BASE = ("orchestrator.errors", "orchestrator.columns")
# package -> what its modules may import from the project, besides themselves and BASE
ALLOWED: dict[str, tuple[str, ...]] = {
    "orchestrator.bird": ("orchestrator.templates", "orchestrator.topology", "orchestrator.state",
                          "orchestrator.netns", "orchestrator.procs", "orchestrator.rtnl", "orchestrator.PROJECT_ROOT"),
    "orchestrator.echo": (),
    "orchestrator.calico": ("orchestrator.manifests", "orchestrator.k8s.reader", "orchestrator.templates",
                            "orchestrator.topology"),
    "orchestrator.k8s": ("orchestrator.manifests", "orchestrator.calico.models", "orchestrator.topology"),
    "orchestrator.manifests": (),
}


def imports(path: Path) -> list[tuple[int, str]]:
    module = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            if base == "orchestrator":  # from orchestrator import templates, PROJECT_ROOT
                found += [(node.lineno, f"orchestrator.{a.name}") for a in node.names]
            else:
                found += [(node.lineno, base)]
    return [(line, name) for line, name in found if name.startswith("orchestrator.")]


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_lower_packages_import_nothing_above_them() -> None:
    wrong = []
    for package, allowed in ALLOWED.items():
        root = PACKAGE / package.split(".", 1)[1].replace(".", "/")
        files = sorted(root.rglob("*.py")) if root.is_dir() else [root.with_suffix(".py")]
        for path in files:
            for line, name in imports(path):
                if not within(name, (package, *BASE, *allowed)):
                    wrong.append(f"{path.relative_to(PROJECT_ROOT)}:{line} imports {name}")
    assert wrong == []
