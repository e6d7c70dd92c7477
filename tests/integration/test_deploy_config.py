"""Deployment config on a real broker: several bootstrap servers, offset_reset, kafka_settings."""

from __future__ import annotations

import pytest

import msgbus
from msgbus.testing import LocalKafka

from .helpers import BusFactory, closed_port, read_n

pytestmark = pytest.mark.integration


def test_bootstrap_servers_with_a_dead_entry_still_connect(buses: BusFactory, kafka: LocalKafka, topic: str) -> None:
    servers = f"127.0.0.1:{closed_port()},{kafka.bootstrap_servers}"
    reader = buses.reader(topic, bootstrap_servers=servers, host="ignored.invalid", port=1)
    writer = buses.writer(topic, bootstrap_servers=servers, host="ignored.invalid", port=1)
    writer.message_write("via the live one")
    assert read_n(reader, 1) == ["via the live one"]


def test_parse_then_connect(buses: BusFactory, kafka: LocalKafka, topic: str) -> None:
    cfg = msgbus.MsgBusConfig.parse(f"{kafka.host}:{kafka.port}:{topic}", direction=msgbus.BusWriter)
    buses.connect(cfg).message_write("parsed")


def test_offset_reset_earliest_reads_what_came_before(buses: BusFactory, topic: str) -> None:
    writer = buses.writer(topic)
    writer.message_write("old-1")
    writer.message_write("old-2")
    latest = buses.reader(topic)
    earliest = buses.reader(topic, offset_reset="earliest")
    writer.message_write("new")
    assert read_n(earliest, 3) == ["old-1", "old-2", "new"]
    assert read_n(latest, 1) == ["new"]


def test_offset_reset_earliest_for_a_new_named_group(buses: BusFactory, topic: str) -> None:
    buses.writer(topic).message_write("before the group")
    reader = buses.reader(topic, group_id=f"g-{topic}", offset_reset="earliest")
    assert read_n(reader, 1) == ["before the group"]


@pytest.mark.parametrize("direction", [msgbus.BusWriter, msgbus.BusReader])
def test_an_unknown_kafka_setting_raises_config_error(buses: BusFactory, topic: str, direction: msgbus.BusDir) -> None:
    with pytest.raises(msgbus.ConfigError, match=r"no\.such\.setting"):
        buses.connect(buses.config(topic, direction, kafka_settings={"no.such.setting": "1"}))


def test_a_known_kafka_setting_is_used(buses: BusFactory, topic: str) -> None:
    reader = buses.reader(topic, kafka_settings={"fetch.min.bytes": 1})
    writer = buses.writer(topic, kafka_settings={"compression.type": "lz4"})
    writer.message_write("compressed")
    assert read_n(reader, 1) == ["compressed"]
