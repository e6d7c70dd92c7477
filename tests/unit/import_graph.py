"""The repository's import graph, read from the source (nothing is imported): for the cycle and layer tests.

Every import counts: module-level, function-level (lazy) and ``if TYPE_CHECKING:`` ones, relative ones,
and the ``"msgbus.mod:func"`` strings the backend registry imports on first use; each edge says which
kind it is. A module's name is its dotted path from the first folder above it without an
``__init__.py`` (what Python and pytest's default import mode call it): ``msgbus._backends.base``,
``bench.workers.sync``, ``chaos.runner`` for tests/chaos/runner.py, ``cli_run`` for tests/cli_run.py.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

_REGISTRY_TARGET = re.compile(r"^([\w.]+):\w+$")

#: How an edge was written: a plain import (at module level or in a function), one under
#: ``if TYPE_CHECKING:``, or a ``"module:function"`` string of the backend registry.
IMPORT, TYPE_CHECKING, REGISTRY = "import", "type-checking", "registry"


class Edge(NamedTuple):
    target: str
    line: int
    kind: str


Graph = dict[str, list[Edge]]


def module_names(root: Path, trees: Iterable[str]) -> dict[str, Path]:
    """Every module below ``root``'s trees, by the dotted name it is imported as."""
    names: dict[str, Path] = {}
    for tree in trees:
        for path in sorted((root / tree).rglob("*.py")):
            if any(part.startswith(".") for part in path.relative_to(root).parts):
                continue
            parts = [] if path.name == "__init__.py" else [path.stem]
            folder = path.parent
            while (folder / "__init__.py").is_file():
                parts.insert(0, folder.name)
                folder = folder.parent
            if parts:
                names[".".join(parts)] = path
    return names


def _resolve(dotted: str, modules: Mapping[str, Path]) -> str | None:
    """The module ``dotted`` names (``tests.x`` is ``x``: tests/ is a namespace package), else None."""
    for candidate in (dotted, dotted.removeprefix("tests.")):
        if candidate in modules:
            return candidate
    return None


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """The ids of the nodes inside ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``) blocks."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.If):
            continue
        test = node.test
        name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else ""
        if name == "TYPE_CHECKING":
            for statement in node.body:
                inside.update(id(child) for child in ast.walk(statement))
    return inside


def imports_of(name: str, modules: Mapping[str, Path]) -> list[Edge]:
    """The repository's modules ``name`` imports, each with the line and the kind of its import."""
    path = modules[name]
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    type_checking = _type_checking_nodes(tree)
    found: list[Edge] = []

    def add(dotted: str, node: ast.AST, kind: str) -> None:
        target = _resolve(dotted, modules)
        if target is not None and target != name:
            found.append(Edge(target, getattr(node, "lineno", 0), TYPE_CHECKING if id(node) in type_checking else kind))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node, IMPORT)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] + (node.module.split(".") if node.module else [])
            else:
                base = (node.module or "").split(".")
            for alias in node.names:
                # `from pkg import x` imports the submodule x if there is one, else a name of pkg.
                sub = ".".join([*base, alias.name])
                add(sub if _resolve(sub, modules) else ".".join(base), node, IMPORT)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = _REGISTRY_TARGET.match(node.value)
            if match:
                add(match.group(1), node, REGISTRY)
    return found


def import_graph(root: Path, trees: Iterable[str]) -> tuple[Graph, dict[str, Path]]:
    modules = module_names(root, trees)
    return {name: imports_of(name, modules) for name in modules}, modules


def cycles(graph: Mapping[str, Iterable[Edge]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative depth-first search: a deep import chain must not hit the recursion limit.
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for target, _, _ in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(graph[target])))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))

    for name in graph:
        if name not in index:
            visit(name)
    return found
