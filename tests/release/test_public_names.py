"""Every public name has a use in the user's module that tests/release type-checks, and a docs entry."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import msgbus
import msgbus.aio
import msgbus.testing

from .venvs import REPO

USER_CODE = Path(__file__).with_name("user_code.py")


def _names_used(path: Path) -> set[str]:
    """Attribute names and imported names in ``path``: ``msgbus.X``, ``aio.X``, ``from msgbus.testing import X``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            used.add(node.attr)
        elif isinstance(node, ast.ImportFrom):
            used.update(alias.name for alias in node.names)
    return used


def test_the_user_module_uses_every_public_name() -> None:
    used = _names_used(USER_CODE)
    for module in (msgbus, msgbus.aio, msgbus.testing):
        missing = sorted(set(module.__all__) - used)
        assert not missing, f"{module.__name__}: public names with no use in {USER_CODE.name}: {missing}"


def test_the_name_check_sees_a_missing_name(tmp_path: Path) -> None:
    """The check above is not vacuous: a module that skips a name is caught."""
    partial = tmp_path / "partial.py"
    partial.write_text("import msgbus\n\nmsgbus.connect\n", encoding="utf-8")
    assert "connect" in _names_used(partial)
    assert "MsgBusConfig" not in _names_used(partial)


def test_the_api_page_lists_every_name_in_all() -> None:
    page = (REPO / "docs" / "api" / "msgbus.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\s+- (\w+)$", page, flags=re.MULTILINE))
    assert listed == set(msgbus.__all__), (
        f"docs/api/msgbus.md members vs msgbus.__all__: missing {sorted(set(msgbus.__all__) - listed)}, "
        f"extra {sorted(listed - set(msgbus.__all__))}"
    )
