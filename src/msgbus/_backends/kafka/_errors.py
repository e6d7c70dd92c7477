"""Turning librdkafka's errors into msgbus's, and remembering the last one."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from confluent_kafka import KafkaException

from ... import _log
from ..._errors import ConfigError

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

#: librdkafka errors that mean a broker cannot be reached at all: refused, reset, not resolved.
UNREACHABLE_ERRORS = frozenset({"_TRANSPORT", "_RESOLVE"})


class ErrorWatch:
    """librdkafka's ``error_cb``: logs each client-level error and keeps the last.

    Connect failures quote the last one, which says more ("Connection
    refused", "SASL authentication failed") than a metadata timeout does.
    It also tells the connect attempts whether every broker is unreachable,
    so that an attempt can end at once instead of waiting out connect_timeout.
    """

    def __init__(self, what: str) -> None:
        self._what = what
        self._lock = threading.Lock()
        self.last: str | None = None
        self.fatal: str | None = None
        #: The last authentication or TLS failure: retrying cannot fix it.
        self.auth_failure: str | None = None
        #: Set once librdkafka reported that all brokers are down (_ALL_BROKERS_DOWN).
        #: librdkafka says so once, until a broker comes up, so it stays set.
        self.all_down = False
        #: How many unreachable-broker errors came so far, and the last one's text.
        self.unreachable = 0
        self.last_unreachable: str | None = None
        # The same error repeats every few hundred milliseconds while a broker is down.
        self._throttle = _log.Throttle()

    def unreachable_since(self, mark: int) -> bool:
        """Whether, as far as librdkafka can tell, every broker refused again since ``unreachable`` was ``mark``."""
        with self._lock:
            return self.all_down and self.unreachable > mark

    def forget_fatal(self) -> None:
        """The client that had the fatal error was replaced by a new one."""
        with self._lock:
            self.fatal = None

    def __call__(self, err: Any) -> None:
        text = describe(err)
        name = error_name(err)
        with self._lock:
            self.last = text
            if name in AUTH_ERRORS:
                self.auth_failure = text
            if name == "_ALL_BROKERS_DOWN":
                self.all_down = True
                self.unreachable += 1
            elif name in UNREACHABLE_ERRORS:
                self.unreachable += 1
                self.last_unreachable = text
            try:
                fatal = err.fatal()
            except AttributeError:
                fatal = False
            # librdkafka's error_cb reports a fatal error as _FATAL (the cause in its text),
            # and that KafkaError's fatal() can be False: the code alone says it.
            if fatal or name == "_FATAL":
                self.fatal = text
        self._throttle.log(logging.WARNING, _log.normalize(text), "%s: %s", self._what, text)


def create_client(factory: Callable[[dict[str, Any]], _Client], settings: dict[str, Any]) -> _Client:
    """A librdkafka client; settings it refuses (an unknown key in kafka_settings, say) raise ConfigError."""
    try:
        return factory(settings)
    except (KafkaException, ValueError, TypeError) as exc:
        detail = describe(exc.args[0]) if exc.args else str(exc)
        raise ConfigError(f"librdkafka refused the settings: {detail}") from None
