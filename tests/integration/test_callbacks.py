"""Callbacks (order, errors, misuse) and at-least-once commits in a named group."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

import pytest

import msgbus
from msgbus.testing import LocalKafka

from .helpers import READ_TIMEOUT, BusFactory, read_n, wait_available, wait_until

pytestmark = pytest.mark.integration


class Collector:
    """A callback that records what it gets."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.got: list[str] = []
        self.threads: set[str] = set()

    def __call__(self, msg: str) -> None:
        with self.lock:
            self.got.append(msg)
            self.threads.add(threading.current_thread().name)

    def count(self) -> int:
        with self.lock:
            return len(self.got)

    def wait_for(self, count: int, timeout: float = READ_TIMEOUT) -> list[str]:
        wait_until(lambda: self.count() >= count, timeout, f"{count} callback calls (got {self.count()})")
        time.sleep(0.2)  # room for any extra (duplicate) call to show up
        with self.lock:
            return list(self.got)


def test_spec_use_case_callback_reader(buses: BusFactory, topic: str) -> None:
    reader = buses.reader(topic)
    writer = buses.writer(topic)
    collector = Collector()
    reader.register_cb(collector)
    writer.message_write("The Rain In Spain")
    assert collector.wait_for(1) == ["The Rain In Spain"]
    reader.unregister_cb()
    reader.disconnect()
    writer.disconnect()
    assert reader.status() == msgbus.StatusClosed
    assert writer.status() == msgbus.StatusClosed


def test_callback_gets_queued_and_new_messages_in_order(buses: BusFactory, topic: str) -> None:
    reader = buses.reader(topic)
    writer = buses.writer(topic, msgbus.NonBlocking)
    for i in range(50):
        writer.message_write(f"cb-{i}")
    wait_available(reader, 50)
    collector = Collector()
    reader.register_cb(collector)
    for i in range(50, 100):
        writer.message_write(f"cb-{i}")
    assert collector.wait_for(100) == [f"cb-{i}" for i in range(100)]
    assert reader.message_available() == 0
    # Called on msgbus's own thread, never on the application's.
    assert len(collector.threads) == 1
    assert next(iter(collector.threads)).startswith("msgbus-")


def test_raising_callback_is_logged_and_the_next_messages_still_arrive(
    buses: BusFactory, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="msgbus")
    reader = buses.reader(topic)
    writer = buses.writer(topic)
    got: list[str] = []

    def callback(msg: str) -> None:
        got.append(msg)
        if msg.startswith("boom"):
            raise RuntimeError(f"callback failed on {msg}")

    reader.register_cb(callback)
    for text in ("boom-1", "fine-1", "boom-2", "fine-2"):
        writer.message_write(text)
    wait_until(lambda: len(got) >= 4, READ_TIMEOUT, "4 callback calls")
    assert got == ["boom-1", "fine-1", "boom-2", "fine-2"]
    raised = [r for r in caplog.records if r.name == "msgbus" and r.exc_info is not None]
    assert len(raised) == 2
    assert [str(r.exc_info[1]) for r in raised if r.exc_info] == [
        "callback failed on boom-1",
        "callback failed on boom-2",
    ]
    assert reader.status() == msgbus.StatusOpen


def test_callback_misuse_raises_callback_error(buses: BusFactory, topic: str) -> None:
    reader = buses.reader(topic)
    writer = buses.writer(topic)
    bad: Any = 5
    with pytest.raises(msgbus.CallbackError):
        reader.register_cb(bad)
    collector = Collector()
    reader.register_cb(collector)
    with pytest.raises(msgbus.CallbackError):
        reader.message_read(timeout=0.1)
    with pytest.raises(msgbus.CallbackError):
        reader.register_cb(Collector())
    writer.message_write("to-callback")
    assert collector.wait_for(1) == ["to-callback"]
    reader.unregister_cb()
    reader.unregister_cb()  # cannot fail
    # Reading works again, and the callback gets nothing more.
    writer.message_write("to-read")
    assert reader.message_read(timeout=READ_TIMEOUT) == "to-read"
    assert collector.got == ["to-callback"]
    # A new callback may be registered after unregister.
    second = Collector()
    reader.register_cb(second)
    writer.message_write("to-second")
    assert second.wait_for(1) == ["to-second"]


def test_unregister_keeps_later_messages_for_message_read(buses: BusFactory, topic: str) -> None:
    reader = buses.reader(topic)
    writer = buses.writer(topic)
    collector = Collector()
    reader.register_cb(collector)
    writer.message_write("first")
    assert collector.wait_for(1) == ["first"]
    reader.unregister_cb()
    for i in range(5):
        writer.message_write(f"later-{i}")
    wait_available(reader, 5)
    assert read_n(reader, 5) == [f"later-{i}" for i in range(5)]
    assert collector.got == ["first"]


# -- at-least-once: what a named group commits --------------------------------------


def _write(buses: BusFactory, topic: str, texts: list[str]) -> None:
    writer = buses.writer(topic)
    for text in texts:
        writer.message_write(text)
    writer.disconnect()


def test_named_group_resumes_after_the_last_message_read(buses: BusFactory, kafka: LocalKafka, topic: str) -> None:
    group = f"g-{uuid.uuid4().hex}"
    sent = [f"alo-{i}" for i in range(20)]
    first = buses.reader(topic, group_id=group)
    _write(buses, topic, sent)
    wait_available(first, 20)
    assert read_n(first, 10) == sent[:10]
    # Ten more are queued in the reader but not read: they are not committed.
    assert first.message_available() == 10
    first.disconnect()

    second = buses.reader(topic, group_id=group)
    assert read_n(second, 10) == sent[10:]
    assert second.message_read(timeout=1.0) is None


def test_named_group_iteration_commits_a_message_once_the_loop_asks_for_the_next(buses: BusFactory, topic: str) -> None:
    group = f"g-{uuid.uuid4().hex}"
    sent = [f"it-{i}" for i in range(10)]
    first = buses.reader(topic, group_id=group)
    _write(buses, topic, sent)
    wait_available(first, 10)
    seen = []
    for msg in first:
        seen.append(msg)
        if len(seen) == 4:
            break  # the loop's body did not finish it-3: as if it had crashed there
    first.disconnect()
    assert seen == sent[:4]

    second = buses.reader(topic, group_id=group)
    assert read_n(second, 7) == sent[3:]


def test_named_group_resumes_after_the_last_callback_that_returned(buses: BusFactory, topic: str) -> None:
    group = f"g-{uuid.uuid4().hex}"
    sent = [f"alo-cb-{i}" for i in range(20)]
    first = buses.reader(topic, group_id=group)
    _write(buses, topic, sent)
    wait_available(first, 20)

    got: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def callback(msg: str) -> None:
        got.append(msg)
        if len(got) == 11:  # hold the 11th message while disconnect starts
            inside.set()
            release.wait(READ_TIMEOUT)

    first.register_cb(callback)
    assert inside.wait(READ_TIMEOUT)
    # disconnect() waits for the running callback; it returns meanwhile, so its
    # message counts as handled. The 9 never handed to the callback do not.
    timer = threading.Timer(0.5, release.set)
    timer.start()
    started = time.monotonic()
    first.disconnect()
    elapsed = time.monotonic() - started
    timer.join()
    assert got == sent[:11]
    assert elapsed < 4.0, f"disconnect took {elapsed:.1f} s"

    second = buses.reader(topic, group_id=group)
    assert read_n(second, 9) == sent[11:]
    assert second.message_read(timeout=1.0) is None


def test_named_group_redelivers_a_message_whose_callback_never_returned(buses: BusFactory, topic: str) -> None:
    group = f"g-{uuid.uuid4().hex}"
    sent = [f"stuck-{i}" for i in range(6)]
    first = buses.reader(topic, group_id=group)
    _write(buses, topic, sent)
    wait_available(first, 6)
    inside = threading.Event()
    release = threading.Event()
    got: list[str] = []

    def callback(msg: str) -> None:
        got.append(msg)
        if msg == "stuck-3":
            inside.set()
            release.wait(30)

    first.register_cb(callback)
    try:
        assert inside.wait(READ_TIMEOUT)
        first.disconnect()  # gives up waiting on the callback after a few seconds
    finally:
        release.set()
    assert got == sent[:4]
    second = buses.reader(topic, group_id=group)
    # The message whose callback was still running is read again (at-least-once).
    assert read_n(second, 3) == sent[3:]
    assert second.message_read(timeout=1.0) is None
