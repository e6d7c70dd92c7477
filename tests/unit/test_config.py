"""MsgBusConfig: defaults, required fields, and validation (by validate() and by connect())."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

import msgbus
import msgbus._backends.kafka
import msgbus._backends.kafka._reader
import msgbus._backends.kafka._writer
from msgbus import MsgBusConfig
from msgbus._backends.kafka._config import check_topic
from msgbus._config import BlockingMode, BusDir, MsgBusTech


def make(**overrides: Any) -> MsgBusConfig:
    fields: dict[str, Any] = {"topic": "hb_events", "direction": msgbus.BusWriter}
    fields.update(overrides)
    return MsgBusConfig(**fields)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail the test if connect() gets as far as opening a Kafka client."""
    calls: list[str] = []

    def forbidden(what: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            calls.append(what)
            pytest.fail(f"{what} was called: connect() went past validation")

        return fail

    monkeypatch.setattr(msgbus._backends.kafka, "open_kafka_bus", forbidden("open_kafka_bus"))
    monkeypatch.setattr(msgbus._backends.kafka._writer, "Producer", forbidden("Producer"))
    monkeypatch.setattr(msgbus._backends.kafka._reader, "Consumer", forbidden("Consumer"))
    return calls


# -- defaults and construction ---------------------------------------------------


def test_defaults() -> None:
    cfg = MsgBusConfig(topic="t", direction=msgbus.BusReader)
    assert cfg.bus_tech is MsgBusTech.KAFKA
    assert cfg.host == "localhost"
    assert cfg.port == 9092
    assert cfg.blocking is msgbus.Blocking
    assert cfg.connect_retries == 0
    assert cfg.group_id == ""
    assert cfg.topic == "t"
    assert cfg.direction is msgbus.BusReader
    assert cfg.connect_timeout == 10.0
    assert cfg.write_timeout == 30.0
    assert cfg.flush_timeout == 30.0
    assert cfg.read_queue_size == 1000


def test_defaults_validate() -> None:
    make().validate()


@pytest.mark.parametrize("missing", ["topic", "direction"])
def test_topic_and_direction_are_required(missing: str) -> None:
    fields: dict[str, Any] = {"topic": "t", "direction": msgbus.BusWriter}
    del fields[missing]
    with pytest.raises(TypeError, match=missing):
        MsgBusConfig(**fields)


def test_fields_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        MsgBusConfig(msgbus.BusTechKafka, "localhost", 9092)  # type: ignore[call-arg]
    params = dataclasses.fields(MsgBusConfig)
    assert all(f.kw_only for f in params)


def test_field_names_follow_the_spec() -> None:
    names = [f.name for f in dataclasses.fields(MsgBusConfig)]
    # The spec's seven fields, snake_case, in the spec's order, then ours.
    assert names[:7] == ["bus_tech", "host", "port", "blocking", "direction", "connect_retries", "topic"]
    assert set(names[7:]) == {
        "group_id",
        "connect_timeout",
        "write_timeout",
        "flush_timeout",
        "read_queue_size",
        "bootstrap_servers",
        "offset_reset",
        "group_protocol",
        "security_protocol",
        "sasl_mechanism",
        "sasl_username",
        "sasl_password",
        "ssl_ca_location",
        "ssl_certificate_location",
        "ssl_key_location",
        "ssl_key_password",
        "kafka_settings",
        "on_handler_error",
        "stuck_after",
        "max_hold",
        "timings",
        "tracing",
    }


# -- invalid configurations ------------------------------------------------------

INVALID: list[tuple[str, Any]] = [
    # health thresholds and switches
    ("stuck_after", 0),
    ("stuck_after", float("inf")),
    ("max_hold", -1.0),
    ("max_hold", "60"),
    ("timings", 1),
    ("tracing", "yes"),
    # port
    ("port", "9092"),
    ("port", 9092.0),
    ("port", True),
    ("port", None),
    ("port", 0),
    ("port", -1),
    ("port", 65536),
    ("port", 70000),
    # host
    ("host", None),
    ("host", 127),
    ("host", b"localhost"),
    ("host", ""),
    ("host", "bad host"),
    ("host", "kafka/0"),
    ("host", "kafka:9093"),
    ("host", "[kafka]"),
    # topic
    ("topic", 5),
    ("topic", b"hb_events"),
    ("topic", None),
    ("topic", ""),
    ("topic", "."),
    ("topic", ".."),
    ("topic", "a" * 250),
    ("topic", "hb events"),
    ("topic", "hb/events"),
    ("topic", "tópico"),
    ("topic", "hb_events\n"),
    # direction
    ("direction", "writer"),
    ("direction", None),
    ("direction", True),
    ("direction", 1.0),
    ("direction", 0),
    ("direction", 3),
    # blocking
    ("blocking", True),
    ("blocking", False),
    ("blocking", "Blocking"),
    ("blocking", 0),
    ("blocking", 3),
    # bus_tech
    ("bus_tech", 0),
    ("bus_tech", 3),
    ("bus_tech", "kafka"),
    ("bus_tech", None),
    # connect_retries
    ("connect_retries", -1),
    ("connect_retries", 1.5),
    ("connect_retries", 3.0),
    ("connect_retries", "3"),
    ("connect_retries", True),
    # read_queue_size
    ("read_queue_size", 0),
    ("read_queue_size", -5),
    ("read_queue_size", 10.0),
    # group_id
    ("group_id", 5),
    ("group_id", None),
    ("group_id", b"g"),
] + [
    (name, value)
    for name in ("connect_timeout", "write_timeout", "flush_timeout")
    for value in (0, 0.0, -1, -0.5, math.inf, -math.inf, math.nan, "1", None, True)
]


def _id(case: Any) -> str:
    text = repr(case)
    return text if len(text) <= 20 else text[:17] + "..."


@pytest.mark.parametrize(("field", "value"), INVALID, ids=[f"{f}={_id(v)}" for f, v in INVALID])
def test_validate_rejects(field: str, value: Any) -> None:
    cfg = make(**{field: value})
    with pytest.raises(msgbus.ConfigError) as info:
        cfg.validate()
    assert str(info.value).startswith(field + " "), str(info.value)


@pytest.mark.parametrize(("field", "value"), INVALID, ids=[f"{f}={_id(v)}" for f, v in INVALID])
def test_connect_rejects_before_any_network(no_network: list[str], field: str, value: Any) -> None:
    cfg = make(**{field: value})
    with pytest.raises(msgbus.ConfigError) as info:
        msgbus.connect(cfg)
    assert str(info.value).startswith(field + " "), str(info.value)
    assert no_network == []


@pytest.mark.parametrize("direction", [msgbus.BusWriter, msgbus.BusReader])
def test_connect_rejects_bad_topic_for_both_directions(no_network: list[str], direction: BusDir) -> None:
    with pytest.raises(msgbus.ConfigError, match=r"^topic "):
        msgbus.connect(make(direction=direction, topic="no spaces"))


def test_config_error_is_a_msgbus_error_and_a_value_error() -> None:
    with pytest.raises(msgbus.ConfigError) as info:
        make(port=0).validate()
    assert isinstance(info.value, msgbus.MsgBusError)
    assert isinstance(info.value, ValueError)


def test_error_messages_are_exact() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"port": 0}, "port is 0; it must be between 1 and 65535"),
        ({"port": "9092"}, "port must be an int, not str"),
        ({"connect_retries": -1}, "connect_retries is -1; it must be at least 0"),
        ({"topic": ""}, "topic must not be empty"),
        ({"topic": "a" * 250}, "topic is 250 characters long; Kafka allows at most 249"),
        ({"direction": 3}, "direction is 3; it must be one of WRITER=1, READER=2"),
        ({"blocking": True}, "blocking must be a BlockingMode (NON_BLOCKING=1, BLOCKING=2), not bool"),
        ({"write_timeout": 0}, "write_timeout is 0; it must be a positive, finite number of seconds"),
        ({"group_id": 5}, "group_id must be a str, not int"),
    ]
    for overrides, message in cases:
        with pytest.raises(msgbus.ConfigError) as info:
            make(**overrides).validate()
        assert str(info.value) == message


@pytest.mark.parametrize("not_a_config", [None, "hb_events", 5, {"topic": "t", "direction": 1}, object()])
def test_connect_needs_a_config(no_network: list[str], not_a_config: Any) -> None:
    with pytest.raises(msgbus.ConfigError, match="connect needs a MsgBusConfig"):
        msgbus.connect(not_a_config)


# -- valid configurations --------------------------------------------------------

VALID: list[dict[str, Any]] = [
    {"topic": "a" * 249},
    {"topic": "a.b_c-D9"},
    {"topic": "a"},
    {"topic": "..."},
    {"host": "127.0.0.1"},
    {"host": "kafka-0.kafka.svc.cluster.local"},
    {"host": "::1"},
    {"host": "[::1]"},
    {"host": "fe80::1"},
    {"port": 1},
    {"port": 65535},
    {"blocking": msgbus.NonBlocking},
    {"direction": msgbus.BusReader},
    {"connect_retries": 10},
    {"group_id": "workers"},
    {"connect_timeout": 1, "write_timeout": 0.001, "flush_timeout": 1e6},
    {"read_queue_size": 1},
]


@pytest.mark.parametrize("overrides", VALID, ids=[_id(v) for v in VALID])
def test_validate_accepts(overrides: dict[str, Any]) -> None:
    cfg = make(**overrides)
    cfg.validate()
    for name, value in overrides.items():
        assert getattr(cfg, name) == value


def test_check_topic_accepts_the_longest_legal_name() -> None:
    check_topic("x" * 249)
    with pytest.raises(msgbus.ConfigError):
        check_topic("x" * 250)


def test_validate_checks_without_changing_the_config() -> None:
    cfg = make(bus_tech=1, blocking=1, direction=2)
    cfg.validate()
    assert type(cfg.bus_tech) is int and cfg.bus_tech == 1
    assert type(cfg.direction) is int and cfg.direction == 2


def test_the_normalized_copy_has_the_enums() -> None:
    cfg = make(bus_tech=1, blocking=1, direction=2)._normalized()
    assert cfg.bus_tech is MsgBusTech.KAFKA
    assert cfg.blocking is BlockingMode.NON_BLOCKING
    assert cfg.direction is BusDir.READER


# -- connect() on a valid config ------------------------------------------------


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[MsgBusConfig]:
    """Stand in for the Kafka backend: record the config connect() passes on."""
    seen: list[MsgBusConfig] = []
    sentinel = object()

    def open_kafka_bus(cfg: MsgBusConfig) -> Any:
        seen.append(cfg)
        return sentinel

    monkeypatch.setattr(msgbus._backends.kafka, "open_kafka_bus", open_kafka_bus)
    return seen


def test_connect_hands_a_validated_copy_to_the_backend(opened: list[MsgBusConfig]) -> None:
    cfg = make(direction=1, blocking=1, bus_tech=1)
    msgbus.connect(cfg)
    assert len(opened) == 1
    copy = opened[0]
    assert copy is not cfg
    # The bus's copy is normalised to the enums...
    assert copy.direction is BusDir.WRITER
    assert copy.blocking is BlockingMode.NON_BLOCKING
    assert copy.bus_tech is MsgBusTech.KAFKA
    # ...and the caller's object is exactly as given.
    assert type(cfg.direction) is int
    assert cfg.direction == 1
    assert type(cfg.blocking) is int
    assert type(cfg.bus_tech) is int


def test_later_changes_to_the_callers_config_do_not_reach_the_bus(opened: list[MsgBusConfig]) -> None:
    cfg = make(topic="first")
    msgbus.connect(cfg)
    cfg.topic = "second"
    cfg.port = 1
    assert opened[0].topic == "first"
    assert opened[0].port == 9092


def test_connect_returns_what_the_backend_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    sentinel = object()
    monkeypatch.setattr(msgbus._backends.kafka, "open_kafka_bus", lambda cfg: sentinel)
    assert msgbus.connect(make()) is sentinel


def test_a_failed_connect_leaves_the_callers_config_alone(no_network: list[str]) -> None:
    cfg = make(direction=1, port=0)
    with pytest.raises(msgbus.ConfigError):
        msgbus.connect(cfg)
    assert type(cfg.direction) is int
    assert cfg == make(direction=1, port=0)
