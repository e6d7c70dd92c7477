"""Turning librdkafka's errors into msgbus's, and remembering the last one."""

from __future__ import annotations

import threading
import time
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


#: librdkafka errors that mean wrong credentials or an untrusted certificate:
#: the broker answered and said no, so connect stops retrying.
AUTH_ERRORS = frozenset({"_AUTHENTICATION", "SASL_AUTHENTICATION_FAILED", "_SSL"})

# A dead broker makes librdkafka report the same error every few hundred
# milliseconds; the same text is logged at WARNING at most this often.
_REPEAT_INTERVAL = 30.0


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
        #: The last authentication or TLS failure: retrying cannot fix it.
        self.auth_failure: str | None = None
        self._logged: dict[str, float] = {}

    def __call__(self, err: Any) -> None:
        text = describe(err)
        now = time.monotonic()
        with self._lock:
            self.last = text
            repeat = now - self._logged.get(text, -_REPEAT_INTERVAL) < _REPEAT_INTERVAL
            if not repeat:
                self._logged[text] = now
            if error_name(err) in AUTH_ERRORS:
                self.auth_failure = text
            try:
                if err.fatal():
                    self.fatal = text
            except AttributeError:
                pass
        if repeat:
            _log.logger().debug("msgbus: %s: %s (again)", self._what, text)
        else:
            _log.logger().warning("msgbus: %s: %s", self._what, text)


def create_client(factory: Callable[[dict[str, Any]], _Client], settings: dict[str, Any]) -> _Client:
    """A librdkafka client; settings it refuses (an unknown key in kafka_settings, say) raise ConfigError."""
    try:
        return factory(settings)
    except (KafkaException, ValueError, TypeError) as exc:
        detail = describe(exc.args[0]) if exc.args else str(exc)
        raise ConfigError(f"librdkafka refused the settings: {detail}") from None
