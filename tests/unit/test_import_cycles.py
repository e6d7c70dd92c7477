"""No import cycle anywhere in the repository: src/msgbus, bench, tests and examples.

Every import counts, as in test_layers.py: module-level, function-level (lazy) and ``if
TYPE_CHECKING:`` ones, relative ones, and the ``"msgbus.mod:func"`` strings the backend registry
imports on first use. A module's name is its dotted path from the first folder above it without
an ``__init__.py`` (what Python and pytest's default import mode call it): ``msgbus._bus``,
``bench.workers.sync``, ``chaos.runner`` for tests/chaos/runner.py, ``cli_run`` for tests/cli_run.py.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TREES = ("src", "bench", "tests", "examples")
_REGISTRY_TARGET = re.compile(r"^([\w.]+):\w+$")

Graph = dict[str, list[tuple[str, int]]]


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


def imports_of(name: str, modules: Mapping[str, Path]) -> list[tuple[str, int]]:
    """The repository's modules ``name`` imports, each with the line of its import."""
    path = modules[name]
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: list[tuple[str, int]] = []

    def add(dotted: str, line: int) -> None:
        target = _resolve(dotted, modules)
        if target is not None and target != name:
            found.append((target, line))

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] + (node.module.split(".") if node.module else [])
            else:
                base = (node.module or "").split(".")
            for alias in node.names:
                # `from pkg import x` imports the submodule x if there is one, else a name of pkg.
                sub = ".".join([*base, alias.name])
                add(sub if _resolve(sub, modules) else ".".join(base), node.lineno)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = _REGISTRY_TARGET.match(node.value)
            if match:
                add(match.group(1), node.lineno)
    return found


def cycles(graph: Graph) -> list[list[str]]:
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
            for target, _ in edges:
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


def import_graph(root: Path, trees: Iterable[str]) -> tuple[Graph, dict[str, Path]]:
    modules = module_names(root, trees)
    return {name: imports_of(name, modules) for name in modules}, modules


def _describe(component: list[str], graph: Graph, modules: Mapping[str, Path], root: Path) -> str:
    members = set(component)
    edges = [
        f"  {name} ({modules[name].relative_to(root)}:{line}) imports {target}"
        for name in component
        for target, line in graph[name]
        if target in members
    ]
    return " <-> ".join(component) + "\n" + "\n".join(edges)


def test_no_import_cycle_in_the_repository() -> None:
    graph, modules = import_graph(REPO, TREES)
    found = cycles(graph)
    described = [_describe(component, graph, modules, REPO) for component in found]
    assert not found, "import cycles (lazy and TYPE_CHECKING imports count):\n" + "\n".join(described)


def test_the_checker_sees_every_tree_and_kind_of_import() -> None:
    graph, _ = import_graph(REPO, TREES)
    targets = {name: {target for target, _ in edges} for name, edges in graph.items()}
    assert "msgbus._bus" in targets["msgbus._kafka._writer"]  # from .._bus import ...
    assert "msgbus._kafka._writer" in targets["msgbus._kafka"]  # inside a function
    assert "msgbus._kafka" in targets["msgbus._backends"]  # the registry's "msgbus._kafka:..."
    assert "bench.workers.sync" in targets["bench.workers.__main__"]  # from . import sync
    assert "bench.common" in targets["bench.workers.common"]  # from ..common import ...
    assert "cli_run" in targets["test_cli"]  # a tests/ helper, imported by its bare name
    assert "msgbus.testing.localkafka" in targets["msgbus.testing"]  # under `if TYPE_CHECKING:`


def test_the_checker_finds_a_planted_cycle(tmp_path: Path) -> None:
    package = tmp_path / "tree" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\n")
    (package / "b.py").write_text("def f():\n    from .c import g\n")  # lazy
    (package / "c.py").write_text("import pkg.a\n")
    (package / "d.py").write_text("from pkg import a\n")  # imports the cycle, is not on it
    graph, _ = import_graph(tmp_path, ["tree"])
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]
