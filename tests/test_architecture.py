"""The layers stay one-way: the import graph of Herald's own modules has no cycle and no upward arrow.

Every import counts, those inside functions too (an import moved into a function to dodge a cycle is still the
cycle). ``from package import submodule`` is an arrow to the submodule. The layers, top to bottom (a module may
import its own layer and those below):
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "herald", "orchestration", "senders")

# Listed top to bottom; a module belongs to the first layer one of whose prefixes names it or a package above it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("interfaces: the app, the command lines", ("app", "herald.cli", "senders.cli")),
    ("orchestration: workflows, journeys, schedules, background runs, the workflow API", ("orchestration",)),
    ("senders: delivery, the tracking server", ("senders",)),
    ("core: the warehouse, audiences, campaigns, content, imports", ("herald",)),
)
__doc__ = (__doc__ or "") + "".join(f"\n    {i}. {name}: {', '.join(p)}" for i, (name, p) in enumerate(LAYERS, 1))


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """The first-party modules ``name`` imports, with the line of each import."""

    def owner(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in targets:
            module = owner(target)
            if module is not None and module != name:
                yield module, node.lineno


def layer_of(module: str) -> int:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")


@pytest.fixture(scope="module")
def graph() -> dict[str, dict[str, int]]:
    known = modules()
    return {name: dict(imports(name, path, known)) for name, path in known.items()}


def test_every_module_belongs_to_a_layer(graph: dict[str, dict[str, int]]) -> None:
    for module in graph:
        layer_of(module)


def test_no_import_points_up_a_layer(graph: dict[str, dict[str, int]]) -> None:
    upward = [
        f"{a} (layer {layer_of(a) + 1}) imports {b} (layer {layer_of(b) + 1}) at line {line}"
        for a, targets in graph.items()
        for b, line in targets.items()
        if layer_of(b) < layer_of(a)
    ]
    assert upward == []


def test_the_library_never_imports_a_command_line(graph: dict[str, dict[str, int]]) -> None:
    clis = {"herald.cli", "senders.cli"}
    offenders = [f"{a} imports {b}" for a, targets in graph.items() for b in targets if b in clis and a not in clis]
    assert offenders == []


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph.get(child, {}))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component: list[str] = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_import_graph_has_no_cycle(graph: dict[str, dict[str, int]]) -> None:
    assert cycles(graph) == []


def test_the_checks_can_fail() -> None:
    """The two checks see what they guard against: a cycle, and an arrow up from the core."""
    assert cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [["a", "b", "c"]]
    known = modules()
    source = ROOT / "herald" / "clock.py"
    tree_imports = dict(imports("herald.clock", source, known))
    assert all(layer_of(b) >= layer_of("herald.clock") for b in tree_imports)
    assert layer_of("herald.build") > layer_of("senders.job") > layer_of("orchestration.journeys") > layer_of("app")
