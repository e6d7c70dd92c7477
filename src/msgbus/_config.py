"""Configuration: the spec's enums and constants, MsgBusConfig and the checks of its generic fields.

Each backend checks its own fields (Kafka's: ``msgbus._backends.kafka._config``). This module, the foundation,
names no backend: the registry (``msgbus._backends``, which ``import msgbus`` loads) hands it the
function that runs the backend's checks, through ``set_backend_checks``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from enum import IntEnum
from typing import Any, TypeVar

from ._errors import ConfigError
from ._failure import Drop, Policy, check_policy
from ._tracing import check_available as check_tracing_available


class MsgBusTech(IntEnum):
    """Which message bus technology to use."""

    #: Apache Kafka, through librdkafka.
    KAFKA = 1
    #: An in-process bus for unit tests: no broker, no network (see ``msgbus._backends.memory``).
    MEMORY = 2


class BlockingMode(IntEnum):
    """Whether writes wait for the broker's acknowledgement (and reads for a message)."""

    NON_BLOCKING = 1
    BLOCKING = 2


class BusStatus(IntEnum):
    """What ``MsgBusIO.status()`` reports."""

    OPEN = 1
    CLOSED = 2


class BusDir(IntEnum):
    """A bus connection is one-way: a writer or a reader."""

    WRITER = 1
    READER = 2


# The spec's constant names, as the enum members themselves.
BusTechKafka = MsgBusTech.KAFKA
BusTechMemory = MsgBusTech.MEMORY
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

_HOST_CHARS = re.compile(r"[A-Za-z0-9._\-:\[\]]+")

_E = TypeVar("_E", bound=IntEnum)

# Runs the backend's own checks on a config whose generic fields passed; see set_backend_checks.
_backend_checks: Callable[[MsgBusConfig], None] | None = None


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
    #: What a reader does when its handler raises: Retry(...), Drop(), DeadLetter(topic) or Stop() (msgbus._failure).
    on_handler_error: Policy = dataclasses.field(default_factory=Drop)
    #: ``health()``: a reader whose messages wait with none finished, or a writer whose writes are
    #: queued (or failing) with none delivered, for this many seconds is stuck.
    stuck_after: float = 60.0
    #: ``health()``: a reader whose application holds one message longer than this (seconds) is stuck.
    max_hold: float = 300.0
    #: ``metrics()``: time each handler (or callback) call and each Blocking write's acknowledgement
    #: (a clock read or two per message; off by default).
    timings: bool = False
    #: OpenTelemetry spans for writes and handler calls, and W3C trace context in the written messages'
    #: headers (needs the ``otel`` extra; off by default, and then nothing changes on the wire).
    tracing: bool = False
    # Kafka's own fields, checked by msgbus._backends.kafka._config (other backends ignore them).
    #: Several brokers, "host1:port1,host2:port2"; when set, ``host`` and ``port`` are not used.
    bootstrap_servers: str = ""
    #: Where a reader with no committed offset starts: "latest" (the spec's) or "earliest".
    offset_reset: str = "latest"
    #: How a named group shares the topic's partitions as members come and go (docs/rebalances.md):
    #: "classic" (the classic protocol, eager range/roundrobin assignment, as the Go original: every
    #: member stops while partitions move; mixes with Go readers), "classic-cooperative" (the classic
    #: protocol, cooperative-sticky: only the moved partitions stop; refuses Go readers) or "consumer"
    #: (KIP-848, brokers of Kafka 4.0 and later: the broker assigns, incrementally).
    group_protocol: str = "classic"
    #: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
    security_protocol: str = "PLAINTEXT"
    #: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, with the SASL_* protocols.
    sasl_mechanism: str = ""
    sasl_username: str = ""
    sasl_password: str = dataclasses.field(default="", repr=False)
    #: CA certificate (PEM file) that signed the brokers' certificates.
    ssl_ca_location: str = ""
    #: Client certificate and key (PEM files), for mutual TLS.
    ssl_certificate_location: str = ""
    ssl_key_location: str = ""
    ssl_key_password: str = dataclasses.field(default="", repr=False)
    #: Further librdkafka settings, applied last; unknown keys fail at connect.
    kafka_settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the first invalid field. Changes nothing."""
        self._normalized()

    def _normalized(self) -> MsgBusConfig:
        """A validated copy: the enum fields as enum members, the backend's own fields as it normalizes them."""
        cfg = dataclasses.replace(self)
        cfg.bus_tech = _enum_field("bus_tech", self.bus_tech, MsgBusTech)
        cfg.blocking = _enum_field("blocking", self.blocking, BlockingMode)
        cfg.direction = _enum_field("direction", self.direction, BusDir)
        check_host(self.host)
        _int_field("port", self.port, 1, 65535)
        _int_field("connect_retries", self.connect_retries, 0, None)
        _int_field("read_queue_size", self.read_queue_size, 1, None)
        str_field("topic", self.topic)
        if not self.topic:
            raise ConfigError("topic must not be empty")
        str_field("group_id", self.group_id)
        for name in ("connect_timeout", "write_timeout", "flush_timeout", "stuck_after", "max_hold"):
            _seconds_field(name, getattr(self, name))
        for name in ("timings", "tracing"):
            _bool_field(name, getattr(self, name))
        if self.tracing:
            check_tracing_available()
        check_policy(self.on_handler_error, self.topic)
        if _backend_checks is None:  # pragma: no cover - msgbus/__init__ imports the registry
            raise AssertionError("no backend checks: import msgbus (its registry, msgbus._backends) first")
        # The backend's own fields: on the copy, which it may normalize (e.g. upper-case a choice).
        _backend_checks(cfg)
        return cfg

    @classmethod
    def parse(cls, spec: str, **fields: Any) -> MsgBusConfig:
        """A config from the "host:port:topic" string CSM services pass in their environment.

        ``fields`` sets the rest, e.g. ``MsgBusConfig.parse(os.environ["KAFKA"], direction=BusReader)``.
        """
        if not isinstance(spec, str):
            raise ConfigError(f"parse needs a 'host:port:topic' str, not {type(spec).__name__}")
        parts = spec.strip().rsplit(":", 2)
        if len(parts) != 3 or not all(parts):
            raise ConfigError(f"{spec!r} is not of the form 'host:port:topic'")
        host, port_text, topic = parts
        try:
            port = int(port_text)
        except ValueError:
            raise ConfigError(f"the port in {spec!r} is not a number: {port_text!r}") from None
        return cls(host=host.strip("[]") if host.startswith("[") else host, port=port, topic=topic, **fields)


def set_backend_checks(check: Callable[[MsgBusConfig], None]) -> None:
    """Install the function that runs a config's backend checks (the registry's; it raises ``ConfigError``)."""
    global _backend_checks
    _backend_checks = check


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


def _bool_field(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be True or False, not {value!r}")


def str_field(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a str, not {type(value).__name__}")


def choice_field(name: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a str, not {type(value).__name__}")
    if value not in choices:
        raise ConfigError(f"{name} is {value!r}; it must be one of {', '.join(choices)}")
    return value


def check_host(host: object) -> None:
    if not isinstance(host, str):
        raise ConfigError(f"host must be a str, not {type(host).__name__}")
    if not host:
        raise ConfigError("host must not be empty")
    if not _HOST_CHARS.fullmatch(host):
        raise ConfigError(f"host {host!r} is not a valid host name or address")
    if any(c in host for c in ":[]"):
        # Only an IPv6 address (bracketed or not) has these; "kafka:9093" is a port in the wrong field.
        literal = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            raise ConfigError(
                f"host {host!r} is not a valid host name or address (give the port in port, not in host)"
            ) from None
