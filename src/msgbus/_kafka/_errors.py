"""Turning librdkafka's errors into msgbus's, and remembering the last one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from confluent_kafka import KafkaException

from .. import _log
from .._errors import ConfigError

_Client = TypeVar("_Client")


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


def create_client(factory: Callable[[dict[str, Any]], _Client], settings: dict[str, Any]) -> _Client:
    """A librdkafka client; settings it refuses (an unknown key in kafka_settings, say) raise ConfigError."""
    try:
        return factory(settings)
    except (KafkaException, ValueError, TypeError) as exc:
        detail = describe(exc.args[0]) if exc.args else str(exc)
        raise ConfigError(f"librdkafka refused the settings: {detail}") from None
