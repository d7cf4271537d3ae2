"""engine/ has no import circles: every `import engine...` in every module, at the top or inside
a function (a lazy import still ties the two modules together), points one way.

Reads the sources with `ast` (nothing is imported); fails naming the modules of each circle."""
from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "engine"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in ENGINE.rglob("*.py")}


def _package(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def import_graph() -> dict[str, set[str]]:
    """Module -> the engine modules it imports (`from a import b`: a.b when b is a module)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = _package(name, path).split(".")
                    package = package[:len(package) - node.level + 1]
                    base = ".".join(package + ([base] if base else []))
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.append(full if full in modules else base)
            for target in targets:
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_walker_sees_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    graph = import_graph()
    assert "engine.generation" in graph and len(graph) > 30
    assert graph["engine.loading"]  # it imports the registry and the errors at least


def test_engine_has_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import circles in engine/: " + "; ".join(" <-> ".join(c) for c in found)


def test_engine_packages_point_one_way():
    """Collapsed to engine's packages and top modules (engine.backends, engine.deepseek_v4, ...),
    still no circle: e.g. backends/ uses generation.py, which speaks only engine/events.py."""
    units: dict[str, set[str]] = {}
    for module, imported in import_graph().items():
        unit = ".".join(module.split(".")[:2])
        units.setdefault(unit, set()).update(
            u for u in (".".join(m.split(".")[:2]) for m in imported) if u != unit)
    found = cycles(units)
    assert not found, "package circles in engine/: " + "; ".join(" <-> ".join(c) for c in found)
    assert units["engine.events"] == set()  # the ground floor imports no engine module
    assert "engine.backends" not in units["engine.generation"]
