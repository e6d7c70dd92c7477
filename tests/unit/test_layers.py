"""The layers of src/msgbus are its folders: each folder imports only the folders its layer allows.

A module's layer is its folder (``_backends/kafka``, ``testing/_localkafka``); the package's own
files are two layers, by name: its private modules (``_config.py``, ``_errors.py``, ...) are the
foundation, its public ones (``__init__.py``, ``aio.py``, ``prometheus.py``) the api, and
``__main__.py`` belongs with the command (``_cli``). ``LAYERS`` says what each layer may import
directly; what those may import, it may too. ARCHITECTURE.md draws the same tree.

Every import counts (``import_graph``): module-level, lazy, relative, and ``if TYPE_CHECKING:`` ones,
with two exceptions, each for a reason:

- an ``if TYPE_CHECKING:`` import of a *public* module: it names a public type for the checker and
  never runs (``msgbus/__init__`` declares its lazy ``testing`` attribute so);
- a ``"msgbus.mod:func"`` string of the backend registry that names a module inside the registry's
  own folder: the registry names its backends without importing them, so ``import msgbus`` loads none.

Cycles between modules are checked by test_import_cycles.py, which counts every edge.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from import_graph import REGISTRY, TYPE_CHECKING, Edge, import_graph

import msgbus
import msgbus._backends.kafka
from msgbus import MsgBusTech

SRC = Path(msgbus.__file__).parent

# Each layer, and the layers it may import directly (and, through them, whatever they may).
LAYERS: dict[str, tuple[str, ...]] = {
    # What health(), metrics(), the probes and the collector are made of; imports nothing of msgbus.
    "_ops": (),
    # The spec's vocabulary: config, errors, records, headers, the failure policy, MsgBusIO, the logger.
    "foundation": ("_ops",),
    # The reader's core: the inbox every reader backend feeds, and the ways the application takes from it.
    "_reading": ("foundation",),
    # The seam: the registry, connect(), the base classes of every backend, and the in-process backend.
    "_backends": ("_reading",),
    # The Apache Kafka backend.
    "_backends/kafka": ("_backends",),
    # msgbus, msgbus.aio, msgbus.prometheus: what `import msgbus` gives (no backend, no testing).
    "api": ("_backends",),
    # LocalKafka and its parts: it knows nothing of buses.
    "testing/_localkafka": ("foundation",),
    # The conformance kit's parts: tests of the public api.
    "testing/_conformance": ("api",),
    # msgbus.testing: LocalKafka, MockKafka, MemoryBus, the pytest plugin, the conformance kit.
    "testing": ("testing/_conformance", "testing/_localkafka", "_backends/kafka"),
    # The `msgbus` command (its kafka verb runs LocalKafka).
    "_cli": ("testing",),
}


def layer_of(module: Path, package: Path) -> str:
    """The layer of the module at ``module`` of the package at ``package``: its folder, or one of the three above."""
    relative = module.relative_to(package)
    if len(relative.parts) > 1:
        return relative.parent.as_posix()
    if relative.name == "__main__.py":
        return "_cli"
    return "foundation" if relative.name.startswith("_") and relative.name != "__init__.py" else "api"


def allowed(layers: Mapping[str, tuple[str, ...]]) -> dict[str, set[str]]:
    """Each layer's own and every layer it may reach through the table."""
    reach: dict[str, set[str]] = {}
    for layer in layers:
        seen = {layer}
        todo = list(layers[layer])
        while todo:
            below = todo.pop()
            if below not in seen:
                seen.add(below)
                todo.extend(layers.get(below, ()))
        reach[layer] = seen
    return reach


def _public(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split("."))


def _exempt(edge: Edge, source: str, modules: Mapping[str, Path]) -> bool:
    if edge.kind == TYPE_CHECKING:
        return _public(edge.target)
    if edge.kind == REGISTRY:
        return modules[edge.target].is_relative_to(modules[source].parent)
    return False


def layer_violations(root: Path, package: str, layers: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Each import of ``root/src/<package>`` into a layer its own may not reach, as ``file:line: what``."""
    graph, modules = import_graph(root, ["src"])
    package_dir = root / "src" / package
    reach = allowed(layers)
    wrong = []
    for name, edges in graph.items():
        if not modules[name].is_relative_to(package_dir):
            continue
        source = layer_of(modules[name], package_dir)
        for edge in edges:
            target = layer_of(modules[edge.target], package_dir)
            if target not in reach.get(source, {source}) and not _exempt(edge, name, modules):
                where = modules[name].relative_to(root)
                wrong.append(f"{where}:{edge.line}: {name} ({source}) imports {edge.target} ({target})")
    return wrong


def test_every_folder_is_a_layer() -> None:
    found = {layer_of(path, SRC) for path in SRC.rglob("*.py")}
    assert found == set(LAYERS), (
        f"folders without a layer (add them to LAYERS): {sorted(found - set(LAYERS))}; "
        f"layers without a folder (drop them): {sorted(set(LAYERS) - found)}"
    )


def test_the_layers_are_an_order() -> None:
    # No layer may reach itself through others: the table is a stack, not a circle.
    for layer, below in LAYERS.items():
        for lower in below:
            assert layer not in allowed(LAYERS)[lower], f"{layer} and {lower} may import each other"


def test_no_module_imports_a_layer_its_own_may_not_reach() -> None:
    wrong = layer_violations(SRC.parents[1], "msgbus", LAYERS)
    assert not wrong, "imports against the layers (see LAYERS):\n" + "\n".join(wrong)


def _plant(root: Path, files: Mapping[str, str]) -> None:
    for relative, text in files.items():
        path = root / "src" / "pkg" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


PLANTED_LAYERS: dict[str, tuple[str, ...]] = {
    "foundation": (),
    "_core": ("foundation",),
    "_core/sub": ("_core",),
    "api": ("_core",),
}
_TYPE_CHECKING = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"


def test_the_checker_finds_planted_wrong_way_imports(tmp_path: Path) -> None:
    _plant(
        tmp_path,
        {
            "__init__.py": "from ._core import thing\n",
            "later.py": "",
            "api_only.py": "",
            # Lazy and upward; then a public module for the type checker only (allowed).
            "_base.py": "def f():\n    from ._core import thing\n" + _TYPE_CHECKING + "    from . import later\n",
            "_core/__init__.py": "REGISTRY = 'pkg._core.sub.impl:open'\n",  # the registry, into its own folder: allowed
            "_core/thing.py": "from .._base import f\nREGISTRY = 'pkg.api_only:open'\n",  # a string out of its folder
            "_core/hidden.py": _TYPE_CHECKING + "    from .sub import impl\n",  # a private module, upward
            "_core/sub/__init__.py": "",
            "_core/sub/impl.py": "from .. import thing\n",
        },
    )
    assert layer_violations(tmp_path, "pkg", PLANTED_LAYERS) == [
        "src/pkg/_base.py:2: pkg._base (foundation) imports pkg._core.thing (_core)",
        "src/pkg/_core/hidden.py:3: pkg._core.hidden (_core) imports pkg._core.sub.impl (_core/sub)",
        "src/pkg/_core/thing.py:2: pkg._core.thing (_core) imports pkg.api_only (api)",
    ]


def test_the_planted_tree_passes_once_mended(tmp_path: Path) -> None:
    # The control: each import the right way round, or one of the two exceptions, is not reported.
    _plant(
        tmp_path,
        {
            "__init__.py": "from ._core import thing\n",
            "later.py": "",
            "_base.py": _TYPE_CHECKING + "    from . import later\n",
            "_core/__init__.py": "REGISTRY = 'pkg._core.sub.impl:open'\n",
            "_core/thing.py": "from .._base import f\n",
            "_core/sub/__init__.py": "",
            "_core/sub/impl.py": "def g():\n    from .. import thing\n",
        },
    )
    assert layer_violations(tmp_path, "pkg", PLANTED_LAYERS) == []


def test_the_checker_sees_lazy_relative_registry_and_type_checking_imports() -> None:
    # If the parser missed these, the checks above would pass on anything.
    graph, _ = import_graph(SRC.parents[1], ["src"])
    kinds = {name: {(edge.target, edge.kind) for edge in edges} for name, edges in graph.items()}
    assert ("msgbus._backends.kafka._writer", "import") in kinds["msgbus._backends.kafka"]  # inside a function
    assert ("msgbus._log", "import") in kinds["msgbus._backends.base"]  # from .. import _log
    assert ("msgbus._backends.base", "import") in kinds["msgbus._backends.kafka._writer"]  # from ..base import ...
    assert ("msgbus._backends.kafka", REGISTRY) in kinds["msgbus._backends"]  # "msgbus._backends.kafka:..."
    assert ("msgbus.testing", TYPE_CHECKING) in kinds["msgbus"]  # under `if _typing.TYPE_CHECKING:`


def test_every_bus_tech_has_a_backend() -> None:
    from msgbus import _backends

    for tech in MsgBusTech:
        assert callable(_backends.opener(tech))
        check = _backends.validator(tech)
        assert check is None or callable(check)
    assert _backends.validator(MsgBusTech.KAFKA) is msgbus._backends.kafka.validate


def test_config_reaches_the_backends_checks_through_the_registry_not_an_import() -> None:
    # _config is the foundation: it names no backend (the layer check); the registry
    # hands it the function that runs the backend's checks.
    from msgbus import _backends, _config

    assert _config._backend_checks is _backends.check


def test_import_msgbus_loads_no_backend() -> None:
    loaded = "sorted(m for m in sys.modules if m.startswith(('msgbus._backends.kafka', 'msgbus.testing', 'confluent')))"
    code = f"import sys, msgbus; print({loaded})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
