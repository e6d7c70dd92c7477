"""MsgBusConfig.group_protocol: its checks, and the librdkafka settings each choice becomes."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import Consumer

import msgbus
from msgbus import MsgBusConfig
from msgbus._backends.kafka._config import GROUP_PROTOCOLS as CHOICES
from msgbus._backends.kafka._settings import GROUP_PROTOCOLS, consumer_settings, incremental


def make(**overrides: Any) -> MsgBusConfig:
    fields: dict[str, Any] = {"topic": "hb_events", "direction": msgbus.BusReader, "host": "127.0.0.1", "port": 1}
    fields.update(overrides)
    cfg = MsgBusConfig(**fields)
    cfg.validate()
    return cfg._normalized()


def settings(**overrides: Any) -> dict[str, Any]:
    return consumer_settings(make(**overrides), "workers", True, print)


def test_every_choice_has_its_settings() -> None:
    assert set(CHOICES) == set(GROUP_PROTOCOLS)


def test_the_default_is_the_go_originals_classic_eager_assignment() -> None:
    # A Go reader offers librdkafka's defaults (range, roundrobin); only these let it into the group.
    assert MsgBusConfig(topic="t", direction=msgbus.BusReader).group_protocol == "classic"
    found = settings()
    assert found["group.protocol"] == "classic"
    assert found["partition.assignment.strategy"] == "range,roundrobin"
    assert found["session.timeout.ms"] == 10000
    assert not incremental(make())


def test_classic_cooperative_is_cooperative_sticky() -> None:
    found = settings(group_protocol="classic-cooperative")
    assert found["group.protocol"] == "classic"
    assert found["partition.assignment.strategy"] == "cooperative-sticky"
    assert found["session.timeout.ms"] == 10000
    assert incremental(make(group_protocol="classic-cooperative"))


def test_consumer_is_kip_848_without_the_settings_it_leaves_to_the_broker() -> None:
    found = settings(group_protocol="consumer")
    assert found["group.protocol"] == "consumer"
    for key in ("partition.assignment.strategy", "session.timeout.ms", "heartbeat.interval.ms"):
        assert key not in found
    assert incremental(make(group_protocol="consumer"))


@pytest.mark.parametrize("protocol", CHOICES)
def test_librdkafka_accepts_each_protocols_settings(protocol: str) -> None:
    # librdkafka checks every setting (and their combination) when the client is created.
    consumer = Consumer(settings(group_protocol=protocol))
    consumer.close()


@pytest.mark.parametrize("value", ["eager", "cooperative-sticky", "CLASSIC", "", None, 1])
def test_a_bad_protocol_is_named(value: object) -> None:
    with pytest.raises(msgbus.ConfigError, match="group_protocol"):
        make(group_protocol=value)


@pytest.mark.parametrize("key", ["group.protocol", "partition.assignment.strategy"])
def test_kafka_settings_cannot_choose_the_protocol_behind_group_protocols_back(key: str) -> None:
    with pytest.raises(msgbus.ConfigError, match=rf"kafka_settings\['{key}'\].*use group_protocol"):
        make(kafka_settings={key: "range"})


@pytest.mark.parametrize("key", ["session.timeout.ms", "heartbeat.interval.ms", "group.protocol.type"])
def test_consumer_protocol_refuses_settings_the_broker_owns(key: str) -> None:
    with pytest.raises(msgbus.ConfigError, match=rf"kafka_settings\['{key}'\] is set by the broker"):
        make(group_protocol="consumer", kafka_settings={key: 10000})
    # The classic protocol takes them (the member's own session timeout, say).
    make(group_protocol="classic", kafka_settings={key: 10000} if key != "group.protocol.type" else {key: "consumer"})


def test_a_refusal_by_the_group_is_explained_once() -> None:
    from confluent_kafka import KafkaError

    from msgbus._backends.kafka._membership import Membership

    membership = Membership(make(group_protocol="classic-cooperative"), "workers")
    membership.saw(KafkaError(KafkaError._TRANSPORT))
    assert membership.refused is None
    membership.saw(KafkaError(KafkaError.INCONSISTENT_GROUP_PROTOCOL, "JoinGroup failed"))
    reason = membership.refused
    assert reason is not None
    for words in ("'workers'", "INCONSISTENT_GROUP_PROTOCOL", 'group_protocol="classic-cooperative"', "Go msgbus"):
        assert words in reason
    membership.saw(KafkaError(KafkaError.INCONSISTENT_GROUP_PROTOCOL, "again"))
    assert membership.refused == reason
