"""Each backend checks its own fields: Kafka's rules are Kafka's alone; the in-process bus ignores them."""

from __future__ import annotations

from typing import Any

import pytest

import msgbus
from msgbus import MsgBusConfig
from msgbus._backends.kafka._config import check_topic


def make(**overrides: Any) -> MsgBusConfig:
    fields: dict[str, Any] = {"topic": "hb_events", "direction": msgbus.BusWriter}
    fields.update(overrides)
    return MsgBusConfig(**fields)


NOT_KAFKA_TOPICS = ["a b", "x" * 300, "hb/events", "tópico"]


@pytest.mark.parametrize("topic", NOT_KAFKA_TOPICS)
def test_kafkas_topic_rule_is_kafkas_alone(topic: str) -> None:
    make(bus_tech=msgbus.BusTechMemory, topic=topic).validate()
    with pytest.raises(msgbus.ConfigError, match="Kafka") as info:
        make(bus_tech=msgbus.BusTechKafka, topic=topic).validate()
    with pytest.raises(msgbus.ConfigError) as direct:
        check_topic(topic)
    assert str(info.value) == str(direct.value)


def test_every_backend_needs_a_topic() -> None:
    for tech in msgbus.MsgBusTech:
        with pytest.raises(msgbus.ConfigError, match="topic must not be empty"):
            make(bus_tech=tech, topic="").validate()
        with pytest.raises(msgbus.ConfigError, match="topic must be a str"):
            make(bus_tech=tech, topic=5).validate()


def test_kafkas_fields_are_not_the_memory_backends() -> None:
    # What only Kafka uses is Kafka's to check; the in-process bus ignores it, as it does host and port.
    kafka_only = {
        "security_protocol": "TLS",
        "offset_reset": "never",
        "group_protocol": "eager",
        "kafka_settings": {"group.id": "x"},
    }
    make(bus_tech=msgbus.BusTechMemory, **kafka_only).validate()
    for name, value in kafka_only.items():
        with pytest.raises(msgbus.ConfigError, match=name):
            make(**{name: value}).validate()


def test_the_normalized_copy_has_kafkas_fields_normalized() -> None:
    settings = {"linger.ms": 3}
    cfg = make(security_protocol="ssl", kafka_settings=settings)._normalized()
    assert cfg.security_protocol == "SSL"
    assert cfg.kafka_settings == settings
    assert type(cfg.kafka_settings) is dict and cfg.kafka_settings is not settings


def test_a_dead_letter_topic_follows_kafkas_rule_on_kafka_only() -> None:
    policy = msgbus.DeadLetter("hb events.dlq")
    make(bus_tech=msgbus.BusTechMemory, on_handler_error=policy).validate()
    with pytest.raises(msgbus.ConfigError) as info:
        make(on_handler_error=policy).validate()
    assert str(info.value).startswith("on_handler_error: the DeadLetter topic 'hb events.dlq' has characters Kafka")
