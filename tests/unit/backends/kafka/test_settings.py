"""MsgBusConfig -> librdkafka settings, and that librdkafka accepts them."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, Producer

import msgbus
from msgbus import MsgBusConfig
from msgbus._backends.kafka._settings import CLIENT_ID, bootstrap_servers, consumer_settings, producer_settings
from msgbus._log import LOG_PROXY
from msgbus._version import __version__


def make(**overrides: Any) -> MsgBusConfig:
    fields: dict[str, Any] = {"topic": "hb_events", "direction": msgbus.BusWriter}
    fields.update(overrides)
    cfg = MsgBusConfig(**fields)
    cfg.validate()
    return cfg


def on_error(err: Any) -> None:
    pass


# -- the settings ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("localhost", 9092, "localhost:9092"),
        ("kafka.example", 19092, "kafka.example:19092"),
        ("127.0.0.1", 1, "127.0.0.1:1"),
        ("::1", 9093, "[::1]:9093"),
        ("[::1]", 9093, "[::1]:9093"),
        ("fe80::1", 9092, "[fe80::1]:9092"),
    ],
)
def test_bootstrap_is_host_colon_port(host: str, port: int, expected: str) -> None:
    assert bootstrap_servers(make(host=host, port=port)) == expected


def test_common_settings_in_both() -> None:
    cfg = make(host="kafka.example", port=19092)
    for settings in (producer_settings(cfg, on_error), consumer_settings(cfg, "g", True, on_error)):
        assert settings["bootstrap.servers"] == "kafka.example:19092"
        assert settings["client.id"] == CLIENT_ID == f"msgbus-python/{__version__}"
        assert settings["logger"] is LOG_PROXY
        assert settings["error_cb"] is on_error


def test_blocking_producer() -> None:
    settings = producer_settings(make(blocking=msgbus.Blocking, write_timeout=12.5), on_error)
    assert settings["acks"] == "all"
    assert settings["enable.idempotence"] is True
    assert settings["linger.ms"] == 0
    assert settings["message.timeout.ms"] == 12500
    assert "delivery.report.only.error" not in settings


def test_default_write_timeout_becomes_message_timeout() -> None:
    assert producer_settings(make(), on_error)["message.timeout.ms"] == 30000


def test_non_blocking_producer() -> None:
    settings = producer_settings(make(blocking=msgbus.NonBlocking, write_timeout=7), on_error)
    assert settings["acks"] == "all"
    assert settings["enable.idempotence"] is True
    assert settings["linger.ms"] == 5
    assert settings["linger.ms"] > 0
    assert settings["delivery.report.only.error"] is True
    assert settings["message.timeout.ms"] == 7000


@pytest.mark.parametrize(
    ("write_timeout", "expected_ms"),
    [
        # Below a millisecond: never 0, which librdkafka takes for "no limit".
        (0.0001, 1),
        (0.001, 1),
        (0.0015, 2),
        (1, 1000),
        # Past librdkafka's 32-bit limit: capped, not wrapped.
        (1e7, 2**31 - 1),
        (4294967.296, 2**31 - 1),
    ],
)
def test_message_timeout_stays_in_librdkafkas_range(write_timeout: float, expected_ms: int) -> None:
    for blocking in (msgbus.Blocking, msgbus.NonBlocking):
        settings = producer_settings(make(blocking=blocking, write_timeout=write_timeout), on_error)
        assert settings["message.timeout.ms"] == expected_ms
        assert settings["linger.ms"] < settings["message.timeout.ms"]


@pytest.mark.parametrize("commits", [True, False])
def test_consumer(commits: bool) -> None:
    settings = consumer_settings(make(direction=msgbus.BusReader), "workers", commits, on_error)
    assert settings["group.id"] == "workers"
    assert settings["auto.offset.reset"] == "latest"
    assert settings["session.timeout.ms"] == 10000
    assert settings["enable.auto.offset.store"] is False
    assert settings["enable.auto.commit"] is commits
    assert settings["enable.partition.eof"] is False


def test_settings_are_fresh_dicts() -> None:
    cfg = make()
    first = producer_settings(cfg, on_error)
    first["acks"] = "0"
    assert producer_settings(cfg, on_error)["acks"] == "all"


# -- librdkafka accepts them ------------------------------------------------------------
#
# Creating a client checks every setting; it does not wait for a broker (it only
# starts connecting in the background). 127.0.0.1:1 refuses at once.


@pytest.fixture
def errors() -> list[Any]:
    return []


def _producer_cfg(**overrides: Any) -> MsgBusConfig:
    return make(host="127.0.0.1", port=1, **overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"blocking": msgbus.Blocking},
        {"blocking": msgbus.NonBlocking},
        {"blocking": msgbus.NonBlocking, "write_timeout": 0.001},
        {"blocking": msgbus.NonBlocking, "write_timeout": 0.005},
        {"blocking": msgbus.Blocking, "write_timeout": 1e7},
    ],
    ids=["blocking", "non-blocking", "non-blocking-1ms", "non-blocking-5ms", "huge-timeout"],
)
def test_librdkafka_accepts_producer_settings(overrides: dict[str, Any], errors: list[Any]) -> None:
    producer = Producer(producer_settings(_producer_cfg(**overrides), errors.append))
    producer.close()


@pytest.mark.parametrize("commits", [True, False])
def test_librdkafka_accepts_consumer_settings(commits: bool, errors: list[Any]) -> None:
    cfg = make(host="127.0.0.1", port=1, direction=msgbus.BusReader)
    consumer = Consumer(consumer_settings(cfg, "unit-group", commits, errors.append))
    consumer.close()


def test_librdkafka_does_check_settings_at_construction(errors: list[Any]) -> None:
    # Makes the two tests above meaningful: a bad combination fails right here.
    settings = producer_settings(_producer_cfg(blocking=msgbus.NonBlocking), errors.append)
    settings["message.timeout.ms"] = settings["linger.ms"]
    with pytest.raises(KafkaException, match=r"`linger\.ms`"):
        Producer(settings)
