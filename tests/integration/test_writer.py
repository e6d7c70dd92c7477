"""Writers: Blocking writes are acknowledged when they return, NonBlocking
writes are queued and flushed on disconnect, failures are reported."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

import msgbus
from msgbus.testing import LocalKafka

from .helpers import BusFactory, raw_read_all, read_n, run_bounded, wait_until, watermarks

pytestmark = pytest.mark.integration

TOO_LARGE = "x" * (2 * 1024 * 1024)


def test_blocking_write_is_in_the_topic_when_it_returns(buses: BusFactory, kafka: LocalKafka, topic: str) -> None:
    writer = buses.writer(topic)
    for i in range(5):
        writer.message_write(f"ack-{i}")
        # Asked of the broker right after the call returned: the message is there.
        assert watermarks(kafka, topic) == (0, i + 1)
    assert raw_read_all(kafka, topic, 5) == [f"ack-{i}".encode() for i in range(5)]


@pytest.mark.parametrize("blocking", [msgbus.Blocking, msgbus.NonBlocking])
def test_too_large_message_raises_delivery_error_and_the_bus_goes_on(
    buses: BusFactory, kafka: LocalKafka, topic: str, blocking: msgbus.BlockingMode
) -> None:
    writer = buses.writer(topic, blocking)
    writer.message_write("before")
    started = time.monotonic()
    with pytest.raises(msgbus.DeliveryError) as info:
        writer.message_write(TOO_LARGE)
    assert time.monotonic() - started < 2.0
    assert info.value.code == "MSG_SIZE_TOO_LARGE"
    assert writer.status() == msgbus.StatusOpen
    writer.message_write("after")
    writer.disconnect()
    assert watermarks(kafka, topic) == (0, 2)
    assert raw_read_all(kafka, topic, 2) == [b"before", b"after"]


def test_nonblocking_writes_all_arrive_after_disconnect(buses: BusFactory, kafka: LocalKafka, topic: str) -> None:
    count = 5000
    reader = buses.reader(topic)
    writer = buses.writer(topic, msgbus.NonBlocking)
    sent = [f"nb-{i}" for i in range(count)]
    started = time.monotonic()
    for text in sent:
        writer.message_write(text)
    queued_in = time.monotonic() - started
    writer.disconnect()
    # Flushed by disconnect: every message is in the topic once it returns.
    assert watermarks(kafka, topic) == (0, count)
    # A reader that connected before sees them all, in order, exactly once.
    assert read_n(reader, count) == sent
    assert reader.message_read(timeout=0.5) is None
    # Not waiting for acknowledgements: thousands of writes take a blink (~2 us
    # each here), while a Blocking write is a broker round-trip (~0.7 ms here).
    assert queued_in < 1.0, f"{count} NonBlocking writes took {queued_in:.2f} s"


@pytest.mark.parametrize("blocking", [msgbus.Blocking, msgbus.NonBlocking])
@pytest.mark.parametrize("bad", [None, b"x", 5, "\ud800"])
def test_non_str_message_raises_invalid_message_error(
    buses: BusFactory, kafka: LocalKafka, topic: str, blocking: msgbus.BlockingMode, bad: Any
) -> None:
    writer = buses.writer(topic, blocking)
    with pytest.raises(msgbus.InvalidMessageError):
        writer.message_write(bad)
    writer.message_write("fine")
    writer.disconnect()
    assert watermarks(kafka, topic) == (0, 1)


def test_text_goes_on_the_wire_as_utf8(buses: BusFactory, kafka: LocalKafka, topic: str) -> None:
    text = "Grüße 日本 🎉"
    writer = buses.writer(topic)
    writer.message_write(text)
    writer.message_write("")
    assert raw_read_all(kafka, topic, 2) == [text.encode("utf-8"), b""]


def test_nonblocking_disconnect_with_broker_down_raises_flush_error(caplog: pytest.LogCaptureFixture) -> None:
    count = 25
    flush_timeout = 2.0
    caplog.set_level(logging.WARNING, logger="msgbus")
    with LocalKafka() as private, BusFactory(private) as local:
        name = "flush-when-down"
        private.create_topic(name)
        writer = local.writer(name, msgbus.NonBlocking, flush_timeout=flush_timeout, write_timeout=30)
        writer.message_write("delivered")
        wait_until(lambda: watermarks(private, name) == (0, 1), 10, "the first message to be delivered")

        private.stop_node(1)
        started = time.monotonic()
        for i in range(count):
            writer.message_write(f"lost-{i}")
        # Queued locally, not waited for, even with no broker.
        assert time.monotonic() - started < 1.0

        started = time.monotonic()
        with pytest.raises(msgbus.FlushError) as info:
            run_bounded(writer.disconnect, flush_timeout + 15)
        elapsed = time.monotonic() - started
        assert info.value.undelivered == count
        assert isinstance(info.value, msgbus.DeliveryError)
        assert str(count) in str(info.value)
        assert flush_timeout - 0.2 <= elapsed < flush_timeout + 8, elapsed
        assert writer.status() == msgbus.StatusClosed
        writer.disconnect()  # harmless now
        # Every lost message was counted and logged.
        failed = [r for r in caplog.records if r.levelno >= logging.ERROR and "not delivered" in r.getMessage()]
        assert len(failed) == count, [r.getMessage() for r in failed]


def test_blocking_write_waits_for_the_broker_and_fails_when_it_is_gone() -> None:
    write_timeout = 3.0
    with LocalKafka() as private, BusFactory(private) as local:
        name = "blocking-waits"
        private.create_topic(name)
        writer = local.writer(name, write_timeout=write_timeout)
        writer.message_write("first")
        assert watermarks(private, name) == (0, 1)

        # A frozen broker (SIGSTOP) keeps its connections but answers nothing:
        # the write must still be waiting when the broker comes back.
        outcome: list[BaseException | None] = []

        def write_held() -> None:
            try:
                writer.message_write("held")
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

        private.pause_node(1)
        try:
            thread = threading.Thread(target=write_held, name="test-held-write", daemon=True)
            thread.start()
            thread.join(1.0)
            assert thread.is_alive(), f"a Blocking write returned with no broker answering: {outcome}"
        finally:
            private.resume_node(1)
        thread.join(write_timeout + 10)
        assert not thread.is_alive()
        assert outcome == [None]
        assert watermarks(private, name) == (0, 2)

        # With the broker gone, the write fails (it is not just logged) once write_timeout is spent.
        private.stop_node(1)
        started = time.monotonic()
        with pytest.raises(msgbus.DeliveryError) as info:
            run_bounded(lambda: writer.message_write("lost"), write_timeout + 15)
        elapsed = time.monotonic() - started
        assert info.value.code == "_MSG_TIMED_OUT"
        assert write_timeout - 0.5 <= elapsed < write_timeout + 8, elapsed
