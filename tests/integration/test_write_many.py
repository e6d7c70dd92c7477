"""message_write_many: a batch of writes, queued fast (NonBlocking) or all
acknowledged before it returns (Blocking), with failures counted."""

from __future__ import annotations

import pytest

import msgbus
from msgbus.testing import LocalKafka

from .helpers import BusFactory, raw_read_all, read_n, watermarks

pytestmark = pytest.mark.integration

MODES = [msgbus.Blocking, msgbus.NonBlocking]


@pytest.mark.parametrize("blocking", MODES)
def test_write_many_delivers_every_message_in_order(
    buses: BusFactory, kafka: LocalKafka, topic: str, blocking: msgbus.BlockingMode
) -> None:
    reader = buses.reader(topic)
    writer = buses.writer(topic, blocking)
    texts = [f"batch-{i}" for i in range(2000)]
    assert writer.message_write_many(texts) == len(texts)
    assert read_n(reader, len(texts)) == texts


def test_blocking_write_many_is_in_the_topic_when_it_returns(buses: BusFactory, kafka: LocalKafka, topic: str) -> None:
    writer = buses.writer(topic)
    assert writer.message_write_many(f"m{i}" for i in range(500)) == 500
    # Asked of the broker right after the call returned: every message is there.
    assert watermarks(kafka, topic) == (0, 500)


@pytest.mark.parametrize("blocking", MODES)
def test_write_many_takes_any_iterable_and_an_empty_one(
    buses: BusFactory, kafka: LocalKafka, topic: str, blocking: msgbus.BlockingMode
) -> None:
    writer = buses.writer(topic, blocking)
    assert writer.message_write_many([]) == 0
    assert writer.message_write_many(iter(("a", "ü", "\u65e5"))) == 3
    assert writer.message_write_many(m for m in ("x", "y")) == 2
    writer.disconnect()
    assert raw_read_all(kafka, topic, 5) == [b"a", "ü".encode(), "\u65e5".encode(), b"x", b"y"]


@pytest.mark.parametrize("blocking", MODES)
def test_write_many_rejects_a_non_str_and_keeps_the_ones_before(
    buses: BusFactory, kafka: LocalKafka, topic: str, blocking: msgbus.BlockingMode
) -> None:
    writer = buses.writer(topic, blocking)
    with pytest.raises(msgbus.InvalidMessageError, match="2 before it were written"):
        writer.message_write_many(["one", "two", b"three", "four"])  # type: ignore[list-item]
    writer.disconnect()
    assert raw_read_all(kafka, topic, 2) == [b"one", b"two"]


def test_blocking_write_many_reports_a_broker_side_failure_with_counts(
    buses: BusFactory, kafka: LocalKafka, topic: str
) -> None:
    kafka.create_topic(topic, config={"max.message.bytes": 2000})
    writer = buses.writer(topic)
    assert writer.message_write_many(["small"] * 3) == 3
    with pytest.raises(msgbus.DeliveryError) as info:
        writer.message_write_many(["x" * 10_000])
    assert info.value.code == "MSG_SIZE_TOO_LARGE"
    assert "0 delivered" in str(info.value)
    # The bus goes on.
    assert writer.message_write_many(["after"]) == 1
    assert watermarks(kafka, topic)[1] == 4


def test_blocking_write_many_reports_a_refused_message_with_counts(
    buses: BusFactory, kafka: LocalKafka, topic: str
) -> None:
    writer = buses.writer(topic)
    with pytest.raises(msgbus.DeliveryError) as info:
        writer.message_write_many(["ok-1", "ok-2", "x" * (2 * 1024 * 1024), "never"])
    assert info.value.code == "MSG_SIZE_TOO_LARGE"
    assert "message 2 of the batch refused (2 before it delivered, 0 not)" in str(info.value)
    assert watermarks(kafka, topic) == (0, 2)


def test_nonblocking_write_many_waits_for_room_when_the_queue_is_full(
    buses: BusFactory, kafka: LocalKafka, topic: str
) -> None:
    # A tiny local queue: the batch must wait for deliveries instead of failing.
    writer = buses.writer(topic, msgbus.NonBlocking, kafka_settings={"queue.buffering.max.messages": 50})
    assert writer.message_write_many(f"q{i}" for i in range(3000)) == 3000
    writer.disconnect()
    assert watermarks(kafka, topic) == (0, 3000)


def test_write_many_on_a_closed_or_reading_bus_raises(buses: BusFactory, topic: str) -> None:
    writer = buses.writer(topic)
    writer.disconnect()
    with pytest.raises(msgbus.BusClosedError):
        writer.message_write_many(["late"])
    reader = buses.reader(topic)
    with pytest.raises(msgbus.DirectionError):
        reader.message_write_many(["wrong way"])
