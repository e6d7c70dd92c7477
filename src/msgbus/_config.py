"""Configuration: the spec's enums and constants, MsgBusConfig and its validation."""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import re
from collections.abc import Callable, Mapping
from enum import IntEnum
from typing import Any, TypeVar

from ._errors import ConfigError


class MsgBusTech(IntEnum):
    """Which message bus technology to use."""

    #: Apache Kafka, through librdkafka.
    KAFKA = 1
    #: An in-process bus for unit tests: no broker, no network (see ``msgbus._memory``).
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

# Kafka's topic-name rule (kafka.common.internals.Topic): 1..249 of [a-zA-Z0-9._-], not "." or "..".
_TOPIC_CHARS = re.compile(r"[a-zA-Z0-9._-]+")
_TOPIC_MAX_LEN = 249
_HOST_CHARS = re.compile(r"[A-Za-z0-9._\-:\[\]]+")

_E = TypeVar("_E", bound=IntEnum)

_OFFSET_RESETS = ("latest", "earliest")
_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_SECURITY_STR_FIELDS = (
    "sasl_mechanism",
    "sasl_username",
    "sasl_password",
    "ssl_ca_location",
    "ssl_certificate_location",
    "ssl_key_location",
    "ssl_key_password",
)
_FILE_FIELDS = ("ssl_ca_location", "ssl_certificate_location", "ssl_key_location")
# librdkafka settings msgbus owns, and what to use instead.
_OWNED_SETTINGS = {
    "bootstrap.servers": "use bootstrap_servers (or host and port)",
    "group.id": "use group_id",
    "enable.auto.commit": "msgbus commits what the application has read",
    "enable.auto.offset.store": "msgbus stores offsets of what the application has read",
    "auto.offset.reset": "use offset_reset",
    "security.protocol": "use security_protocol",
    "sasl.mechanism": "use sasl_mechanism",
    "sasl.mechanisms": "use sasl_mechanism",
    "sasl.username": "use sasl_username",
    "sasl.password": "use sasl_password",
    "on_delivery": "msgbus reports deliveries itself",
    "delivery.report.only.error": "msgbus reports deliveries itself",
    "error_cb": "msgbus logs client errors itself",
    "logger": "use msgbus.set_logger",
}


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
    #: Several brokers, "host1:port1,host2:port2"; when set, ``host`` and ``port`` are not used.
    bootstrap_servers: str = ""
    #: Where a reader with no committed offset starts: "latest" (the spec's) or "earliest".
    offset_reset: str = "latest"
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
        """A validated copy with the enum fields as enum members."""
        cfg = dataclasses.replace(self)
        cfg.bus_tech = _enum_field("bus_tech", self.bus_tech, MsgBusTech)
        cfg.blocking = _enum_field("blocking", self.blocking, BlockingMode)
        cfg.direction = _enum_field("direction", self.direction, BusDir)
        _check_host(self.host)
        _int_field("port", self.port, 1, 65535)
        _int_field("connect_retries", self.connect_retries, 0, None)
        _int_field("read_queue_size", self.read_queue_size, 1, None)
        check_topic(self.topic)
        _str_field("group_id", self.group_id)
        for name in ("connect_timeout", "write_timeout", "flush_timeout"):
            _seconds_field(name, getattr(self, name))
        _check_bootstrap_servers(self.bootstrap_servers)
        _choice_field("offset_reset", self.offset_reset, _OFFSET_RESETS)
        cfg.security_protocol = _choice_field(
            "security_protocol",
            self.security_protocol.upper() if isinstance(self.security_protocol, str) else self.security_protocol,
            _SECURITY_PROTOCOLS,
        )
        for name in _SECURITY_STR_FIELDS:
            _str_field(name, getattr(self, name))
        cfg.sasl_mechanism = self.sasl_mechanism.upper()
        _check_security(cfg)
        if not isinstance(self.kafka_settings, Mapping):
            raise ConfigError(f"kafka_settings must be a mapping, not {type(self.kafka_settings).__name__}")
        for key, value in self.kafka_settings.items():
            if not isinstance(key, str):
                raise ConfigError(f"kafka_settings keys must be str, not {type(key).__name__}")
            if key in _OWNED_SETTINGS:
                raise ConfigError(f"kafka_settings[{key!r}] is set by msgbus; {_OWNED_SETTINGS[key]}")
            if not isinstance(value, (str, int, float, bool)):
                raise ConfigError(
                    f"kafka_settings[{key!r}] must be a str, int, float or bool, not {type(value).__name__}"
                )
        cfg.kafka_settings = dict(self.kafka_settings)
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


def check_topic(topic: object) -> None:
    """Raise ``ConfigError`` unless ``topic`` is a legal Kafka topic name."""
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


def _str_field(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a str, not {type(value).__name__}")


def _choice_field(name: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a str, not {type(value).__name__}")
    if value not in choices:
        raise ConfigError(f"{name} is {value!r}; it must be one of {', '.join(choices)}")
    return value


def _check_bootstrap_servers(servers: object) -> None:
    if not isinstance(servers, str):
        raise ConfigError(f"bootstrap_servers must be a str, not {type(servers).__name__}")
    if not servers:
        return
    for entry in servers.split(","):
        entry = entry.strip()
        host, sep, port = entry.rpartition(":")
        if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ConfigError(f"bootstrap_servers entry {entry!r} is not of the form host:port")
        try:
            _check_host(host)
        except ConfigError as exc:
            raise ConfigError(f"bootstrap_servers entry {entry!r}: {exc}") from None


def _check_security(cfg: MsgBusConfig) -> None:
    sasl = cfg.security_protocol.startswith("SASL_")
    if sasl:
        _choice_field("sasl_mechanism", cfg.sasl_mechanism, _SASL_MECHANISMS)
        if not cfg.sasl_username or not cfg.sasl_password:
            raise ConfigError(f"sasl_username and sasl_password are required with {cfg.security_protocol}")
    elif cfg.sasl_mechanism or cfg.sasl_username or cfg.sasl_password:
        raise ConfigError(f"sasl_* fields need a SASL_* security_protocol, not {cfg.security_protocol}")
    for name in _FILE_FIELDS:
        path = getattr(cfg, name)
        if path and not os.path.isfile(path):
            raise ConfigError(f"{name} {path!r} is not a readable file")
    if bool(cfg.ssl_certificate_location) != bool(cfg.ssl_key_location):
        raise ConfigError("ssl_certificate_location and ssl_key_location go together (mutual TLS)")


def _check_host(host: object) -> None:
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
