"""The exceptions msgbus raises. Every one derives from ``MsgBusError``."""

from __future__ import annotations


class MsgBusError(Exception):
    """Base class of every error msgbus raises."""


class ConfigError(MsgBusError, ValueError):
    """The configuration is invalid; raised by ``connect`` before any network I/O."""


class ConnectError(MsgBusError, ConnectionError):
    """The broker could not be reached within the configured connect attempts."""


class BusClosedError(MsgBusError):
    """The bus was disconnected (or failed for good) and can no longer be used."""


class DirectionError(MsgBusError):
    """A writer-only call on a reader, or a reader-only call on a writer."""


class CallbackError(MsgBusError):
    """A callback misuse: not callable, a second ``register_cb``, or
    ``message_read`` while a callback is registered."""


class InvalidMessageError(MsgBusError, TypeError):
    """The message is not a ``str`` (or cannot be encoded as UTF-8)."""


class DeliveryError(MsgBusError):
    """A message was not delivered: rejected, too large, not authorised, or timed out.

    ``code`` is librdkafka's error name (``"MSG_SIZE_TOO_LARGE"``,
    ``"_MSG_TIMED_OUT"``, ...) when there is one.
    """

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class FlushError(DeliveryError):
    """``disconnect()`` could not deliver everything that was queued.

    ``undelivered`` is the exact number of messages that were not delivered.
    """

    def __init__(self, message: str, *, undelivered: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.undelivered = undelivered


class HandlerError(MsgBusError):
    """The handler failed on a message and the policy is ``Stop``: the reader stopped.

    The message was not committed: a new reader of the group reads it again.
    ``__cause__`` is the handler's last exception, when msgbus saw it.
    """

    def __init__(self, message: str, *, topic: str, partition: int, offset: int, attempts: int) -> None:
        super().__init__(message)
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.attempts = attempts
