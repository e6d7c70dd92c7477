"""What is particular to the in-process bus (the shared semantics are in tests/behaviour)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

import msgbus
from msgbus.testing import MemoryBus

WAIT = 10.0


def test_buses_on_different_addresses_do_not_meet() -> None:
    with MemoryBus() as one, MemoryBus() as other:
        reader = other.reader("t")
        one.writer("t").message_write("only here")
        assert one.messages("t") == ["only here"]
        assert other.messages("t") == []
        assert reader.message_read(timeout=0.2) is None


def test_the_same_host_and_port_is_the_same_bus() -> None:
    host = f"memory-{uuid.uuid4().hex}"
    cfg: dict[str, Any] = {"bus_tech": msgbus.BusTechMemory, "host": host, "topic": "t"}
    with msgbus.connect(msgbus.MsgBusConfig(direction=msgbus.BusReader, **cfg)) as reader:
        with msgbus.connect(msgbus.MsgBusConfig(direction=msgbus.BusWriter, **cfg)) as writer:
            writer.message_write("hi")
        assert reader.message_read(timeout=WAIT) == "hi"


def test_the_local_queue_is_bounded_and_the_rest_waits_in_the_log() -> None:
    with MemoryBus() as mem:
        reader = mem.reader("t", read_queue_size=3)
        writer = mem.writer("t")
        for i in range(10):
            writer.message_write(str(i))
        deadline = time.monotonic() + WAIT
        while reader.message_available() < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        assert reader.message_available() == 3
        assert reader.stats().lag == 10
        assert [reader.message_read(timeout=WAIT) for _ in range(10)] == [str(i) for i in range(10)]


def test_a_leaving_member_hands_its_unread_messages_back_to_the_group() -> None:
    with MemoryBus() as mem:
        first = mem.reader("t", group_id="g")
        writer = mem.writer("t")
        for i in range(4):
            writer.message_write(str(i))
        deadline = time.monotonic() + WAIT
        while first.message_available() < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert first.message_read() == "0"
        first.disconnect()
        second = mem.reader("t", group_id="g")
        assert [second.message_read(timeout=WAIT) for _ in range(3)] == ["1", "2", "3"]


def test_stats_of_a_writer_count_failures() -> None:
    with MemoryBus() as mem:
        writer = mem.writer("t")
        writer.message_write("ok")
        with pytest.raises(msgbus.DeliveryError):
            writer.message_write("x" * 2_000_000)
        assert writer.stats() == msgbus.BusStats(written=1, delivered=1, failed=1)


def test_connect_validates_the_config_first() -> None:
    with pytest.raises(msgbus.ConfigError, match="topic"):
        MemoryBus().config("", msgbus.BusWriter).validate()  # Kafka's topic rule is not memory's
