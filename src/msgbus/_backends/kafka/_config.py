"""The Kafka backend's own config checks: the fields only Kafka uses, and Kafka's topic-name rule.

The registry (``msgbus._backends``) runs ``validate`` after the generic checks of ``msgbus._config``,
on the copy that ``MsgBusConfig._normalized()`` returns; so it may normalize the fields in place.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Mapping
from typing import NamedTuple

from ..._config import MsgBusConfig, check_host, choice_field, str_field
from ..._errors import ConfigError
from ..._failure import check_policy

# Kafka's topic-name rule (kafka.common.internals.Topic): 1..249 of [a-zA-Z0-9._-], not "." or "..".
_TOPIC_CHARS = re.compile(r"[a-zA-Z0-9._-]+")
_TOPIC_MAX_LEN = 249

_OFFSET_RESETS = ("latest", "earliest")

#: MsgBusConfig.group_protocol's choices (their librdkafka settings: ``_settings.GROUP_PROTOCOLS``).
GROUP_PROTOCOLS = ("classic", "classic-cooperative", "consumer")
# Settings the KIP-848 protocol leaves to the broker; librdkafka refuses them with group.protocol=consumer.
_BROKER_SIDE = {
    "session.timeout.ms": "group.consumer.session.timeout.ms",
    "heartbeat.interval.ms": "group.consumer.heartbeat.interval.ms",
    "group.protocol.type": "",
}


class Kind(enum.Enum):
    """How a security field is checked."""

    STR = "str"
    #: A path that must name a readable file.
    FILE = "file"
    #: Upper-cased, then one of the field's choices.
    CHOICE = "choice"


class SecurityField(NamedTuple):
    setting: str  # the librdkafka key the field becomes
    kind: Kind
    choices: tuple[str, ...] = ()


#: MsgBusConfig's security fields: the one table both these checks and ``_settings`` use.
SECURITY: dict[str, SecurityField] = {
    "security_protocol": SecurityField(
        "security.protocol", Kind.CHOICE, ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
    ),
    "sasl_mechanism": SecurityField("sasl.mechanism", Kind.CHOICE, ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")),
    "sasl_username": SecurityField("sasl.username", Kind.STR),
    "sasl_password": SecurityField("sasl.password", Kind.STR),
    "ssl_ca_location": SecurityField("ssl.ca.location", Kind.FILE),
    "ssl_certificate_location": SecurityField("ssl.certificate.location", Kind.FILE),
    "ssl_key_location": SecurityField("ssl.key.location", Kind.FILE),
    "ssl_key_password": SecurityField("ssl.key.password", Kind.STR),
}

# librdkafka settings msgbus owns, and what to use instead.
_OWNED_SETTINGS = {
    "bootstrap.servers": "use bootstrap_servers (or host and port)",
    "group.id": "use group_id",
    "enable.auto.commit": "msgbus commits what the application has read",
    "enable.auto.offset.store": "msgbus stores offsets of what the application has read",
    "auto.offset.reset": "use offset_reset",
    "group.protocol": "use group_protocol",
    "partition.assignment.strategy": "use group_protocol",
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


def validate(cfg: MsgBusConfig) -> None:
    """Raise ``ConfigError`` naming the first invalid Kafka field of ``cfg``; normalize them in place."""
    check_topic(cfg.topic)
    # A dead-letter topic is a Kafka topic too (the generic check saw only that it is a non-empty str).
    check_policy(cfg.on_handler_error, cfg.topic, check_topic)
    _check_bootstrap_servers(cfg.bootstrap_servers)
    choice_field("offset_reset", cfg.offset_reset, _OFFSET_RESETS)
    choice_field("group_protocol", cfg.group_protocol, GROUP_PROTOCOLS)
    _check_security(cfg)
    cfg.kafka_settings = _checked_settings(cfg.kafka_settings)
    if cfg.group_protocol == "consumer":
        _check_broker_side(cfg.kafka_settings)


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
            check_host(host)
        except ConfigError as exc:
            raise ConfigError(f"bootstrap_servers entry {entry!r}: {exc}") from None


def _check_security(cfg: MsgBusConfig) -> None:
    for name, field in SECURITY.items():
        value = getattr(cfg, name)
        str_field(name, value)
        if field.kind is Kind.CHOICE:
            setattr(cfg, name, value.upper())
    protocol = choice_field("security_protocol", cfg.security_protocol, SECURITY["security_protocol"].choices)
    if protocol.startswith("SASL_"):
        choice_field("sasl_mechanism", cfg.sasl_mechanism, SECURITY["sasl_mechanism"].choices)
        if not cfg.sasl_username or not cfg.sasl_password:
            raise ConfigError(f"sasl_username and sasl_password are required with {protocol}")
    elif cfg.sasl_mechanism or cfg.sasl_username or cfg.sasl_password:
        raise ConfigError(f"sasl_* fields need a SASL_* security_protocol, not {protocol}")
    for name, field in SECURITY.items():
        path = getattr(cfg, name)
        if field.kind is Kind.FILE and path and not os.path.isfile(path):
            raise ConfigError(f"{name} {path!r} is not a readable file")
    if bool(cfg.ssl_certificate_location) != bool(cfg.ssl_key_location):
        raise ConfigError("ssl_certificate_location and ssl_key_location go together (mutual TLS)")


def _check_broker_side(settings: Mapping[str, object]) -> None:
    """group_protocol="consumer": the group's timing is the broker's, and librdkafka refuses these."""
    for key, broker_key in _BROKER_SIDE.items():
        if key in settings:
            where = f" (the broker's {broker_key})" if broker_key else ""
            raise ConfigError(f'kafka_settings[{key!r}] is set by the broker{where} with group_protocol="consumer"')


def _checked_settings(settings: object) -> dict[str, str | int | float | bool]:
    """The extra librdkafka settings, copied: later changes to the caller's mapping cannot reach a bus."""
    if not isinstance(settings, Mapping):
        raise ConfigError(f"kafka_settings must be a mapping, not {type(settings).__name__}")
    for key, value in settings.items():
        if not isinstance(key, str):
            raise ConfigError(f"kafka_settings keys must be str, not {type(key).__name__}")
        if key in _OWNED_SETTINGS:
            raise ConfigError(f"kafka_settings[{key!r}] is set by msgbus; {_OWNED_SETTINGS[key]}")
        if not isinstance(value, (str, int, float, bool)):
            raise ConfigError(f"kafka_settings[{key!r}] must be a str, int, float or bool, not {type(value).__name__}")
    return dict(settings)
