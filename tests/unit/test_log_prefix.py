"""Log messages do not repeat the logger's name (issue 12, item 9).

The logger is "msgbus": a format such as "%(name)s: %(message)s" already says
so, and "msgbus: msgbus: ..." is what a prefix in the message gave.
"""

from __future__ import annotations

import ast
import logging
import time
from pathlib import Path

import pytest

import msgbus
from msgbus._reading.inbox import Inbox
from msgbus._reading.item import Item

SRC = Path(msgbus.__file__).parent
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}


def _messages(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in LOG_METHODS:
            args = node.args[1:] if node.func.attr == "log" else node.args
            if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
                found.append((node.lineno, args[0].value))
    return found


def test_no_library_log_message_starts_with_the_logger_name() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        for line, message in _messages(ast.parse(path.read_text(encoding="utf-8"))):
            if message.lower().startswith("msgbus:"):
                offenders.append(f"{path.relative_to(SRC)}:{line}: {message}")
    assert not offenders, "\n".join(offenders)


def test_a_record_formatted_with_the_name_says_it_once(caplog: pytest.LogCaptureFixture) -> None:
    def broken(msg: str) -> None:
        raise RuntimeError("boom")

    box = Inbox(4, name="prefix")
    caplog.set_level(logging.ERROR, logger="msgbus")
    try:
        box.feed.put_items([Item("m", 0, 0, -1)])
        box.register(broken)
        deadline = time.monotonic() + 5
        while box.taken < 1 and time.monotonic() < deadline:
            time.sleep(0.005)
    finally:
        box.close()
    formatted = [logging.Formatter("%(name)s: %(message)s").format(r) for r in caplog.records]
    assert formatted and all(line.startswith("msgbus: the callback raised") for line in formatted), formatted
