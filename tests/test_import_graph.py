"""The project's dependencies run one way (issue 13): no import cycle between its modules, none
between its top-level packages, and the layers import only downwards.

Every import counts, wherever it stands in a module: at the top, inside a function (a "lazy"
import is still a dependency, only a hidden one) or under `if TYPE_CHECKING:`. The graph is read
with the standard `ast` module from the source files, so nothing is imported to build it.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("protocol", "drivers", "sync", "kiosk", "centre")
# What each top-level package may import of the others: the wire format is a leaf, hardware
# knows nothing of the service, the uploader nothing of the unit it serves, the centre only the
# wire format. (The unit may use all three below it.)
ALLOWED = {
    "protocol": set(),
    "drivers": set(),
    "sync": {"protocol"},
    "kiosk": {"protocol", "drivers", "sync"},
    "centre": {"protocol"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.relative_to(ROOT).parts:   # Alembic loads these by file
                continue
            modules[module_name(path)] = path
    return modules


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `name` imports, resolved to the module (not the package) where a
    `from package import module` names one."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            targets = [f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in known else origin
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:   # `import a.b.c` where only a.b is ours
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of nodes (first == last), or None."""
    state: dict[str, int] = {}   # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_no_import_cycle_between_modules() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle)


def test_packages_import_only_downwards() -> None:
    wrong = sorted(f"{name} imports {target}" for name, targets in import_graph().items()
                   for target in targets
                   if (top := target.split(".")[0]) != name.split(".")[0]
                   and top not in ALLOWED[name.split(".")[0]])
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle_between_packages() -> None:
    graph: dict[str, set[str]] = {}
    for name, targets in import_graph().items():
        graph.setdefault(name.split(".")[0], set()).update(t.split(".")[0] for t in targets)
    for node, targets in graph.items():
        targets.discard(node)
    cycle = find_cycle(graph)
    assert cycle is None, "package cycle: " + " → ".join(cycle)


@pytest.mark.parametrize("graph, cycle", [
    ({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"]),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
])
def test_the_cycle_finder_finds_cycles(graph: dict[str, set[str]], cycle: list[str] | None) -> None:
    assert find_cycle(graph) == cycle


def test_lazy_and_type_checking_imports_count(tmp_path: Path) -> None:
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from kiosk.app import KioskApp\n"
              "def f():\n    from kiosk import queue\n")
    module = tmp_path / "m.py"
    module.write_text(source)
    assert imports_of("kiosk.x", module, {"kiosk", "kiosk.app", "kiosk.queue", "kiosk.x"}) == {
        "kiosk.app", "kiosk.queue"}
