"""A conformance kit for msgbus backends, after Watermill's universal pub/sub tests.

``BusConformance`` holds the observable semantics every bus technology shares, as pytest test
methods. Run it against a backend by subclassing it in a test module and overriding the
``bus_backend`` fixture with the backend under test::

    import pytest
    from msgbus.testing import MemoryBus
    from msgbus.testing.conformance import BusBackend, BusConformance


    class TestInProcessBus(BusConformance):
        @pytest.fixture
        def bus_backend(self, msgbus_memory: MemoryBus) -> BusBackend:
            return BusBackend.memory(msgbus_memory)

The backend's ``Features`` say which documented differences it has (``IN_PROCESS``, ``KAFKA``,
or your own); tests of a promise the backend does not make are skipped with the reason. Every bus a
test opens through the backend is disconnected after it. The tests use the ``msgbus_topic``
fixture of msgbus's pytest plugin, which installing msgbus registers.

This module imports pytest: import it explicitly, not through ``msgbus.testing``.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

import msgbus

from ._conformance.failures import HandlerFailureTests
from ._conformance.kit import (
    IN_PROCESS,
    KAFKA,
    WAIT,
    BusBackend,
    ConfigFactory,
    Features,
    FeatureTests,
    read_n,
    wait_until,
)
from ._conformance.many import ReadManyTests

__all__ = ["IN_PROCESS", "KAFKA", "WAIT", "BusBackend", "BusConformance", "ConfigFactory", "Features"]


class BusConformance(FeatureTests, ReadManyTests, HandlerFailureTests):
    """The shared semantics of msgbus backends; subclass it and override ``bus_backend``."""

    @pytest.fixture
    def bus_backend(self) -> BusBackend:
        """The backend under test: override this fixture in the subclass."""
        raise pytest.UsageError(f"{type(self).__name__} must override the bus_backend fixture")

    @pytest.fixture
    def backend(self, bus_backend: BusBackend) -> Iterator[BusBackend]:
        """``bus_backend``, whose buses are all disconnected after the test."""
        try:
            yield bus_backend
        finally:
            bus_backend.close()

    @pytest.fixture
    def topic(self, msgbus_topic: str) -> str:
        """A topic of the test's own."""
        return msgbus_topic

    def test_a_reader_gets_what_is_written_after_it_connected_in_order(self, backend: BusBackend, topic: str) -> None:
        writer = backend.writer(topic)
        writer.message_write("before")
        reader = backend.reader(topic)
        sent = [f"m{i}" for i in range(20)] + ["", "héllo wörld ✓"]
        for msg in sent:
            writer.message_write(msg)
        assert read_n(reader, len(sent)) == sent
        assert reader.message_read(timeout=0.2) is None

    def test_offset_reset_earliest_reads_older_messages(self, backend: BusBackend, topic: str) -> None:
        writer = backend.writer(topic)
        writer.message_write("old")
        reader = backend.reader(topic, offset_reset="earliest")
        writer.message_write("new")
        assert read_n(reader, 2) == ["old", "new"]

    def test_readers_without_a_group_each_see_every_message(self, backend: BusBackend, topic: str) -> None:
        first = backend.reader(topic)
        second = backend.reader(topic)
        writer = backend.writer(topic)
        for i in range(5):
            writer.message_write(str(i))
        expected = [str(i) for i in range(5)]
        assert read_n(first, 5) == expected
        assert read_n(second, 5) == expected

    def test_readers_in_one_group_share_the_messages(self, backend: BusBackend, topic: str) -> None:
        group = f"g-{uuid.uuid4().hex}"
        members = [backend.reader(topic, group_id=group), backend.reader(topic, group_id=group)]
        writer = backend.writer(topic)
        sent = [str(i) for i in range(30)]
        for msg in sent:
            writer.message_write(msg)
        got: list[str] = []
        deadline = time.monotonic() + WAIT
        while len(got) < len(sent) and time.monotonic() < deadline:
            for member in members:
                taken = member.message_read(timeout=0.05)
                if taken is not None:
                    got.append(taken)
        # Each message went to exactly one member.
        assert sorted(got, key=int) == sent
        for member in members:
            assert member.message_read(timeout=0.3) is None

    def test_a_group_resumes_after_what_a_member_read(self, backend: BusBackend, topic: str) -> None:
        group = f"g-{uuid.uuid4().hex}"
        first = backend.reader(topic, group_id=group)
        writer = backend.writer(topic)
        for i in range(5):
            writer.message_write(str(i))
        assert read_n(first, 2) == ["0", "1"]
        first.disconnect()
        second = backend.reader(topic, group_id=group)
        assert read_n(second, 3) == ["2", "3", "4"]

    def test_nonblocking_read_returns_none_when_nothing_is_queued(self, backend: BusBackend, topic: str) -> None:
        reader = backend.reader(topic, blocking=msgbus.NonBlocking)
        assert reader.message_read() is None
        assert reader.message_available() == 0
        writer = backend.writer(topic)
        writer.message_write("a")
        writer.message_write("b")
        wait_until(lambda: reader.message_available() == 2, "two queued messages")
        assert reader.message_read() == "a"
        assert reader.message_available() == 1
        assert reader.message_read() == "b"
        assert reader.message_read() is None

    def test_a_blocking_read_with_a_timeout_gives_none(self, backend: BusBackend, topic: str) -> None:
        reader = backend.reader(topic)
        started = time.monotonic()
        assert reader.message_read(timeout=0.3) is None
        assert time.monotonic() - started >= 0.29

    def test_a_nonblocking_writer_delivers_by_disconnect(self, backend: BusBackend, topic: str) -> None:
        reader = backend.reader(topic)
        writer = backend.writer(topic, blocking=msgbus.NonBlocking)
        for i in range(50):
            writer.message_write(str(i))
        writer.disconnect()
        assert read_n(reader, 50) == [str(i) for i in range(50)]

    def test_callbacks_get_every_message_in_order_including_queued_ones(self, backend: BusBackend, topic: str) -> None:
        reader = backend.reader(topic)
        writer = backend.writer(topic)
        writer.message_write("queued")
        wait_until(lambda: reader.message_available() == 1, "a queued message")
        got: list[str] = []
        done = threading.Event()

        def collect(msg: str) -> None:
            got.append(msg)
            if len(got) == 4:
                done.set()

        reader.register_cb(collect)
        with pytest.raises(msgbus.CallbackError):
            reader.message_read(timeout=0)
        with pytest.raises(msgbus.CallbackError):
            reader.register_cb(collect)
        for msg in ("a", "b", "c"):
            writer.message_write(msg)
        assert done.wait(WAIT)
        assert got == ["queued", "a", "b", "c"]
        reader.unregister_cb()
        writer.message_write("pulled")
        assert reader.message_read(timeout=WAIT) == "pulled"

    def test_a_raising_callback_does_not_stop_the_reader(self, backend: BusBackend, topic: str) -> None:
        reader = backend.reader(topic)
        got: list[str] = []
        done = threading.Event()

        def flaky(msg: str) -> None:
            if msg == "bad":
                raise ValueError(msg)
            got.append(msg)
            done.set()

        reader.register_cb(flaky)
        writer = backend.writer(topic)
        writer.message_write("bad")
        writer.message_write("good")
        assert done.wait(WAIT)
        assert got == ["good"]

    def test_calls_on_a_disconnected_bus_raise(self, backend: BusBackend, topic: str) -> None:
        writer = backend.writer(topic)
        reader = backend.reader(topic)
        for bus in (writer, reader):
            assert bus.status() is msgbus.StatusOpen
            bus.disconnect()
            bus.disconnect()  # a second call does nothing
            assert bus.status() is msgbus.StatusClosed
            with pytest.raises(msgbus.BusClosedError):
                bus.message_write("x")
            with pytest.raises(msgbus.BusClosedError):
                bus.message_read(timeout=0)
            with pytest.raises(msgbus.BusClosedError):
                bus.message_available()
            with pytest.raises(msgbus.BusClosedError):
                bus.register_cb(print)
            with pytest.raises(msgbus.BusClosedError):
                bus.unregister_cb()

    def test_calls_in_the_wrong_direction_raise(self, backend: BusBackend, topic: str) -> None:
        writer = backend.writer(topic)
        reader = backend.reader(topic)
        assert writer.message_available() == 0
        with pytest.raises(msgbus.DirectionError):
            writer.message_read()
        with pytest.raises(msgbus.DirectionError):
            writer.register_cb(print)
        with pytest.raises(msgbus.DirectionError):
            writer.unregister_cb()
        with pytest.raises(msgbus.DirectionError):
            reader.message_write("x")
        with pytest.raises(msgbus.DirectionError):
            next(iter(writer))

    def test_bad_messages_raise(self, backend: BusBackend, topic: str) -> None:
        writer = backend.writer(topic)
        with pytest.raises(msgbus.InvalidMessageError):
            writer.message_write(b"bytes")  # type: ignore[arg-type]
        with pytest.raises(msgbus.DeliveryError) as info:
            writer.message_write("x" * 1_100_000)
        assert info.value.code == "MSG_SIZE_TOO_LARGE"
        writer.message_write("still usable")

    def test_a_blocked_read_ends_when_another_thread_disconnects(self, backend: BusBackend, topic: str) -> None:
        reader = backend.reader(topic)
        errors: list[BaseException] = []

        def blocked() -> None:
            try:
                reader.message_read()
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=blocked)
        thread.start()
        time.sleep(0.2)
        reader.disconnect()
        thread.join(WAIT)
        assert not thread.is_alive()
        assert len(errors) == 1 and isinstance(errors[0], msgbus.BusClosedError)

    def test_iteration_yields_messages_and_ends_on_disconnect(self, backend: BusBackend, topic: str) -> None:
        reader = backend.reader(topic, blocking=msgbus.NonBlocking)
        writer = backend.writer(topic)
        got: list[str] = []

        def loop() -> None:
            for msg in reader:
                got.append(msg)

        thread = threading.Thread(target=loop)
        thread.start()
        for msg in ("x", "y", "z"):
            writer.message_write(msg)
        wait_until(lambda: len(got) == 3, "three iterated messages")
        reader.disconnect()
        thread.join(WAIT)
        assert not thread.is_alive()
        assert got == ["x", "y", "z"]

    def test_the_context_manager_disconnects(self, backend: BusBackend, topic: str) -> None:
        with msgbus.connect(backend.config(topic, msgbus.BusWriter)) as writer:
            writer.message_write("x")
        assert writer.status() is msgbus.StatusClosed

    def test_stats_count_writes_and_reads(self, backend: BusBackend, topic: str) -> None:
        reader = backend.reader(topic)
        writer = backend.writer(topic)
        for i in range(4):
            writer.message_write(str(i))
        # librdkafka counts a message as queued until its delivery report has been served.
        wait_until(lambda: writer.stats().queued == 0, "no queued writes")
        stats = writer.stats()
        assert isinstance(stats, msgbus.BusStats)
        assert (stats.written, stats.delivered, stats.failed, stats.queued) == (4, 4, 0, 0)
        assert read_n(reader, 1) == ["0"]
        wait_until(lambda: reader.stats().queued == 3, "three queued messages")
        stats = reader.stats()
        assert (stats.read, stats.queued) == (1, 3)
        wait_until(lambda: reader.stats().lag == 3, "a lag of three")
        read_n(reader, 3)
        wait_until(lambda: reader.stats().lag == 0, "no lag")
        assert reader.stats().read == 4

    def test_healthy_while_open_and_not_after_disconnect(self, backend: BusBackend, topic: str) -> None:
        writer = backend.writer(topic)
        reader = backend.reader(topic)
        for bus in (writer, reader):
            assert bus.healthy()
            bus.disconnect()
            assert not bus.healthy()

    def test_read_record_gives_the_message_and_where_it_came_from(self, backend: BusBackend, topic: str) -> None:
        reader = backend.reader(topic)
        writer = backend.writer(topic)
        before = time.time() * 1000
        for msg in ("a", "b", "c"):
            writer.message_write(msg)
        first = reader.read_record(WAIT)
        assert reader.message_read(WAIT) == "b"  # the two calls share one queue, in order
        third = reader.read_record(WAIT)
        after = time.time() * 1000
        assert isinstance(first, msgbus.Record) and isinstance(third, msgbus.Record)
        assert (first.text, third.text) == ("a", "c")
        assert first.partition == third.partition >= 0
        assert third.offset == first.offset + 2
        # Broker clocks are the broker's: a few seconds of slack either way.
        assert before - 5000 <= first.timestamp <= third.timestamp <= after + 5000
        assert reader.stats().read == 3
        with pytest.raises(dataclasses.FrozenInstanceError):
            first.text = "changed"  # type: ignore[misc]
        assert not hasattr(first, "__dict__")  # slotted

    def test_read_record_waits_and_raises_as_message_read(self, backend: BusBackend, topic: str) -> None:
        assert backend.reader(topic).read_record(timeout=0.3) is None
        nonblocking = backend.reader(topic, blocking=msgbus.NonBlocking)
        assert nonblocking.read_record() is None  # does not wait
        writer = backend.writer(topic)
        with pytest.raises(msgbus.DirectionError):
            writer.read_record()
        writer.message_write("a")
        wait_until(lambda: nonblocking.message_available() == 1, "a queued message")
        nonblocking.register_cb(lambda _msg: None)
        with pytest.raises(msgbus.CallbackError):
            nonblocking.read_record()
        nonblocking.unregister_cb()
        for bus in (writer, nonblocking):
            bus.disconnect()
            with pytest.raises(msgbus.BusClosedError):
                bus.read_record(timeout=0)

    def test_a_group_resumes_after_what_read_record_took(self, backend: BusBackend, topic: str) -> None:
        group = f"g-{uuid.uuid4().hex}"
        first = backend.reader(topic, group_id=group)
        writer = backend.writer(topic)
        for i in range(4):
            writer.message_write(str(i))
        taken = [first.read_record(WAIT) for _ in range(2)]
        assert [record.text for record in taken if record is not None] == ["0", "1"]
        first.disconnect()
        second = backend.reader(topic, group_id=group)
        assert read_n(second, 2) == ["2", "3"]
