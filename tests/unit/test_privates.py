"""No module reaches into another folder's privates: a name with a leading underscore is imported
only within its own folder (package). Private *modules* (``msgbus._log``) are the package's own
structure and may be imported from anywhere in it; private *names* inside a module may not.

Scanned: ``src/msgbus`` and ``bench``. Tests may use privates (they test them).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
SCANNED = [SRC / "msgbus", ROOT / "bench"]


def _module_of(path: Path) -> tuple[str, list[str]]:
    """The dotted name of ``path`` and the package its relative imports start from."""
    base = SRC if path.is_relative_to(SRC) else ROOT
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
        return ".".join(parts), parts
    return ".".join(parts), parts[:-1]


def _is_module(dotted: str) -> bool:
    for base in (SRC, ROOT):
        where = base.joinpath(*dotted.split("."))
        if where.is_dir() or where.with_suffix(".py").exists():
            return True
    return False


def _folder_of_module(dotted: str) -> str:
    """The package that holds module ``dotted`` (itself, for a package)."""
    for base in (SRC, ROOT):
        if base.joinpath(*dotted.split(".")).is_dir():
            return dotted
    return dotted.rpartition(".")[0]


def private_reaches() -> list[str]:
    found = []
    for top in SCANNED:
        for path in sorted(top.rglob("*.py")):
            _, package = _module_of(path)
            folder = ".".join(package)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.ImportFrom):
                    continue
                if node.level:
                    start = package[: len(package) - (node.level - 1)]
                    target = ".".join(start + (node.module.split(".") if node.module else []))
                else:
                    target = node.module or ""
                if target.split(".")[0] not in ("msgbus", "bench"):
                    continue
                for alias in node.names:
                    name = alias.name
                    if not name.startswith("_") or name.startswith("__"):
                        continue
                    if _is_module(f"{target}.{name}"):
                        continue  # a private module of the package: its structure, not a reach
                    if _folder_of_module(target) != folder:
                        found.append(f"{path.relative_to(ROOT)}: from {target} import {name}")
    return found


def test_no_module_imports_another_folders_private_names() -> None:
    assert private_reaches() == []


def test_the_check_sees_a_reach(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The check itself: a module of bench/ importing a private function of msgbus._reading.store.
    fake = tmp_path / "bench"
    fake.mkdir()
    (fake / "reach.py").write_text("from msgbus._reading.store import _secret\n")
    monkeypatch.setattr(sys.modules[__name__], "SCANNED", [fake])
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert private_reaches() == ["bench/reach.py: from msgbus._reading.store import _secret"]
