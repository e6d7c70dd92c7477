"""The callback thread (``Dispatcher``): order, the message in hand, register and unregister mid-batch, errors."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from reading_support import WAIT, Collector, Gate, InThread, gather_done, items, run_of, wait_until

from msgbus import BusClosedError, CallbackError
from msgbus._reading.inbox import Inbox
from msgbus._reading.item import Item


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox(10, name="unit")
    yield box
    box.close()


def test_callback_gets_queued_messages_first_then_new_ones_in_order(inbox: Inbox) -> None:
    inbox.feed.put_items(items(("x", 0, 0), ("y", 1, 0)))
    cb = Collector()
    inbox.register(cb)
    inbox.feed.put_items(items(("z", 0, 1)))
    inbox.feed.put_items(items(("w", 1, 1), ("v", 0, 2)))
    assert cb.wait_for(5) == ["x", "y", "z", "w", "v"]
    assert inbox.reads.available() == 0


def test_callback_order_holds_for_many_messages(inbox: Inbox) -> None:
    cb = Collector()
    inbox.register(cb)
    expected = [str(i) for i in range(300)]
    for i in range(0, 300, 7):
        assert inbox.feed.wait_room(7, WAIT)
        inbox.feed.put_items([Item(str(j), j % 3, j, -1) for j in range(i, min(i + 7, 300))])
    assert cb.wait_for(300) == expected


def test_a_raising_callback_is_logged_and_the_next_message_still_arrives(
    inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    got = Collector()

    def cb(msg: str) -> None:
        got(msg)
        if msg == "bad":
            raise ValueError("callback failed")

    inbox.register(cb)
    inbox.feed.put_items(items(("bad", 3, 41), ("good", 3, 42)))
    assert got.wait_for(2) == ["bad", "good"]
    assert gather_done(inbox, {3: 43}) == {3: 43}
    records = [r for r in caplog.records if r.name == "msgbus" and r.levelno == logging.ERROR]
    assert len(records) == 1
    record = records[0]
    assert record.getMessage() == "the callback raised on unit (partition 3, offset 41); going on"
    assert record.exc_info is not None
    assert record.exc_info[0] is ValueError
    assert inbox.failures.counts()["dropped"] == 1


def test_a_callback_raising_system_exit_does_not_stop_the_callback_thread(inbox: Inbox) -> None:
    got = Collector()

    def cb(msg: str) -> None:
        got(msg)
        if msg == "exit":
            sys.exit(3)

    inbox.register(cb)
    inbox.feed.put_items(items(("exit", 0, 0), ("after", 0, 1)))
    assert got.wait_for(2) == ["exit", "after"]
    assert gather_done(inbox, {0: 2}) == {0: 2}


def test_unregister_without_a_callback_is_harmless(inbox: Inbox) -> None:
    inbox.unregister()
    inbox.feed.put_items(items(("a", 0, 0)))
    assert inbox.reads.read(0) == "a"


def test_messages_queue_while_unregistered_and_go_to_the_next_callback(inbox: Inbox) -> None:
    first = Collector()
    inbox.register(first)
    inbox.unregister()
    inbox.feed.put_items(items(("a", 0, 0), ("b", 0, 1)))
    time.sleep(0.05)
    assert first.got == []
    assert inbox.reads.available() == 2
    second = Collector()
    inbox.register(second)
    assert second.wait_for(2) == ["a", "b"]
    assert first.got == []


def test_a_second_register_is_a_callback_error_and_keeps_the_first(inbox: Inbox) -> None:
    first, second = Collector(), Collector()
    inbox.register(first)
    with pytest.raises(CallbackError, match="already registered"):
        inbox.register(second)
    inbox.feed.put_items(items(("m", 0, 0)))
    assert first.wait_for(1) == ["m"]
    assert second.got == []


@pytest.mark.parametrize("not_callable", [None, "print", 5, ["f"]])
def test_registering_a_non_callable_is_a_callback_error(inbox: Inbox, not_callable: object) -> None:
    with pytest.raises(CallbackError, match="callable"):
        inbox.register(not_callable)  # type: ignore[arg-type]
    # Nothing was registered: reading still works.
    inbox.feed.put_items(items(("a", 0, 0)))
    assert inbox.reads.read(0) == "a"


def test_the_done_offset_is_recorded_only_after_the_callback_returns(inbox: Inbox) -> None:
    gate = Gate("slow")
    inbox.register(gate)
    inbox.feed.put_items(items(("slow", 3, 10)))
    assert gate.entered.wait(WAIT)
    assert inbox.feed.take_done() == {}
    gate.release.set()
    assert gather_done(inbox, {3: 11}) == {3: 11}


def test_the_done_offset_is_recorded_when_the_callback_raised(inbox: Inbox) -> None:
    def cb(msg: str) -> None:
        raise RuntimeError("nope")

    inbox.register(cb)
    inbox.feed.put_items(items(("a", 0, 4), ("b", 1, 9)))
    assert gather_done(inbox, {0: 5, 1: 10}) == {0: 5, 1: 10}


def test_a_callback_that_hangs_midway_does_not_hold_back_the_commits_before_it(inbox: Inbox) -> None:
    gate = Gate("stuck")
    inbox.feed.put_items(items(("a", 0, 0), ("b", 1, 7), ("c", 0, 1), ("stuck", 0, 2), ("d", 1, 8)))
    inbox.register(gate)
    assert gate.entered.wait(WAIT)
    # The three before it are finished and reported while it still runs; it is not.
    assert gather_done(inbox, {0: 2, 1: 8}) == {0: 2, 1: 8}
    assert inbox.progress().finished == 3
    gate.release.set()
    assert gather_done(inbox, {0: 3, 1: 9}) == {0: 3, 1: 9}
    assert inbox.progress().finished == 5


# -- register and unregister mid-batch -------------------------------------------------------------


def test_a_callback_registered_mid_batch_gets_exactly_the_rest(inbox: Inbox) -> None:
    inbox.feed.put_items(run_of(0, 0, 10))
    assert [inbox.reads.read(0) for _ in range(3)] == ["0:0", "0:1", "0:2"]
    got = Collector()
    inbox.register(got)
    with pytest.raises(CallbackError):
        inbox.reads.read(0)
    assert got.wait_for(7) == [f"0:{i}" for i in range(3, 10)]
    assert gather_done(inbox, {0: 10}) == {0: 10}
    assert inbox.taken == 10


def test_unregister_mid_call_keeps_the_message_in_hand_from_reads_until_the_call_returns(inbox: Inbox) -> None:
    gate = Gate("0:1")
    inbox.feed.put_items(run_of(0, 0, 4))
    inbox.register(gate)
    assert gate.entered.wait(WAIT)
    inbox.unregister()
    # Reads are allowed again, but the message the callback is running with is not theirs to take.
    assert inbox.reads.read(0) is None
    assert inbox.leases.take(0) is None
    waiting = InThread(lambda: inbox.reads.read(WAIT))
    time.sleep(0.05)
    assert waiting.thread.is_alive()
    assert gate.returned == ["0:0"]
    gate.release.set()
    # The call ended: its message is finished, and the wait gets the next one.
    assert waiting.join() == "0:2"
    assert gate.got == ["0:0", "0:1"]
    assert inbox.reads.read(0) == "0:3"
    assert gather_done(inbox, {0: 4}) == {0: 4}
    assert inbox.progress().taken == 4


def test_unregister_mid_batch_gives_the_rest_to_reads_in_order(inbox: Inbox) -> None:
    box = Inbox(200, name="unit")
    try:
        box.feed.put_items(run_of(0, 0, 60))
        box.feed.put_items(run_of(0, 60, 40))
        gate = Gate("0:0")
        box.register(gate)
        assert gate.entered.wait(WAIT)
        box.unregister()
        reads = InThread(lambda: [box.reads.read(WAIT) for _ in range(99)])
        time.sleep(0.05)
        gate.release.set()
        assert reads.join() == [f"0:{i}" for i in range(1, 100)]
        assert gate.got == ["0:0"]
        assert box.feed.take_done() == {0: 100}
    finally:
        box.close()


def test_re_registering_while_the_old_call_runs_gives_the_rest_to_the_new_callback(inbox: Inbox) -> None:
    gate = Gate("0:0")
    inbox.feed.put_items(run_of(0, 0, 3))
    inbox.register(gate)
    assert gate.entered.wait(WAIT)
    inbox.unregister()
    second = Collector()
    inbox.register(second)
    gate.release.set()
    assert second.wait_for(2) == ["0:1", "0:2"]
    assert gate.got == ["0:0"]
    assert gather_done(inbox, {0: 3}) == {0: 3}


# -- the thread and close ----------------------------------------------------------------------------


def test_close_from_inside_the_callback_does_not_deadlock(inbox: Inbox) -> None:
    closed = threading.Event()

    def cb(msg: str) -> None:
        inbox.close()
        closed.set()

    inbox.register(cb)
    inbox.feed.put_items(items(("close", 0, 0), ("never", 0, 1)))
    assert closed.wait(WAIT)
    thread = inbox.callback_thread
    assert thread is not None
    thread.join(WAIT)
    assert not thread.is_alive()
    with pytest.raises(BusClosedError):
        inbox.reads.read(0)
    # The call that closed was finished; the next message was never handed out.
    assert inbox.feed.take_done() == {0: 1}
    assert [i.text for i in inbox.remaining()] == ["never"]


def test_the_callback_thread_ends_after_close(inbox: Inbox) -> None:
    cb = Collector()
    inbox.register(cb)
    thread = inbox.callback_thread
    assert thread is not None
    assert thread.name == "msgbus-callback-unit"
    assert thread.daemon
    assert thread.is_alive()
    inbox.feed.put_items(items(("a", 0, 0)))
    assert cb.wait_for(1) == ["a"]
    inbox.close()
    assert not thread.is_alive()


def test_close_waits_for_a_running_callback_and_hands_out_nothing_after(inbox: Inbox) -> None:
    entered = threading.Event()
    finished: list[str] = []

    def cb(msg: str) -> None:
        entered.set()
        time.sleep(0.1)
        finished.append(msg)

    inbox.register(cb)
    inbox.feed.put_items(items(("a", 0, 0), ("b", 0, 1)))
    assert entered.wait(WAIT)
    inbox.close()
    assert finished == ["a"]
    assert inbox.feed.take_done() == {0: 1}


def test_one_callback_thread_across_re_registration(inbox: Inbox) -> None:
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


def test_register_and_unregister_wake_the_asyncio_waiters(inbox: Inbox) -> None:
    calls: list[str] = []
    inbox.add_waiter(lambda: calls.append("register"))
    inbox.register(Collector())
    inbox.add_waiter(lambda: calls.append("unregister"))
    inbox.unregister()
    assert calls == ["register", "unregister"]


def test_a_waiter_is_woken_when_the_call_on_an_unregistered_callbacks_message_ends(inbox: Inbox) -> None:
    # An aio read that found nothing (the message was in the callback's hands) must learn that reads may go on.
    gate = Gate("0:0")
    inbox.feed.put_items(run_of(0, 0, 2))
    inbox.register(gate)
    assert gate.entered.wait(WAIT)
    inbox.unregister()
    assert inbox.reads.read(0) is None
    woken = threading.Event()
    inbox.add_waiter(woken.set)
    gate.release.set()
    assert woken.wait(1.0)
    assert wait_until(lambda: inbox.reads.available() == 1)
    assert inbox.reads.read(0) == "0:1"
    # And the next put wakes the next waiter.
    again = threading.Event()
    inbox.add_waiter(again.set)
    inbox.feed.put_items(run_of(0, 2, 1))
    assert again.wait(1.0)
