"""The layout rules of CONTRIBUTING.md, checked on the package's source: module and function size, no import circle,
no private name used across modules. Pure AST reading, no import of the package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "spct"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# Functions allowed past the limit, each with its reason (CONTRIBUTING.md: "without a stated reason").
LONG_FUNCTIONS: dict[str, str] = {}
# Import edges that may close a circle: a lazy factory that picks a backend at run time (the backend module imports
# the shared types of the module that picks it).
LAZY_FACTORIES = {
    ("spct.sampling.base", "spct.sampling.vllm_backend"),
    ("spct.sampling.base", "spct.sampling.transformers_backend"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, imported names, line) of every spct import in the file, at module level or inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "spct":
            found.append((node.module, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.split(".")[0] == "spct"]
    return found


def edges(name: str) -> set[str]:
    """The spct modules that module ``name`` imports (``from spct.x import y`` counts y when y is a module)."""
    targets = set()
    for module, names, _ in imports(MODULES[name]):
        submodules = {f"{module}.{n}" for n in names} & MODULES.keys()
        targets |= submodules or {module}
    return targets - {name}


def test_no_module_over_the_limit():
    long = {name: n for name, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_no_function_over_the_limit_without_a_reason():
    long = {}
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES and f"{name}.{node.name}" not in LONG_FUNCTIONS:
                    long[f"{name}.{node.name}"] = length
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines with no stated reason: {long}"


def _cycle_from(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    """A path start -> ... -> start in the graph, or None."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in graph.get(node, ()):
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


def test_no_import_circle_other_than_a_lazy_backend_factory():
    # A package's __init__ re-exporting its submodules is not a circle of design: leave out edges into a parent.
    graph = {
        name: {t for t in edges(name) if not name.startswith(t + ".") and (name, t) not in LAZY_FACTORIES}
        for name in MODULES
    }
    circles = [cycle for name in MODULES if (cycle := _cycle_from(name, graph))]
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)


def test_the_circle_check_finds_a_circle():
    assert _cycle_from("a", {"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle_from("a", {"a": {"b"}, "b": {"c"}}) is None


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_private_name_imported_across_modules(name):
    private = [
        f"line {line}: {n} from {module}"
        for module, names, line in imports(MODULES[name])
        for n in names
        if n.startswith("_") and module != name
    ]
    assert not private, f"{MODULES[name]}: " + ", ".join(private)
