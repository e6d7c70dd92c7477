"""Readers: what they see (latest, broadcast, shared groups), the local queue
(message_available, message_read with and without waiting), and decoding."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

import msgbus
from msgbus.testing import LocalKafka

from .helpers import (
    READ_TIMEOUT,
    BusFactory,
    raw_produce,
    raw_read_all,
    read_n,
    wait_available,
    wait_until,
    watermarks,
)

pytestmark = pytest.mark.integration


def drain(bus: msgbus.MsgBusIO, quiet: float = 1.0) -> list[str]:
    """Everything a Blocking reader gets until nothing came for ``quiet`` seconds."""
    out: list[str] = []
    while (msg := bus.message_read(timeout=quiet)) is not None:
        out.append(msg)
    return out


# -- what a reader sees ---------------------------------------------------------


def test_reader_on_a_fresh_topic_sees_what_is_written_right_after_connect(buses: BusFactory, topic: str) -> None:
    writer = buses.writer(topic, msgbus.NonBlocking)
    reader = buses.reader(topic)  # the topic does not exist yet
    # No sleep: anything written once connect returned must be read.
    sent = [f"fresh-{i}" for i in range(20)]
    for text in sent:
        writer.message_write(text)
    assert read_n(reader, 20) == sent
    assert reader.message_read(timeout=0.5) is None


def test_reader_starts_at_the_end_of_an_existing_topic(buses: BusFactory, kafka: LocalKafka, topic: str) -> None:
    writer = buses.writer(topic)
    for i in range(5):
        writer.message_write(f"old-{i}")
    assert watermarks(kafka, topic) == (0, 5)
    reader = buses.reader(topic)
    for i in range(5):
        writer.message_write(f"new-{i}")
    assert read_n(reader, 5) == [f"new-{i}" for i in range(5)]
    # The old ones are never read.
    assert reader.message_read(timeout=1.0) is None


def test_reader_connected_right_after_the_topic_got_messages_from_another_client(
    buses: BusFactory, kafka: LocalKafka, topic: str
) -> None:
    raw_produce(kafka, topic, [b"before-1", b"before-2"])
    reader = buses.reader(topic)
    raw_produce(kafka, topic, [b"after"])
    assert reader.message_read(timeout=READ_TIMEOUT) == "after"
    assert reader.message_read(timeout=0.5) is None


def test_readers_without_group_each_see_every_message(buses: BusFactory, topic: str) -> None:
    first = buses.reader(topic)
    second = buses.reader(topic, group_id="")
    writer = buses.writer(topic)
    sent = [f"all-{i}" for i in range(20)]
    for text in sent:
        writer.message_write(text)
    assert read_n(first, 20) == sent
    assert read_n(second, 20) == sent


def test_readers_in_one_group_share_the_messages(buses: BusFactory, kafka: LocalKafka, topic: str) -> None:
    kafka.create_topic(topic, partitions=2)
    group = f"g-{uuid.uuid4().hex}"
    # Blocking: librdkafka's sticky partitioner puts a whole NonBlocking batch of
    # null-key messages on one partition; one-by-one writes switch partitions often.
    writer = buses.writer(topic)
    first = buses.reader(topic, group_id=group)
    second = buses.reader(topic, group_id=group)
    count = 200
    sent = {f"shared-{i}" for i in range(count)}
    for text in sorted(sent):
        writer.message_write(text)
    got_first: list[str] = []
    got_second: list[str] = []
    deadline = time.monotonic() + 20
    while len(got_first) + len(got_second) < count and time.monotonic() < deadline:
        for bus, got in ((first, got_first), (second, got_second)):
            msg = bus.message_read(timeout=0.05)
            if msg is not None:
                got.append(msg)
    # Let any duplicate show up before judging.
    got_first += drain(first, 0.5)
    got_second += drain(second, 0.5)
    assert len(got_first) + len(got_second) == count
    assert set(got_first) | set(got_second) == sent
    assert set(got_first) & set(got_second) == set()
    # Null keys spread messages over both partitions, and each reader owns one.
    # (200 one-by-one writes all landing on one partition is practically impossible.)
    assert got_first and got_second
    # Each reader's own messages arrive in the order they were written (one partition each).
    assert got_first == sorted(got_first)
    assert got_second == sorted(got_second)
    assert watermarks(kafka, topic, 0)[1] + watermarks(kafka, topic, 1)[1] == count


def test_extra_reader_in_a_group_gets_no_partition_but_connects(
    buses: BusFactory, kafka: LocalKafka, topic: str
) -> None:
    kafka.create_topic(topic, partitions=1)
    group = f"g-{uuid.uuid4().hex}"
    first = buses.reader(topic, group_id=group)
    second = buses.reader(topic, group_id=group)  # one of the two has nothing to read
    assert first.status() == msgbus.StatusOpen
    assert second.status() == msgbus.StatusOpen
    writer = buses.writer(topic)
    sent = [f"single-{i}" for i in range(10)]
    for text in sent:
        writer.message_write(text)
    wait_until(lambda: first.message_available() + second.message_available() >= 10, READ_TIMEOUT, "10 messages")
    got = sorted([drain(first, 0.5), drain(second, 0.5)], key=len)
    # Exactly one reader owns the single partition.
    assert got == [[], sent]


# -- the local queue ---------------------------------------------------------------


def test_message_available_is_the_queue_length(buses: BusFactory, topic: str) -> None:
    reader = buses.reader(topic)
    writer = buses.writer(topic)
    assert reader.message_available() == 0
    for i in range(7):
        writer.message_write(f"q-{i}")
    wait_available(reader, 7)
    time.sleep(0.3)
    assert reader.message_available() == 7
    assert reader.message_read(timeout=READ_TIMEOUT) == "q-0"
    assert reader.message_available() == 6
    assert read_n(reader, 6) == [f"q-{i}" for i in range(1, 7)]
    assert reader.message_available() == 0


def test_spec_use_case_check_available_then_read(buses: BusFactory, topic: str) -> None:
    reader = buses.reader(topic)
    writer = buses.writer(topic)
    writer.message_write("The Rain In Spain")
    wait_until(lambda: reader.message_available() != 0, READ_TIMEOUT, "a message")
    assert reader.message_read() == "The Rain In Spain"


def test_nonblocking_reader_returns_none_at_once(buses: BusFactory, topic: str) -> None:
    reader = buses.reader(topic, msgbus.NonBlocking)
    writer = buses.writer(topic)
    for timeout in (None, 5.0):
        started = time.monotonic()
        assert reader.message_read(timeout=timeout) is None
        assert time.monotonic() - started < 0.2
    writer.message_write("nb-read")
    wait_available(reader, 1)
    assert reader.message_read() == "nb-read"
    assert reader.message_read() is None


def test_blocking_reader_timeout_returns_none_after_the_timeout(buses: BusFactory, topic: str) -> None:
    reader = buses.reader(topic)
    started = time.monotonic()
    assert reader.message_read(timeout=0.3) is None
    elapsed = time.monotonic() - started
    assert 0.29 <= elapsed < 1.5, elapsed


def test_blocking_read_ends_with_bus_closed_error_on_disconnect(buses: BusFactory, topic: str) -> None:
    reader = buses.reader(topic)
    outcome: list[object] = []
    entered = threading.Event()

    def read_forever() -> None:
        entered.set()
        try:
            outcome.append(reader.message_read())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=read_forever, name="test-blocked-reader", daemon=True)
    thread.start()
    assert entered.wait(5)
    time.sleep(0.3)
    assert thread.is_alive(), f"message_read() returned without a message: {outcome}"
    reader.disconnect()
    thread.join(5)
    assert not thread.is_alive(), "message_read() still blocked after disconnect"
    assert len(outcome) == 1
    assert isinstance(outcome[0], msgbus.BusClosedError)


def test_blocking_read_wakes_up_for_a_message(buses: BusFactory, topic: str) -> None:
    reader = buses.reader(topic)
    writer = buses.writer(topic)
    timer = threading.Timer(0.3, writer.message_write, args=("wake-up",))
    timer.start()
    try:
        started = time.monotonic()
        assert reader.message_read() == "wake-up"
        assert time.monotonic() - started < READ_TIMEOUT
    finally:
        timer.join(READ_TIMEOUT)


def test_full_queue_pauses_without_losing_messages(buses: BusFactory, topic: str) -> None:
    reader = buses.reader(topic, read_queue_size=10)
    writer = buses.writer(topic, msgbus.NonBlocking)
    sent = [f"bp-{i}" for i in range(60)]
    for text in sent:
        writer.message_write(text)
    writer.disconnect()
    wait_until(lambda: reader.message_available() >= 10, READ_TIMEOUT, "a full queue")
    time.sleep(0.5)
    # Bounded: the reader stops fetching near its capacity (one fetched batch may overshoot).
    assert 10 <= reader.message_available() < 60
    assert read_n(reader, 60) == sent
    assert reader.message_read(timeout=0.5) is None


# -- text on the wire ----------------------------------------------------------------


def test_multibyte_text_round_trips(buses: BusFactory, kafka: LocalKafka, topic: str) -> None:
    text = "Grüße 日本 🎉"
    reader = buses.reader(topic)
    writer = buses.writer(topic)
    writer.message_write(text)
    assert reader.message_read(timeout=READ_TIMEOUT) == text
    assert raw_read_all(kafka, topic, 1) == [text.encode("utf-8")]


def test_invalid_utf8_is_delivered_and_does_not_stop_the_reader(
    buses: BusFactory, kafka: LocalKafka, topic: str
) -> None:
    reader = buses.reader(topic)
    raw_produce(kafka, topic, [b"\xff\xfeok", "valid ✓".encode()])
    odd = reader.message_read(timeout=READ_TIMEOUT)
    assert isinstance(odd, str)
    assert odd.encode("utf-8", "surrogateescape") == b"\xff\xfeok"
    assert reader.message_read(timeout=READ_TIMEOUT) == "valid ✓"
    assert reader.status() == msgbus.StatusOpen
    # Written back, the same bytes go on the wire.
    writer = buses.writer(topic)
    writer.message_write(odd)
    assert reader.message_read(timeout=READ_TIMEOUT) == odd
    assert raw_read_all(kafka, topic, 3)[2] == b"\xff\xfeok"


def test_empty_and_null_values_read_as_empty_strings(buses: BusFactory, kafka: LocalKafka, topic: str) -> None:
    reader = buses.reader(topic)
    writer = buses.writer(topic)
    writer.message_write("")
    assert reader.message_read(timeout=READ_TIMEOUT) == ""
