"""Turning librdkafka's errors into msgbus's, and remembering the last one."""

from __future__ import annotations

import threading
from typing import Any

from .. import _log


def describe(err: Any) -> str:
    """A KafkaError as '<text> (<NAME>)'."""
    try:
        return f"{err.str()} ({err.name()})"
    except AttributeError:
        return str(err)


def error_name(err: Any) -> str | None:
    try:
        name = err.name()
    except AttributeError:
        return None
    return str(name)


class ErrorWatch:
    """librdkafka's ``error_cb``: logs each client-level error and keeps the last.

    Connect failures quote the last one, which says more ("Connection
    refused", "SASL authentication failed") than a metadata timeout does.
    """

    def __init__(self, what: str) -> None:
        self._what = what
        self._lock = threading.Lock()
        self.last: str | None = None
        self.fatal: str | None = None

    def __call__(self, err: Any) -> None:
        text = describe(err)
        with self._lock:
            self.last = text
            try:
                if err.fatal():
                    self.fatal = text
            except AttributeError:
                pass
        _log.logger().warning("msgbus: %s: %s", self._what, text)
