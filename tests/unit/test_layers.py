"""The layer contract of src/msgbus: no import cycles, and each layer imports only what lies below it.

Every import between msgbus modules counts: module-level, function-level (lazy) and
``if TYPE_CHECKING:`` ones, ``from . import x``, and the ``"msgbus.mod:func"`` strings the
backend registry (``_backends``) imports on first use. A lazy import still ties the two
modules together, so it may not run upward either.
"""

from __future__ import annotations

import ast
import fnmatch
import re
import subprocess
import sys
from pathlib import Path

import msgbus
import msgbus._kafka
from msgbus import MsgBusTech

SRC = Path(msgbus.__file__).parent

# The layers, lowest first. A module may import modules of its own layer or of lower layers
# (cycles are checked separately), never of a higher one. Names are relative to msgbus;
# "__init__" is the package itself, "x.*" the submodules of package x.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    # Plain data, errors and logging every other layer shares.
    # _progress, _health, _metrics, _figures, _headers, _tracing, _live: what health(), metrics(), headers and
    # spans share.
    (
        "foundation",
        (
            "_errors",
            "_version",
            "_record",
            "_log",
            "_managed",
            "_failure",
            "_progress",
            "_health",
            "_metrics",
            "_figures",
            "_headers",
            "_tracing",
            "_live",
            "_config",
            "_cancel",
            "_interface",
        ),
    ),
    # What every backend builds on: the reader's core (the _reading package: the inbox, its parts and
    # the loops; see its modules' docstrings), the MsgBusIO interface and its base classes (_bus).
    ("core", ("_reading", "_reading.*", "_bus")),
    # One module (or package) per MsgBusTech; they know nothing of each other or of connect().
    ("backends", ("_kafka", "_kafka.*", "_memory")),
    # The seam: the registry of backends, and connect(), which looks the backend up there.
    ("seam", ("_backends", "_connect")),
    # What applications and tests use.
    ("faces", ("__init__", "__main__", "aio", "prometheus", "_cli", "_cli_*", "testing", "testing.*")),
]

# Cycles tolerated for now (none): an entry must still exist, or the test says to drop it.
KNOWN_CYCLES: list[frozenset[str]] = []

_REGISTRY_TARGET = re.compile(r"^msgbus((?:\.\w+)+):\w+$")


def _module_names() -> dict[str, Path]:
    names = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts.pop()
        names[".".join(parts)] = path
    return names


MODULES = _module_names()


def _package_of(name: str) -> list[str]:
    """The package a module's relative imports start from, as parts ([] is msgbus itself)."""
    parts = [] if name == "__init__" else name.split(".")
    return parts if MODULES[name].name == "__init__.py" else parts[:-1]


def _target(parts: list[str]) -> str:
    return ".".join(parts) if parts else "__init__"


def imports_of(name: str) -> list[tuple[str, int]]:
    """The msgbus modules ``name`` imports, with the line of each import."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(MODULES[name].read_text(), str(MODULES[name]))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "msgbus" or alias.name.startswith("msgbus."):
                    found.append((_target(alias.name.split(".")[1:]), node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = _package_of(name)
                base = package[: len(package) - (node.level - 1)] + (node.module.split(".") if node.module else [])
            elif node.module == "msgbus" or (node.module or "").startswith("msgbus."):
                base = (node.module or "").split(".")[1:]
            else:
                continue
            for alias in node.names:
                # `from . import x` names a submodule if there is one, else something of the package.
                sub = _target([*base, alias.name])
                found.append((sub if sub in MODULES else _target(base), node.lineno))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = _REGISTRY_TARGET.match(node.value)
            if match:
                found.append((_target(match.group(1)[1:].split(".")), node.lineno))
    return [(target, line) for target, line in found if target != name]


def layer_of(name: str) -> int:
    for index, (_, patterns) in enumerate(LAYERS):
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns):
            return index
    raise AssertionError(f"msgbus.{name} is in no layer: add it to LAYERS in {__file__}")


def _where(name: str, line: int) -> str:
    return f"{MODULES[name].relative_to(SRC.parent)}:{line}"


def test_every_module_is_in_a_layer() -> None:
    for name in MODULES:
        layer_of(name)


def test_no_module_imports_a_higher_layer() -> None:
    wrong = [
        f"{_where(name, line)}: msgbus.{name} ({LAYERS[layer_of(name)][0]}) imports "
        f"msgbus.{target} ({LAYERS[layer_of(target)][0]})"
        for name in MODULES
        for target, line in imports_of(name)
        if layer_of(target) > layer_of(name)
    ]
    assert not wrong, "imports against the layer order (see LAYERS):\n" + "\n".join(wrong)


def _cycles() -> list[list[tuple[str, int]]]:
    """One cycle through each module that is on one, as (module, line of its import of the next)."""
    graph = {name: imports_of(name) for name in MODULES}
    cycles: list[list[tuple[str, int]]] = []
    on_cycle: set[str] = set()
    for start in MODULES:
        if start in on_cycle:
            continue
        # Depth-first search for a path from start back to itself.
        stack: list[tuple[str, list[tuple[str, int]]]] = [(start, [])]
        seen: set[str] = set()
        while stack:
            node, path = stack.pop()
            for target, line in graph[node]:
                if target == start:
                    cycle = [*path, (node, line)]
                    cycles.append(cycle)
                    on_cycle.update(n for n, _ in cycle)
                    stack.clear()
                    break
                if target not in seen:
                    seen.add(target)
                    stack.append((target, [*path, (node, line)]))
    return cycles


def test_no_import_cycles() -> None:
    found = _cycles()
    cycles = [cycle for cycle in found if frozenset(name for name, _ in cycle) not in KNOWN_CYCLES]
    gone = set(KNOWN_CYCLES) - {frozenset(name for name, _ in cycle) for cycle in found}
    assert not gone, f"these cycles are gone: drop them from KNOWN_CYCLES: {sorted(map(sorted, gone))}"
    described = [
        " -> ".join(f"msgbus.{name} ({_where(name, line)})" for name, line in cycle) + f" -> msgbus.{cycle[0][0]}"
        for cycle in cycles
    ]
    assert not cycles, "import cycles (lazy imports count):\n" + "\n".join(described)


def test_the_checker_sees_lazy_and_relative_imports() -> None:
    # If the parser missed these, the two tests above would pass on anything.
    assert any(t == "_kafka._writer" for t, _ in imports_of("_kafka"))  # inside a function
    assert any(t == "_log" for t, _ in imports_of("_bus"))  # from . import _log
    assert any(t == "_bus" for t, _ in imports_of("_kafka._writer"))  # from .._bus import ...
    assert any(t == "_kafka" for t, _ in imports_of("_backends"))  # the registry's "msgbus._kafka:..."
    assert any(t == "_kafka._config" for t, _ in imports_of("_kafka._settings"))  # from ._config import ...


def test_every_bus_tech_has_a_backend() -> None:
    from msgbus import _backends

    for tech in MsgBusTech:
        assert callable(_backends.opener(tech))
        check = _backends.validator(tech)
        assert check is None or callable(check)
    assert _backends.validator(MsgBusTech.KAFKA) is msgbus._kafka.validate


def test_config_reaches_the_backends_checks_through_the_registry_not_an_import() -> None:
    # _config is the foundation: it names no backend (test_no_module_imports_a_higher_layer); the
    # registry hands it the function that runs the backend's checks.
    from msgbus import _backends, _config

    assert _config._backend_checks is _backends.check


def test_import_msgbus_loads_no_backend() -> None:
    code = "import sys, msgbus; print(sorted(m for m in sys.modules if m.startswith(('msgbus._kafka', 'confluent'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
