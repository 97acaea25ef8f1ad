"""The package's architecture, checked (docs/architecture.md): layers import only downwards, no
module imports itself round a cycle, and no module grows past about 400 lines."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "portability"

#: Each layer and the layers it may import (besides itself). The front ends sit on top.
LAYERS = {
    "vocabulary": set(),
    "outcomes": set(),
    "stats": set(),
    "records": set(),
    "verdicts": {"outcomes", "records", "stats"},
    "catalog": {"vocabulary", "records"},  # a case key is spelled once, in records
    "usage": {"vocabulary", "catalog"},
    "runner": {"vocabulary", "catalog", "records", "stats", "verdicts", "outcomes"},
    "results": {"vocabulary", "outcomes", "records", "stats", "verdicts", "usage", "catalog"},
    "options": {"vocabulary", "verdicts", "runner", "results"},
    "harness": {"vocabulary", "outcomes", "records", "stats", "verdicts", "catalog", "usage", "runner", "results",
                "options"},
    "plugin": {"vocabulary", "options", "catalog", "harness", "results", "runner"},
    "cli": {"vocabulary", "options", "catalog", "results", "usage", "verdicts"},
}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path, name: str) -> set[str]:
    """Project modules ``name`` imports, anywhere but under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)}
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("portability")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            if base.startswith("portability"):
                found |= {f"{base}.{a.name}" for a in node.names} | {base}
    known = modules()
    return {m for m in found if m in known and m != name}


def layer(module: str) -> str:
    return module.split(".")[1] if module != "portability" else ""


def test_layers_import_only_downwards() -> None:
    wrong = []
    for name, path in modules().items():
        if name == "portability":
            continue
        own = layer(name)
        for dep in imports(path, name):
            if layer(dep) not in LAYERS[own] | {own, ""}:
                wrong.append(f"{name} imports {dep}")
    assert wrong == []


def test_no_import_cycle() -> None:
    graph = {name: imports(path, name) for name, path in modules().items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            # a package's __init__ importing its own submodules is how a package is assembled
            if dep.startswith(node + "."):
                continue
            if state.get(dep) == 1 and not node.startswith(dep + "."):
                cycles.append(" -> ".join(stack[stack.index(dep):] + [dep]) if dep in stack else f"{node} -> {dep}")
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_module_is_over_about_400_lines(name: str) -> None:
    lines = len(modules()[name].read_text().splitlines())
    assert lines <= 420, f"{name}: {lines} lines; split it by what it does"
