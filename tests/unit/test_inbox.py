"""The reader's inbox: order, timeouts, wake-ups, the callback thread and the done offsets."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from msgbus import BusClosedError, CallbackError
from msgbus._inbox import Inbox, Item

# Upper bound on any wait for another thread: only reached when the behaviour is broken.
WAIT = 5.0


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox(10, name="unit")
    yield box
    box.close()


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def gather_done(box: Inbox, expected: dict[int, int]) -> dict[int, int]:
    """take_done() until what it reported adds up to ``expected`` (or the wait runs out)."""
    done: dict[int, int] = {}

    def check() -> bool:
        done.update(box.take_done())
        return done == expected

    wait_until(check)
    return done


class Collector:
    """A callback that records what it gets and lets the test wait for a count."""

    def __init__(self) -> None:
        self.got: list[str] = []
        self._cond = threading.Condition()

    def __call__(self, msg: str) -> None:
        with self._cond:
            self.got.append(msg)
            self._cond.notify_all()

    def wait_for(self, count: int) -> list[str]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.got) >= count, WAIT)
            return list(self.got)


class BackgroundRead:
    """inbox.read(timeout) on another thread, so a broken wake-up fails instead of hanging."""

    def __init__(self, box: Inbox, timeout: float | None) -> None:
        self.result: str | None = None
        self.error: BaseException | None = None
        self.started = threading.Event()

        def run() -> None:
            self.started.set()
            try:
                self.result = box.read(timeout)
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        self.started.wait(WAIT)

    def join(self) -> None:
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "read() did not return"


def items(*specs: tuple[str, int, int]) -> list[Item]:
    return [(text, partition, offset, -1) for text, partition, offset in specs]


# -- message_read ------------------------------------------------------------------


def test_read_keeps_order_across_partitions(inbox: Inbox) -> None:
    inbox.put_many(items(("a", 0, 0), ("b", 1, 0), ("c", 0, 1)))
    inbox.put_many(items(("d", 1, 1)))
    assert [inbox.read(0) for _ in range(4)] == ["a", "b", "c", "d"]
    assert inbox.read(0) is None


def test_available_and_free_count_the_queue(inbox: Inbox) -> None:
    assert inbox.capacity == 10
    assert (inbox.available(), inbox.free()) == (0, 10)
    inbox.put_many(items(("a", 0, 0), ("b", 0, 1), ("c", 0, 2)))
    assert (inbox.available(), inbox.free()) == (3, 7)
    inbox.read(0)
    assert (inbox.available(), inbox.free()) == (2, 8)


def test_read_with_zero_timeout_does_not_wait(inbox: Inbox) -> None:
    start = time.monotonic()
    assert inbox.read(0) is None
    assert time.monotonic() - start < 0.15


def test_read_with_timeout_waits_that_long(inbox: Inbox) -> None:
    start = time.monotonic()
    assert inbox.read(0.2) is None
    elapsed = time.monotonic() - start
    assert 0.19 <= elapsed < 1.0


def test_empty_string_message_is_not_none(inbox: Inbox) -> None:
    inbox.put_many(items(("", 0, 0)))
    assert inbox.read(0) == ""


def test_blocking_read_wakes_when_a_message_is_put(inbox: Inbox) -> None:
    reader = BackgroundRead(inbox, None)
    time.sleep(0.05)
    assert reader.thread.is_alive()
    inbox.put_many(items(("hello", 0, 0)))
    reader.join()
    assert reader.error is None
    assert reader.result == "hello"


def test_read_with_timeout_wakes_early_when_a_message_is_put(inbox: Inbox) -> None:
    start = time.monotonic()
    reader = BackgroundRead(inbox, 3.0)
    time.sleep(0.05)
    inbox.put_many(items(("soon", 0, 0)))
    reader.join()
    assert reader.result == "soon"
    assert time.monotonic() - start < 1.0


def test_close_wakes_a_blocked_reader_with_bus_closed(inbox: Inbox) -> None:
    reader = BackgroundRead(inbox, None)
    time.sleep(0.05)
    inbox.close()
    reader.join()
    assert isinstance(reader.error, BusClosedError)


def test_read_after_close_is_bus_closed(inbox: Inbox) -> None:
    inbox.put_many(items(("left", 0, 0)))
    inbox.close()
    with pytest.raises(BusClosedError):
        inbox.read(0)
    with pytest.raises(BusClosedError):
        inbox.read(None)


def test_close_twice_is_harmless(inbox: Inbox) -> None:
    inbox.close()
    inbox.close()


# -- done offsets --------------------------------------------------------------------


def test_take_done_reports_next_offsets_of_read_messages_and_resets(inbox: Inbox) -> None:
    inbox.put_many(items(("a", 0, 5), ("b", 1, 7), ("c", 0, 6)))
    assert inbox.take_done() == {}
    assert inbox.read(0) == "a"
    assert inbox.read(0) == "b"
    assert inbox.take_done() == {0: 6, 1: 8}
    assert inbox.take_done() == {}
    assert inbox.read(0) == "c"
    assert inbox.take_done() == {0: 7}
    assert inbox.take_done() == {}


def test_take_done_keeps_the_latest_offset_per_partition(inbox: Inbox) -> None:
    inbox.put_many(items(("a", 2, 10), ("b", 2, 11), ("c", 2, 12)))
    for _ in range(3):
        inbox.read(0)
    assert inbox.take_done() == {2: 13}


# -- forget (a rebalance took partitions away) ---------------------------------------


def test_forget_drops_only_the_revoked_partitions(inbox: Inbox) -> None:
    inbox.put_many(items(("p0o1", 0, 1), ("p1o1", 1, 1), ("p0o2", 0, 2), ("p2o3", 2, 3), ("p1o5", 1, 5)))
    assert inbox.forget([0, 2]) == 3
    assert inbox.available() == 2
    assert [inbox.read(0) for _ in range(2)] == ["p1o1", "p1o5"]
    assert inbox.take_done() == {1: 6}


def test_forget_with_nothing_to_drop(inbox: Inbox) -> None:
    inbox.put_many(items(("a", 0, 5), ("b", 1, 0)))
    assert inbox.forget([7]) == 0
    assert inbox.forget([]) == 0
    assert [inbox.read(0), inbox.read(0)] == ["a", "b"]


def test_the_callback_sees_new_messages_after_a_forget(inbox: Inbox) -> None:
    # Regression (issue 9, defect 1): the dispatcher kept a reference to a queue
    # that a rebalance replaced, and never saw a message put after it.
    got = Collector()
    inbox.put_many(items(("old", 0, 0), ("keep", 1, 0)))
    inbox.forget([0])
    inbox.register(got)
    assert got.wait_for(1) == ["keep"]
    inbox.put_many(items(("new", 0, 7)))
    assert got.wait_for(2) == ["keep", "new"]


def test_a_batch_held_by_the_callback_loses_the_forgotten_partitions(inbox: Inbox) -> None:
    # Regression (issue 9, defect 8): messages of a revoked partition already in
    # the dispatcher's hands were still delivered, while their new owner read them too.
    entered = threading.Event()
    release = threading.Event()
    got: list[str] = []

    def slow(msg: str) -> None:
        got.append(msg)
        if msg == "first":
            entered.set()
            release.wait(WAIT)

    inbox.put_many(items(("first", 1, 0), ("p0a", 0, 0), ("p1b", 1, 1), ("p0b", 0, 1)))
    inbox.register(slow)
    assert entered.wait(WAIT)
    inbox.forget([0])
    release.set()
    assert wait_until(lambda: inbox.taken == 2)
    time.sleep(0.05)
    assert got == ["first", "p1b"]
    assert gather_done(inbox, {1: 2}) == {1: 2}


def test_forget_wakes_a_feeder_waiting_for_room() -> None:
    box = Inbox(2, name="unit")
    try:
        box.put_many(items(("a", 0, 0), ("b", 0, 1)))
        result: list[bool] = []
        waiter = threading.Thread(target=lambda: result.append(box.wait_room(2, WAIT)))
        waiter.start()
        time.sleep(0.05)
        box.forget([0])
        waiter.join(WAIT)
        assert result == [True]
    finally:
        box.close()


# -- wake-ups for readers outside the class (msgbus.aio) ------------------------------


def test_a_waiter_is_called_once_when_a_message_comes(inbox: Inbox) -> None:
    calls: list[int] = []
    inbox.add_waiter(lambda: calls.append(1))
    inbox.put_many(items(("a", 0, 0)))
    inbox.put_many(items(("b", 0, 1)))
    assert calls == [1]


def test_a_removed_waiter_is_not_called(inbox: Inbox) -> None:
    calls: list[int] = []

    def waiter() -> None:
        calls.append(1)

    inbox.add_waiter(waiter)
    inbox.remove_waiter(waiter)
    inbox.remove_waiter(waiter)  # twice is fine
    inbox.put_many(items(("a", 0, 0)))
    assert calls == []


def test_waiters_are_called_on_close_and_on_a_closed_inbox() -> None:
    box = Inbox(4, name="unit")
    calls: list[str] = []
    box.add_waiter(lambda: calls.append("before"))
    box.close()
    box.add_waiter(lambda: calls.append("after"))
    assert calls == ["before", "after"]


def test_a_failing_waiter_does_not_stop_the_feeder(inbox: Inbox) -> None:
    def broken() -> None:
        raise RuntimeError("event loop is closed")

    inbox.add_waiter(broken)
    inbox.put_many(items(("a", 0, 0)))
    assert inbox.read(0) == "a"


# -- the callback ----------------------------------------------------------------------


def test_callback_gets_queued_items_first_then_new_ones_in_order(inbox: Inbox) -> None:
    inbox.put_many(items(("x", 0, 0), ("y", 1, 0)))
    cb = Collector()
    inbox.register(cb)
    inbox.put_many(items(("z", 0, 1)))
    inbox.put_many(items(("w", 1, 1), ("v", 0, 2)))
    assert cb.wait_for(5) == ["x", "y", "z", "w", "v"]
    assert inbox.available() == 0


def test_callback_order_holds_for_many_messages(inbox: Inbox) -> None:
    cb = Collector()
    inbox.register(cb)
    expected = [str(i) for i in range(300)]
    for i in range(0, 300, 7):
        inbox.put_many([(str(j), j % 3, j, -1) for j in range(i, min(i + 7, 300))])
    assert cb.wait_for(300) == expected


def test_a_raising_callback_is_logged_and_the_next_item_still_arrives(
    inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    got = Collector()

    def cb(msg: str) -> None:
        got(msg)
        if msg == "bad":
            raise ValueError("callback failed")

    inbox.register(cb)
    inbox.put_many(items(("bad", 3, 41), ("good", 3, 42)))
    assert got.wait_for(2) == ["bad", "good"]
    records = [r for r in caplog.records if r.name == "msgbus" and r.levelno == logging.ERROR]
    assert len(records) == 1
    record = records[0]
    assert record.getMessage() == "the callback raised on unit (partition 3, offset 41); going on"
    assert record.exc_info is not None
    assert record.exc_info[0] is ValueError


def test_a_callback_raising_system_exit_does_not_stop_the_dispatcher(
    inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    got = Collector()

    def cb(msg: str) -> None:
        got(msg)
        if msg == "exit":
            sys.exit(3)

    inbox.register(cb)
    inbox.put_many(items(("exit", 0, 0), ("after", 0, 1)))
    assert got.wait_for(2) == ["exit", "after"]
    assert gather_done(inbox, {0: 2}) == {0: 2}


def test_read_while_a_callback_is_registered_is_a_callback_error(inbox: Inbox) -> None:
    inbox.register(Collector())
    with pytest.raises(CallbackError):
        inbox.read(0)
    with pytest.raises(CallbackError):
        inbox.read(None)


def test_registering_wakes_a_blocked_reader_with_callback_error(inbox: Inbox) -> None:
    reader = BackgroundRead(inbox, None)
    time.sleep(0.05)
    inbox.register(Collector())
    reader.join()
    assert isinstance(reader.error, CallbackError)


def test_read_works_again_after_unregister(inbox: Inbox) -> None:
    cb = Collector()
    inbox.register(cb)
    inbox.put_many(items(("to-callback", 0, 0)))
    assert cb.wait_for(1) == ["to-callback"]
    inbox.unregister()
    inbox.put_many(items(("to-read", 0, 1)))
    assert inbox.read(0) == "to-read"
    assert cb.got == ["to-callback"]


def test_unregister_without_a_callback_is_harmless(inbox: Inbox) -> None:
    inbox.unregister()
    inbox.put_many(items(("a", 0, 0)))
    assert inbox.read(0) == "a"


def test_messages_queue_while_unregistered_and_go_to_the_next_callback(inbox: Inbox) -> None:
    first = Collector()
    inbox.register(first)
    inbox.unregister()
    inbox.put_many(items(("a", 0, 0), ("b", 0, 1)))
    time.sleep(0.05)
    assert first.got == []
    assert inbox.available() == 2
    second = Collector()
    inbox.register(second)
    assert second.wait_for(2) == ["a", "b"]
    assert first.got == []


def test_a_second_register_is_a_callback_error_and_keeps_the_first(inbox: Inbox) -> None:
    first, second = Collector(), Collector()
    inbox.register(first)
    with pytest.raises(CallbackError):
        inbox.register(second)
    inbox.put_many(items(("m", 0, 0)))
    assert first.wait_for(1) == ["m"]
    assert second.got == []


@pytest.mark.parametrize("not_callable", [None, "print", 5, ["f"]])
def test_registering_a_non_callable_is_a_callback_error(inbox: Inbox, not_callable: object) -> None:
    with pytest.raises(CallbackError, match="callable"):
        inbox.register(not_callable)  # type: ignore[arg-type]
    # Nothing was registered: reading still works.
    inbox.put_many(items(("a", 0, 0)))
    assert inbox.read(0) == "a"


def test_done_offset_is_recorded_only_after_the_callback_returns(inbox: Inbox) -> None:
    entered, release = threading.Event(), threading.Event()

    def cb(msg: str) -> None:
        entered.set()
        release.wait(WAIT)

    inbox.register(cb)
    inbox.put_many(items(("slow", 3, 10)))
    assert entered.wait(WAIT)
    time.sleep(0.02)
    assert inbox.take_done() == {}
    release.set()
    assert gather_done(inbox, {3: 11}) == {3: 11}


def test_done_offset_is_recorded_when_the_callback_raised(inbox: Inbox) -> None:
    def cb(msg: str) -> None:
        raise RuntimeError("nope")

    inbox.register(cb)
    inbox.put_many(items(("a", 0, 4), ("b", 1, 9)))
    assert gather_done(inbox, {0: 5, 1: 10}) == {0: 5, 1: 10}


def test_close_from_inside_the_callback_does_not_deadlock(inbox: Inbox) -> None:
    closed = threading.Event()

    def cb(msg: str) -> None:
        inbox.close()
        closed.set()

    inbox.register(cb)
    inbox.put_many(items(("close", 0, 0), ("never", 0, 1)))
    assert closed.wait(WAIT)
    dispatcher = inbox.callback_thread
    assert dispatcher is not None
    dispatcher.join(WAIT)
    assert not dispatcher.is_alive()
    with pytest.raises(BusClosedError):
        inbox.read(0)


def test_the_dispatcher_thread_ends_after_close(inbox: Inbox) -> None:
    cb = Collector()
    inbox.register(cb)
    dispatcher = inbox.callback_thread
    assert dispatcher is not None
    assert dispatcher.name == "msgbus-callback-unit"
    assert dispatcher.daemon
    assert dispatcher.is_alive()
    inbox.put_many(items(("a", 0, 0)))
    assert cb.wait_for(1) == ["a"]
    inbox.close()
    assert not dispatcher.is_alive()


def test_close_waits_for_a_running_callback(inbox: Inbox) -> None:
    entered = threading.Event()
    finished: list[str] = []

    def cb(msg: str) -> None:
        entered.set()
        time.sleep(0.1)
        finished.append(msg)

    inbox.register(cb)
    inbox.put_many(items(("a", 0, 0), ("b", 0, 1)))
    assert entered.wait(WAIT)
    inbox.close()
    # The running call completed; the next message was not handed out after close.
    assert finished == ["a"]


def test_one_dispatcher_thread_across_re_registration(inbox: Inbox) -> None:
    inbox.register(Collector())
    first = inbox.callback_thread
    inbox.unregister()
    inbox.register(Collector())
    assert inbox.callback_thread is first


def test_register_and_unregister_after_close_are_bus_closed(inbox: Inbox) -> None:
    inbox.close()
    with pytest.raises(BusClosedError):
        inbox.register(Collector())
    with pytest.raises(BusClosedError):
        inbox.unregister()
    assert inbox.callback_thread is None


def test_unregister_after_close_with_a_callback_is_bus_closed(inbox: Inbox) -> None:
    inbox.register(Collector())
    inbox.close()
    with pytest.raises(BusClosedError):
        inbox.unregister()


def test_unregister_midway_keeps_the_order_for_message_read(inbox: Inbox) -> None:
    # The callback thread takes messages in batches; what it had not handed to
    # the callback when unregistered must come to message_read first, in order.
    inbox.put_many([(f"m{i}", 0, i, -1) for i in range(100)])  # more than one batch
    got: list[str] = []
    first_call = threading.Event()
    release = threading.Event()

    def slow(msg: str) -> None:
        got.append(msg)
        first_call.set()
        release.wait(5)

    inbox.register(slow)
    assert first_call.wait(5)
    inbox.unregister()
    reads: list[str | None] = []
    reader = threading.Thread(target=lambda: reads.extend(inbox.read(5) for _ in range(99)))
    reader.start()
    time.sleep(0.2)
    release.set()
    reader.join(10)
    assert got == ["m0"]
    assert reads == [f"m{i}" for i in range(1, 100)]
    assert inbox.take_done() == {0: 100}
