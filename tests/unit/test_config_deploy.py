"""Deployment config: parse("host:port:topic"), bootstrap_servers, offset_reset, kafka_settings."""

from __future__ import annotations

from typing import Any

import pytest

import msgbus
from msgbus import ConfigError, MsgBusConfig
from msgbus._backends.kafka._settings import bootstrap_servers, consumer_settings, producer_settings


def cfg(**fields: Any) -> MsgBusConfig:
    fields.setdefault("topic", "t")
    fields.setdefault("direction", msgbus.BusReader)
    return MsgBusConfig(**fields)


# -- parse --------------------------------------------------------------------------


def test_parse_the_csm_environment_string() -> None:
    parsed = MsgBusConfig.parse(
        "cluster-kafka-bootstrap:9092:cray-hmsheartbeat-notifications", direction=msgbus.BusReader
    )
    assert (parsed.host, parsed.port, parsed.topic) == (
        "cluster-kafka-bootstrap",
        9092,
        "cray-hmsheartbeat-notifications",
    )
    assert parsed.direction is msgbus.BusReader
    parsed.validate()


def test_parse_passes_the_other_fields_on() -> None:
    parsed = MsgBusConfig.parse("kafka:9093:t", direction=msgbus.BusWriter, blocking=msgbus.NonBlocking, group_id="g")
    assert (parsed.blocking, parsed.group_id) == (msgbus.NonBlocking, "g")


def test_parse_an_ipv6_host() -> None:
    parsed = MsgBusConfig.parse("[::1]:9092:t", direction=msgbus.BusReader)
    assert (parsed.host, parsed.port) == ("::1", 9092)
    parsed.validate()
    assert bootstrap_servers(parsed._normalized()) == "[::1]:9092"


@pytest.mark.parametrize("spec", ["", "host", "host:9092", "host::t", ":9092:t", "host:9092:", "host:port:t"])
def test_parse_rejects_malformed_strings(spec: str) -> None:
    with pytest.raises(ConfigError):
        MsgBusConfig.parse(spec, direction=msgbus.BusReader)


def test_parse_rejects_a_non_string() -> None:
    with pytest.raises(ConfigError, match="host:port:topic"):
        MsgBusConfig.parse(9092, direction=msgbus.BusReader)  # type: ignore[arg-type]


# -- bootstrap_servers ----------------------------------------------------------------


@pytest.mark.parametrize("servers", ["a:1", "a:9092,b:9093", " a:9092 , b:9093 ", "10.0.0.1:9092,[::1]:9092"])
def test_bootstrap_servers_accepted(servers: str) -> None:
    cfg(bootstrap_servers=servers).validate()


@pytest.mark.parametrize("servers", ["a", "a:", ":9092", "a:0", "a:65536", "a:x", "a:9092,", "a:9092,,b:1", "a b:1"])
def test_bootstrap_servers_rejected(servers: str) -> None:
    with pytest.raises(ConfigError, match="bootstrap_servers"):
        cfg(bootstrap_servers=servers).validate()


def test_bootstrap_servers_must_be_a_string() -> None:
    with pytest.raises(ConfigError, match="bootstrap_servers must be a str"):
        cfg(bootstrap_servers=["a:1"]).validate()


def test_bootstrap_servers_win_over_host_and_port() -> None:
    normal = cfg(host="ignored", port=1, bootstrap_servers=" a:9092 ,b:9093")._normalized()
    assert bootstrap_servers(normal) == "a:9092,b:9093"
    assert bootstrap_servers(cfg(host="h", port=7)._normalized()) == "h:7"


# -- offset_reset -------------------------------------------------------------------------


def test_offset_reset_defaults_to_the_specs_latest() -> None:
    assert cfg().offset_reset == "latest"


@pytest.mark.parametrize("value", ["latest", "earliest"])
def test_offset_reset_reaches_the_consumer(value: str) -> None:
    settings = consumer_settings(cfg(offset_reset=value)._normalized(), "g", True, lambda err: None)
    assert settings["auto.offset.reset"] == value


@pytest.mark.parametrize("value", ["beginning", "EARLIEST", "", None, 0])
def test_offset_reset_rejects_other_values(value: Any) -> None:
    with pytest.raises(ConfigError, match="offset_reset"):
        cfg(offset_reset=value).validate()


# -- kafka_settings ------------------------------------------------------------------------


def test_kafka_settings_are_applied_last() -> None:
    normal = cfg(kafka_settings={"socket.keepalive.enable": True, "reconnect.backoff.ms": 7})._normalized()
    settings = producer_settings(normal, lambda err: None)
    assert settings["socket.keepalive.enable"] is True
    assert settings["reconnect.backoff.ms"] == 7


@pytest.mark.parametrize(
    "key", ["bootstrap.servers", "group.id", "enable.auto.commit", "auto.offset.reset", "error_cb"]
)
def test_kafka_settings_refuse_keys_msgbus_owns(key: str) -> None:
    with pytest.raises(ConfigError, match=f"kafka_settings\\['{key}'\\] is set by msgbus"):
        cfg(kafka_settings={key: "x"}).validate()


def test_kafka_settings_must_be_a_mapping_of_simple_values() -> None:
    with pytest.raises(ConfigError, match="must be a mapping"):
        cfg(kafka_settings=[("a", 1)]).validate()
    with pytest.raises(ConfigError, match="keys must be str"):
        cfg(kafka_settings={1: "x"}).validate()
    with pytest.raises(ConfigError, match="must be a str, int, float or bool"):
        cfg(kafka_settings={"a.b": [1]}).validate()


def test_an_unknown_kafka_setting_fails_at_connect_with_a_config_error() -> None:
    # Creating the client fails before any network I/O.
    bad = cfg(direction=msgbus.BusWriter, kafka_settings={"no.such.setting": 1}, connect_retries=1)
    bad.validate()  # not known to be bad until librdkafka sees it
    with pytest.raises(ConfigError, match=r"librdkafka refused the settings.*no\.such\.setting"):
        msgbus.connect(bad)


def test_the_callers_kafka_settings_are_copied() -> None:
    mine = {"socket.keepalive.enable": True}
    normal = cfg(kafka_settings=mine)._normalized()
    mine["socket.keepalive.enable"] = False
    assert normal.kafka_settings == {"socket.keepalive.enable": True}
