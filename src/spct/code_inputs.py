"""Which package files a workflow stage runs, read from the imports of its code (nothing is imported or run).

The workflow declares these files as the code inputs of each rule, so that an edit to any module a stage runs
reruns that stage's jobs, and an edit to a module it never imports reruns none of them. They are derived from
``spct/stages.py``, never listed by hand, so a moved, renamed or new module cannot be missed.

The files of ``spct.stages.<function>``: ``stages.py``, and every package module that running the function can
import, found by following names from the function through the package:

* the module-level code of a module that is imported runs: its imports (``import spct.x``, ``from spct.x import
  y`` with ``y`` a name or a submodule, ``from spct import x``, relative imports), the packages above it
  (importing ``spct.a.b`` runs ``spct/__init__.py`` and ``spct/a/__init__.py`` first), and whatever its module-level
  statements, decorators, default values and class bodies name;
* a function or class that is named (called, passed, re-exported and then named) runs too: its body's imports,
  lazy ones included, and the names it uses, in its own module or through the names it imports.

So a lazy import counts only where the function holding it can run: ``sampling/base.py`` imports the vLLM backend
inside ``load_sampler``, which the judge stage calls and the report stage never reaches, although both import
``spct.sampling``. Where a module object itself is passed around, or a module is named in a string
(``importlib.import_module("spct.x")``), all of that module counts. Pure Python (``ast``): nothing here knows about
Snakemake, and only the names ``spct`` and ``stages`` are fixed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

PACKAGE = "spct"
STAGES_MODULE = f"{PACKAGE}.stages"
PACKAGE_DIR = Path(__file__).resolve().parent

# A reference into the package: (kind, module, name). kind "module": the module's import-time code runs;
# "symbol": its top-level name ``name`` is used; "all": every top-level name of it may be used.
Ref = tuple[str, str, str]


def stage_code_files(stage_function: str, package_dir: str | Path = PACKAGE_DIR) -> list[str]:
    """The files of the ``spct`` package at ``package_dir`` that ``spct.stages.<stage_function>`` runs, sorted.

    Always holds ``stages.py``. Each path is ``package_dir`` joined with the file's path inside the package (so
    absolute when ``package_dir`` is). Raises ``KeyError`` when stages.py defines no such top-level function.
    """
    package = _Package(Path(package_dir))
    if STAGES_MODULE not in package.paths or not package.defines(STAGES_MODULE, stage_function):
        raise KeyError(f"spct.stages in {package_dir} defines no top-level function {stage_function!r}")
    reached = package.reach([("module", STAGES_MODULE, ""), ("symbol", STAGES_MODULE, stage_function)])
    return sorted(str(Path(package_dir) / package.paths[name]) for name in reached)


def script_stage_functions(script: str | Path) -> list[str]:
    """The ``spct.stages`` functions a workflow script uses (``stages.<name>`` after ``from spct import stages``,
    or ``spct.stages.<name>``), in order of first use."""
    tree = ast.parse(Path(script).read_text(), filename=str(script))
    aliases = {STAGES_MODULE}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == PACKAGE and not node.level:
            aliases |= {a.asname or a.name for a in node.names if a.name == "stages"}
        elif isinstance(node, ast.Import):
            aliases |= {a.asname for a in node.names if a.name == STAGES_MODULE and a.asname}
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _dotted(node.value) in aliases and node.attr not in found:
            found.append(node.attr)
    return found


def script_code_files(script: str | Path, package_dir: str | Path = PACKAGE_DIR) -> list[str]:
    """The package files of every ``spct.stages`` function a workflow script uses (``stage_code_files``)."""
    functions = script_stage_functions(script)
    if not functions:
        raise ValueError(f"{script} uses no spct.stages function")
    return sorted({path for name in functions for path in stage_code_files(name, package_dir)})


@dataclass
class _Module:
    name: str
    is_package: bool
    tree: ast.Module
    definitions: dict[str, ast.AST] = field(default_factory=dict)  # top-level functions
    import_time: list[ast.AST] = field(default_factory=list)  # what runs on import (class bodies whole)


class _Package:
    def __init__(self, root: Path):
        self.root = root
        self.paths = _module_paths(root)
        self._modules: dict[str, _Module] = {}

    def module(self, name: str) -> _Module:
        if name not in self._modules:
            path = self.paths[name]
            tree = _parse(self.root / path)
            module = _Module(name, path.endswith("__init__.py"), tree)
            for node in tree.body:
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    module.definitions[node.name] = node
                    module.import_time += [*node.decorator_list, *node.args.defaults]
                    module.import_time += [d for d in node.args.kw_defaults if d is not None]
                else:
                    module.import_time.append(node)
            self._modules[name] = module
        return self._modules[name]

    def defines(self, name: str, symbol: str) -> bool:
        """Whether module ``name`` has a top-level function ``symbol`` of its own or imported (a re-export)."""
        module = self.module(name)
        return symbol in module.definitions or symbol in self._bindings(module, module.import_time)

    def reach(self, start: Iterable[Ref]) -> set[str]:
        """The modules whose import-time code runs, starting from ``start``."""
        todo, done, imported = list(start), set(), set()
        while todo:
            ref = todo.pop()
            kind, name, symbol = ref
            if ref in done or name not in self.paths:
                continue
            done.add(ref)
            if kind == "module":
                imported.add(name)
                parent = name.rpartition(".")[0]
                if parent:
                    todo.append(("module", parent, ""))
                todo += self._uses(self.module(name), self.module(name).import_time)
                continue
            todo.append(("module", name, ""))
            module = self.module(name)
            if kind == "all":
                todo += [("symbol", name, s) for s in [*module.definitions, *self._bindings(module, [module.tree])]]
            elif f"{name}.{symbol}" in self.paths:  # a submodule
                todo.append(("module", f"{name}.{symbol}", ""))
            elif symbol in module.definitions:
                todo += self._uses(module, [module.definitions[symbol]])
            else:  # a name the module imports (a re-export), or one its import-time code sets
                target = self._bindings(module, module.import_time).get(symbol)
                if target is not None:
                    todo.append(target)
        return imported

    def _bindings(self, module: _Module, nodes: Iterable[ast.AST]) -> dict[str, Ref]:
        """Local name -> what it is bound to, by the package imports in ``nodes``."""
        bound: dict[str, Ref] = {}
        for node in _walk(nodes):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == PACKAGE:
                        local = alias.asname or alias.name.split(".")[0]
                        bound[local] = ("all", alias.name if alias.asname else PACKAGE, "")
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node, module)
                for alias in node.names:
                    if base is not None and alias.name != "*":
                        bound[alias.asname or alias.name] = ("symbol", base, alias.name)
        return bound

    def _uses(self, module: _Module, nodes: list[ast.AST]) -> list[Ref]:
        """What running ``nodes`` (code of ``module``) imports and names."""
        bound = {**self._bindings(module, module.import_time), **self._bindings(module, nodes)}
        # Names and attributes that stand for a module and are only the base of an attribute (`module.name`):
        # that name is what is used. Any other use passes the module object on, so all of it may be used.
        module_bases = {
            id(node.value)
            for node in _walk(nodes)
            if isinstance(node, ast.Attribute) and self._module_of(_dotted(node.value), bound) is not None
        }
        local = _local_loads(nodes)
        refs: list[Ref] = []
        for node in _walk(nodes):
            if isinstance(node, ast.Import):
                refs += [("module", a.name, "") for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node, module)
                if base is not None:
                    refs.append(("module", base, ""))
                    for alias in node.names:
                        refs.append(("all", base, "") if alias.name == "*" else ("module", f"{base}.{alias.name}", ""))
            elif isinstance(node, ast.Attribute) and id(node.value) in module_bases:
                target = self._module_of(_dotted(node.value), bound)
                if f"{target}.{node.attr}" in self.paths:
                    kind = "module" if id(node) in module_bases else "all"
                    refs.append((kind, f"{target}.{node.attr}", ""))
                else:
                    refs.append(("symbol", target, node.attr))
            elif isinstance(node, ast.Name) and id(node) not in module_bases:
                if node.id in bound:
                    kind, name, symbol = bound[node.id]
                    if kind == "symbol" and f"{name}.{symbol}" in self.paths:
                        kind, name, symbol = "all", f"{name}.{symbol}", ""
                    refs.append((kind, name, symbol))
                elif node.id in module.definitions and id(node) not in local:
                    refs.append(("symbol", module.name, node.id))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in self.paths:
                refs.append(("all", node.value, ""))
        return refs

    def _module_of(self, dotted: str | None, bound: dict[str, Ref]) -> str | None:
        """The package module a dotted name (``alias.sub.sub``) stands for, if it stands for one."""
        if dotted is None:
            return None
        first, *rest = dotted.split(".")
        kind, name, symbol = bound.get(first, ("", "", ""))
        if kind == "all":
            base = name
        elif kind == "symbol" and f"{name}.{symbol}" in self.paths:
            base = f"{name}.{symbol}"
        else:
            return None
        full = ".".join([base, *rest])
        return full if full in self.paths else None


def _walk(nodes: Iterable[ast.AST]):
    for top in nodes:
        yield from ast.walk(top)


def _local_loads(nodes: Iterable[ast.AST]) -> set[int]:
    """The names read in ``nodes`` that are a function's own variables (its arguments, or assigned in its body), not
    the module's top-level definitions of the same name."""
    found: set[int] = set()

    def visit(node: ast.AST, local: frozenset[str]) -> None:
        if isinstance(node, _SCOPES):
            args = node.args
            own = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg] if a}
            body = node.body if isinstance(node.body, list) else [node.body]
            own |= {n.id for n in _walk_scope(body) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
            local = local | own
            if not isinstance(node, ast.Lambda):
                for child in [*node.decorator_list, *args.defaults, *args.kw_defaults]:
                    if child is not None:
                        visit(child, local - own)
            for child in body:
                visit(child, local)
            return
        if isinstance(node, ast.Name) and node.id in local:
            found.add(id(node))
        for child in ast.iter_child_nodes(node):
            visit(child, local)

    for top in nodes:
        visit(top, frozenset())
    return found


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _walk_scope(nodes: Iterable[ast.AST]):
    """``ast.walk`` that stays out of nested functions and lambdas."""
    todo = list(nodes)
    while todo:
        node = todo.pop()
        yield node
        todo += [child for child in ast.iter_child_nodes(node) if not isinstance(child, _SCOPES)]


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _absolute(node: ast.ImportFrom, module: _Module) -> str | None:
    """The absolute module name of ``from <...> import``; None outside the package or above its top."""
    if not node.level:
        return node.module if node.module and node.module.split(".")[0] == PACKAGE else None
    parts = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    if node.level - 1 >= len(parts):
        return None
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parts, node.module] if node.module else parts)


def _module_paths(root: Path) -> dict[str, str]:
    """Every module of the package at ``root``: dotted name -> path inside ``root`` (``__init__.py`` for a
    package)."""
    paths = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if "__pycache__" in rel.parts:
            continue
        parts = [PACKAGE, *rel.with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        paths[".".join(parts)] = rel.as_posix()
    return paths


def _parse(path: Path) -> ast.Module:
    stat = path.stat()
    return _parse_version(str(path), stat.st_mtime_ns, stat.st_size)


@cache
def _parse_version(path: str, mtime_ns: int, size: int) -> ast.Module:
    """Parsed once per version of a file: the workflow asks for every rule's files, mostly the same ones."""
    return ast.parse(Path(path).read_text(), filename=path)
