"""No import cycle anywhere in the repository: src/msgbus, bench, tests and examples.

Every import counts (``import_graph``): module-level, function-level (lazy) and ``if TYPE_CHECKING:``
ones, relative ones, and the ``"msgbus.mod:func"`` strings the backend registry imports on first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from import_graph import Graph, cycles, import_graph

REPO = Path(__file__).resolve().parents[2]
TREES = ("src", "bench", "tests", "examples")


def _describe(component: list[str], graph: Graph, modules: Mapping[str, Path], root: Path) -> str:
    members = set(component)
    edges = [
        f"  {name} ({modules[name].relative_to(root)}:{line}) imports {target}"
        for name in component
        for target, line, _ in graph[name]
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
    targets = {name: {edge.target for edge in edges} for name, edges in graph.items()}
    assert "msgbus._backends.base" in targets["msgbus._backends.kafka._writer"]  # from ..base import ...
    assert "msgbus._backends.kafka._writer" in targets["msgbus._backends.kafka"]  # inside a function
    assert "msgbus._backends.kafka" in targets["msgbus._backends"]  # the registry's "msgbus._backends.kafka:..."
    assert "msgbus._ops.live" in targets["msgbus.prometheus"]  # from ._ops import live
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
