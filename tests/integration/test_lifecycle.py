"""Lifecycle: the spec's whole use case, wrong-direction calls, calls after
disconnect, background threads, signals and Ctrl-C, and a broker restart."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import msgbus
from msgbus.testing import LocalKafka

from .helpers import READ_TIMEOUT, BusFactory, closed_port, msgbus_threads, read_n, run_bounded, wait_until

pytestmark = pytest.mark.integration


def test_spec_use_cases_end_to_end(buses: BusFactory, topic: str) -> None:
    reader = buses.reader(topic)
    cb_reader = buses.reader(topic)
    writer = buses.writer(topic)
    assert writer.status() == msgbus.StatusOpen
    got: list[str] = []
    cb_reader.register_cb(got.append)

    writer.message_write("The Rain In Spain")

    wait_until(lambda: reader.message_available() != 0, READ_TIMEOUT, "a message for the Blocking reader")
    assert reader.message_read() == "The Rain In Spain"
    wait_until(lambda: len(got) >= 1, READ_TIMEOUT, "the callback")
    assert got == ["The Rain In Spain"]

    cb_reader.unregister_cb()
    for bus in (writer, reader, cb_reader):
        bus.disconnect()
        assert bus.status() == msgbus.StatusClosed


# -- direction and closed-bus rules ------------------------------------------------


def test_reader_calls_on_a_writer_raise_direction_error(buses: BusFactory, topic: str) -> None:
    writer = buses.writer(topic)
    with pytest.raises(msgbus.DirectionError):
        writer.message_read()
    with pytest.raises(msgbus.DirectionError):
        writer.message_read(timeout=0.1)
    with pytest.raises(msgbus.DirectionError):
        writer.register_cb(lambda msg: None)
    with pytest.raises(msgbus.DirectionError):
        writer.unregister_cb()
    assert writer.message_available() == 0
    assert writer.status() == msgbus.StatusOpen
    writer.message_write("still works")


def test_writer_calls_on_a_reader_raise_direction_error(buses: BusFactory, topic: str) -> None:
    reader = buses.reader(topic)
    with pytest.raises(msgbus.DirectionError):
        reader.message_write("nope")
    assert reader.status() == msgbus.StatusOpen


def _expect_closed(call: Callable[[], object]) -> None:
    with pytest.raises(msgbus.BusClosedError):
        call()


def test_every_call_on_a_disconnected_reader_raises_bus_closed(buses: BusFactory, topic: str) -> None:
    reader = buses.reader(topic)
    reader.disconnect()
    assert reader.status() == msgbus.StatusClosed
    _expect_closed(lambda: reader.message_write("x"))
    _expect_closed(lambda: reader.message_read())
    _expect_closed(lambda: reader.message_read(timeout=0.1))
    _expect_closed(reader.message_available)
    _expect_closed(lambda: reader.register_cb(lambda msg: None))
    _expect_closed(reader.unregister_cb)
    reader.disconnect()  # harmless
    assert reader.status() == msgbus.StatusClosed


@pytest.mark.parametrize("blocking", [msgbus.Blocking, msgbus.NonBlocking])
def test_every_call_on_a_disconnected_writer_raises_bus_closed(
    buses: BusFactory, topic: str, blocking: msgbus.BlockingMode
) -> None:
    writer = buses.writer(topic, blocking)
    writer.message_write("before")
    writer.disconnect()
    assert writer.status() == msgbus.StatusClosed
    _expect_closed(lambda: writer.message_write("x"))
    _expect_closed(lambda: writer.message_read())
    _expect_closed(writer.message_available)
    _expect_closed(lambda: writer.register_cb(lambda msg: None))
    _expect_closed(writer.unregister_cb)
    writer.disconnect()  # harmless
    assert writer.status() == msgbus.StatusClosed


def test_context_manager_disconnects(buses: BusFactory, topic: str) -> None:
    with buses.writer(topic) as writer:
        writer.message_write("in a with block")
        assert writer.status() == msgbus.StatusOpen
    assert writer.status() == msgbus.StatusClosed


def test_reader_with_callback_is_closed_after_disconnect(buses: BusFactory, topic: str) -> None:
    reader = buses.reader(topic)
    reader.register_cb(lambda msg: None)
    reader.disconnect()
    assert reader.status() == msgbus.StatusClosed
    _expect_closed(reader.unregister_cb)


# -- background threads ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("blocking-writer", {"msgbus-writer-"}),
        ("nonblocking-writer", {"msgbus-writer-"}),
        ("reader", {"msgbus-reader-"}),
        ("callback-reader", {"msgbus-reader-", "msgbus-callback-"}),
    ],
)
def test_background_threads_end_on_disconnect(buses: BusFactory, topic: str, kind: str, expected: set[str]) -> None:
    before = msgbus_threads()
    if kind == "blocking-writer":
        bus = buses.writer(topic)
        bus.message_write("x")
    elif kind == "nonblocking-writer":
        bus = buses.writer(topic, msgbus.NonBlocking)
        bus.message_write("x")
    else:
        bus = buses.reader(topic)
        if kind == "callback-reader":
            bus.register_cb(lambda msg: None)
    started = msgbus_threads() - before
    assert {t.name for t in started} == {prefix + topic for prefix in expected}
    bus.disconnect()
    still = [t.name for t in started if t.is_alive()]
    assert still == [], f"threads left running after disconnect: {still}"


def test_failed_connect_leaves_no_threads() -> None:
    before = msgbus_threads()
    cfg = msgbus.MsgBusConfig(
        host="127.0.0.1",
        port=closed_port(),
        topic="nobody-home",
        direction=msgbus.BusReader,
        connect_retries=1,
        connect_timeout=1,
    )
    with pytest.raises(msgbus.ConnectError):
        run_bounded(lambda: msgbus.connect(cfg), 20)
    wait_until(lambda: not (msgbus_threads() - before), 5, "no msgbus threads")


# -- signals -----------------------------------------------------------------------


def test_connect_installs_no_signal_handlers(buses: BusFactory, topic: str) -> None:
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    writer = buses.writer(topic)
    reader = buses.reader(topic)
    reader.register_cb(lambda msg: None)
    writer.message_write("x")
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers
    reader.disconnect()
    writer.disconnect()
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers


_CTRL_C_CHILD = textwrap.dedent(
    """
    import signal
    import sys

    import msgbus

    host, port, topic = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    # Python's own Ctrl-C handler, even where the suite was started with SIGINT ignored
    # (a background job of a non-interactive shell): Ctrl-C is what this child is about.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    cfg = msgbus.MsgBusConfig(
        host=host, port=port, topic=topic, direction=msgbus.BusReader, connect_retries=3, connect_timeout=5
    )
    bus = msgbus.connect(cfg)
    try:
        print("READY", flush=True)
        msg = bus.message_read()
        print("RETURNED", repr(msg), flush=True)
    except KeyboardInterrupt:
        print("INTERRUPTED", flush=True)
    finally:
        bus.disconnect()
        print("DISCONNECTED", flush=True)
    """
)


def _lines(stream: Any, out: queue.Queue[str]) -> None:
    for line in stream:
        out.put(line.rstrip("\n"))
    out.put("<EOF>")


def test_ctrl_c_ends_a_blocked_message_read(kafka: LocalKafka, topic: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _CTRL_C_CHILD, kafka.host, str(kafka.port), topic],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    pump = threading.Thread(target=_lines, args=(child.stdout, lines), daemon=True)
    pump.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while "READY" not in seen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"child never got ready: {seen}"
            try:
                seen.append(lines.get(timeout=remaining))
            except queue.Empty:
                continue
            assert seen[-1] != "<EOF>", f"child exited early: {seen}"
        time.sleep(0.5)  # into message_read()
        assert child.poll() is None, seen
        sent_at = time.monotonic()
        child.send_signal(signal.SIGINT)
        code = child.wait(15)
        took = time.monotonic() - sent_at
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    pump.join(5)
    while not lines.empty():
        seen.append(lines.get())
    assert "INTERRUPTED" in seen, seen
    assert "DISCONNECTED" in seen, seen
    assert not any(line.startswith("RETURNED") for line in seen), seen
    assert code == 0, seen
    assert took < 15


# -- a broker restart --------------------------------------------------------------


def test_writer_and_reader_survive_a_broker_restart() -> None:
    name = "restart"
    with LocalKafka() as private, BusFactory(private) as local:
        private.create_topic(name)
        reader = local.reader(name, connect_timeout=5)
        writer = local.writer(name, write_timeout=30)
        writer.message_write("before")
        assert reader.message_read(timeout=READ_TIMEOUT) == "before"

        private.stop_node(1)
        private.start_node(1)

        # Same buses, no reconnect by the application.
        run_bounded(lambda: writer.message_write("after"), 45)
        assert writer.status() == msgbus.StatusOpen
        assert read_n(reader, 1, timeout=30) == ["after"]
        assert reader.status() == msgbus.StatusOpen
        for i in range(5):
            writer.message_write(f"more-{i}")
        assert read_n(reader, 5) == [f"more-{i}" for i in range(5)]
        assert reader.message_read(timeout=0.5) is None
