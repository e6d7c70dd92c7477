"""``msgbus.testing.librdkafka_settings``: the settings msgbus's own clients get, for a raw client to run with."""

from __future__ import annotations

from typing import Any

import confluent_kafka
import pytest

import msgbus
from msgbus.testing import librdkafka_settings


def config(direction: msgbus.BusDir, **fields: Any) -> msgbus.MsgBusConfig:
    return msgbus.MsgBusConfig(topic="t", direction=direction, bootstrap_servers="127.0.0.1:9", **fields)


def test_a_blocking_writer_waits_for_every_replica_and_does_not_linger() -> None:
    settings = librdkafka_settings(config(msgbus.BusWriter, write_timeout=60))
    assert settings["bootstrap.servers"] == "127.0.0.1:9"
    assert settings["acks"] == "all" and settings["enable.idempotence"] is True
    assert settings["linger.ms"] == 0 and settings["message.timeout.ms"] == 60000
    assert "delivery.report.only.error" not in settings


def test_a_nonblocking_writer_batches_and_reports_only_failures() -> None:
    settings = librdkafka_settings(config(msgbus.BusWriter, blocking=msgbus.NonBlocking))
    assert settings["linger.ms"] == 5 and settings["delivery.report.only.error"] is True


def test_a_reader_without_a_group_gets_a_private_one_and_commits_nothing() -> None:
    first = librdkafka_settings(config(msgbus.BusReader, offset_reset="earliest"))
    second = librdkafka_settings(config(msgbus.BusReader))
    assert first["group.id"].startswith("msgbus-t-") and first["group.id"] != second["group.id"]
    assert first["enable.auto.commit"] is False and first["enable.auto.offset.store"] is False
    assert first["auto.offset.reset"] == "earliest"


def test_a_reader_in_a_group_commits_what_it_finished() -> None:
    settings = librdkafka_settings(config(msgbus.BusReader, group_id="workers"))
    assert settings["group.id"] == "workers" and settings["enable.auto.commit"] is True


def test_the_users_settings_and_normalized_fields_come_through() -> None:
    cfg = config(msgbus.BusWriter, security_protocol="plaintext", kafka_settings={"batch.num.messages": 77})
    settings = librdkafka_settings(cfg)
    assert settings["security.protocol"] == "PLAINTEXT" and settings["batch.num.messages"] == 77


@pytest.mark.parametrize("direction", [msgbus.BusWriter, msgbus.BusReader])
def test_a_raw_client_accepts_them_and_they_hold_no_python_objects(direction: msgbus.BusDir) -> None:
    settings = librdkafka_settings(config(direction))
    assert all(isinstance(value, (str, int, bool)) for value in settings.values()), settings
    client = (confluent_kafka.Producer if direction is msgbus.BusWriter else confluent_kafka.Consumer)(settings)
    if isinstance(client, confluent_kafka.Consumer):
        client.close()


def test_a_config_connect_would_refuse_raises() -> None:
    with pytest.raises(msgbus.ConfigError, match="topic"):
        librdkafka_settings(msgbus.MsgBusConfig(topic="", direction=msgbus.BusWriter))
    with pytest.raises(msgbus.ConfigError, match="Kafka config"):
        librdkafka_settings(config(msgbus.BusWriter, bus_tech=msgbus.BusTechMemory))
