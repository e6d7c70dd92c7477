"""Configuration: the spec's enums and constants, MsgBusConfig and its validation."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from enum import IntEnum
from typing import TypeVar

from ._errors import ConfigError


class MsgBusTech(IntEnum):
    """Which message bus technology to use."""

    KAFKA = 1


class BlockingMode(IntEnum):
    """Whether writes wait for the broker's acknowledgement (and reads for a message)."""

    NON_BLOCKING = 1
    BLOCKING = 2


class BusStatus(IntEnum):
    """What :meth:`MsgBusIO.status` reports."""

    OPEN = 1
    CLOSED = 2


class BusDir(IntEnum):
    """A bus connection is one-way: a writer or a reader."""

    WRITER = 1
    READER = 2


# The spec's constant names, as the enum members themselves.
BusTechKafka = MsgBusTech.KAFKA
NonBlocking = BlockingMode.NON_BLOCKING
Blocking = BlockingMode.BLOCKING
StatusOpen = BusStatus.OPEN
StatusClosed = BusStatus.CLOSED
BusWriter = BusDir.WRITER
BusReader = BusDir.READER

#: A received-message callback: called with each message, in order.
CBFunc = Callable[[str], None]
#: Kept from the spec's type list; the Go package declares but never uses them.
SubscriptionToken = int
CallbackToken = int

# Kafka's topic-name rule (kafka.common.internals.Topic): 1..249 of [a-zA-Z0-9._-], not "." or "..".
_TOPIC_CHARS = re.compile(r"[a-zA-Z0-9._-]+")
_TOPIC_MAX_LEN = 249
_HOST_CHARS = re.compile(r"[A-Za-z0-9._\-:\[\]]+")

_E = TypeVar("_E", bound=IntEnum)


@dataclasses.dataclass(kw_only=True)
class MsgBusConfig:
    """How to connect: the spec's ``MsgBusConfig`` with snake_case field names.

    ``topic`` and ``direction`` are required. ``connect_retries=0`` means keep
    trying for ever, as in the Go package. The timeouts are in seconds.
    """

    bus_tech: MsgBusTech = MsgBusTech.KAFKA
    host: str = "localhost"
    port: int = 9092
    blocking: BlockingMode = BlockingMode.BLOCKING
    direction: BusDir
    connect_retries: int = 0
    topic: str
    #: Readers sharing a group id share the topic's messages; "" gives each
    #: reader a group of its own, so that it sees every message.
    group_id: str = ""
    #: Bound on one connect attempt (metadata round-trip, reader's assignment).
    connect_timeout: float = 10.0
    #: Bound on a Blocking write's acknowledgement, and on a NonBlocking
    #: write's wait for room in a full local queue.
    write_timeout: float = 30.0
    #: Bound on the flush that ``disconnect()`` does on a writer.
    flush_timeout: float = 30.0
    #: Capacity of a reader's local queue (what ``message_available`` counts).
    read_queue_size: int = 1000

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid field."""
        self.bus_tech = _enum_field("bus_tech", self.bus_tech, MsgBusTech)
        self.blocking = _enum_field("blocking", self.blocking, BlockingMode)
        self.direction = _enum_field("direction", self.direction, BusDir)
        _check_host(self.host)
        _int_field("port", self.port, 1, 65535)
        _int_field("connect_retries", self.connect_retries, 0, None)
        _int_field("read_queue_size", self.read_queue_size, 1, None)
        check_topic(self.topic)
        if not isinstance(self.group_id, str):
            raise ConfigError(f"group_id must be a str, not {type(self.group_id).__name__}")
        for name in ("connect_timeout", "write_timeout", "flush_timeout"):
            _seconds_field(name, getattr(self, name))


def check_topic(topic: object) -> None:
    """Raise :class:`ConfigError` unless ``topic`` is a legal Kafka topic name."""
    if not isinstance(topic, str):
        raise ConfigError(f"topic must be a str, not {type(topic).__name__}")
    if not topic:
        raise ConfigError("topic must not be empty")
    if topic in (".", ".."):
        raise ConfigError(f"topic {topic!r} is not allowed by Kafka")
    if len(topic) > _TOPIC_MAX_LEN:
        raise ConfigError(f"topic is {len(topic)} characters long; Kafka allows at most {_TOPIC_MAX_LEN}")
    if not _TOPIC_CHARS.fullmatch(topic):
        raise ConfigError(
            f"topic {topic!r} has characters Kafka does not allow; use only ASCII letters, digits, '.', '_' and '-'"
        )


def _enum_field(name: str, value: object, enum: type[_E]) -> _E:
    allowed = ", ".join(f"{m.name}={m.value}" for m in enum)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a {enum.__name__} ({allowed}), not {type(value).__name__}")
    try:
        return enum(value)
    except ValueError:
        raise ConfigError(f"{name} is {value!r}; it must be one of {allowed}") from None


def _int_field(name: str, value: object, low: int, high: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an int, not {type(value).__name__}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ConfigError(f"{name} is {value}; it must be {bound}")


def _seconds_field(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} is {value!r}; it must be a positive, finite number of seconds")


def _check_host(host: object) -> None:
    if not isinstance(host, str):
        raise ConfigError(f"host must be a str, not {type(host).__name__}")
    if not host:
        raise ConfigError("host must not be empty")
    if not _HOST_CHARS.fullmatch(host):
        raise ConfigError(f"host {host!r} is not a valid host name or address")
