"""Leases (``Leases``): messages taken to be finished later; finish, release and hand back, and their commits."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from reading_support import WAIT, Collector, Gate, InThread, gather_done, run_of, wait_until

from msgbus import BusClosedError, CallbackError, HandlerError
from msgbus._reading.inbox import Inbox
from msgbus._reading.item import Item


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox(100, name="unit")
    yield box
    box.close()


def take(box: Inbox) -> Item:
    item = box.leases.take(0)
    assert item is not None
    return item


def test_a_lease_holds_its_partitions_commit_until_it_is_finished(inbox: Inbox) -> None:
    inbox.feed.put_items(run_of(0, 0, 3) + run_of(1, 0, 1))
    assert inbox.reads.read(0) == "0:0"
    held = take(inbox)
    assert held == Item("0:1", 0, 1, -1)
    assert inbox.reads.read(0) == "0:2"
    assert inbox.reads.read(0) == "1:0"
    assert inbox.feed.take_done() == {0: 1, 1: 1}  # not past "0:1", still held; partition 1 goes on
    inbox.leases.finish(held)
    assert inbox.feed.take_done() == {0: 3}


def test_leases_finished_out_of_order_commit_up_to_the_oldest_unfinished(inbox: Inbox) -> None:
    inbox.feed.put_items(run_of(0, 0, 3))
    first, second, third = take(inbox), take(inbox), take(inbox)
    inbox.leases.finish(third)
    assert inbox.feed.take_done().get(0, 0) == 0
    inbox.leases.finish(first)
    assert inbox.feed.take_done() == {0: 1}
    inbox.leases.finish(second)
    assert inbox.feed.take_done() == {0: 3}


def test_a_released_lease_lets_the_commits_pass_it(inbox: Inbox) -> None:
    inbox.feed.put_items(run_of(0, 0, 3))
    abandoned = take(inbox)
    assert inbox.reads.read_many(2, 0) == ["0:1", "0:2"]
    assert inbox.feed.take_done().get(0, 0) == 0
    inbox.leases.release(abandoned)
    assert inbox.feed.take_done() == {0: 3}
    assert inbox.reads.read(0) is None  # a released message is not read again
    progress = inbox.progress()
    assert (progress.taken, progress.finished, progress.held) == (3, 2, 0)


def test_a_lease_finished_twice_counts_once(inbox: Inbox) -> None:
    inbox.feed.put_items(run_of(0, 0, 2))
    item = take(inbox)
    inbox.leases.finish(item)
    assert inbox.feed.take_done() == {0: 1}
    inbox.leases.finish(item)
    assert inbox.feed.take_done().get(0, 1) == 1


def test_take_waits_for_a_message_and_ends_on_close_or_a_callback(inbox: Inbox) -> None:
    assert inbox.leases.take(0) is None
    assert inbox.leases.take(0.05) is None
    waiting = InThread(lambda: inbox.leases.take(None))
    time.sleep(0.05)
    inbox.feed.put_items(run_of(0, 0, 1))
    assert waiting.join() == Item("0:0", 0, 0, -1)
    waiting = InThread(lambda: inbox.leases.take(None))
    time.sleep(0.05)
    inbox.register(Collector())
    waiting.join()
    assert isinstance(waiting.error, CallbackError)
    inbox.unregister()
    waiting = InThread(lambda: inbox.leases.take(None))
    time.sleep(0.05)
    inbox.close()
    waiting.join()
    assert isinstance(waiting.error, BusClosedError)


# -- hand back ------------------------------------------------------------------------------------


def test_a_handed_back_message_is_next_for_every_kind_of_take(inbox: Inbox) -> None:
    inbox.feed.put_items(run_of(0, 0, 3))
    first = take(inbox)
    assert inbox.reads.read(0) == "0:1"
    inbox.leases.hand_back(first)
    assert inbox.reads.available() == 2
    assert inbox.reads.read_record(0) is not None and inbox.reads.read(0) == "0:2"
    inbox.feed.put_items(run_of(1, 0, 2))
    again = take(inbox)
    assert again.text == "1:0"
    inbox.leases.hand_back(again)
    assert inbox.reads.read_many(5, 0) == ["1:0", "1:1"]


def test_a_handed_back_message_keeps_its_partitions_commit_below_it(inbox: Inbox) -> None:
    # Later messages of its partition, finished by other leases and by reads, do not carry the commit past it.
    inbox.feed.put_items(run_of(0, 0, 4))
    failed = take(inbox)
    later = take(inbox)
    inbox.leases.hand_back(failed)
    inbox.leases.finish(later)
    assert inbox.feed.take_done().get(0, 0) == 0
    again = take(inbox)
    assert again == failed
    assert inbox.reads.read_many(5, 0) == ["0:2", "0:3"]
    assert inbox.feed.take_done().get(0, 0) == 0
    inbox.leases.hand_back(again)
    assert inbox.feed.take_done().get(0, 0) == 0
    assert inbox.reads.read(0) == "0:0"  # read at last: finished
    assert inbox.feed.take_done() == {0: 4}


def test_a_handed_back_message_released_by_its_next_lease_lets_the_commits_pass(inbox: Inbox) -> None:
    inbox.feed.put_items(run_of(0, 0, 2))
    item = take(inbox)
    inbox.leases.hand_back(item)
    assert inbox.reads.read(0) is not None  # "0:0" again, read and so finished
    assert inbox.reads.read(0) == "0:1"
    assert inbox.feed.take_done() == {0: 2}
    inbox.feed.put_items(run_of(0, 2, 1))
    item = take(inbox)
    inbox.leases.hand_back(item)
    inbox.leases.release(take(inbox))
    inbox.feed.put_items(run_of(0, 3, 1))
    assert inbox.reads.read(0) == "0:3"
    assert inbox.feed.take_done() == {0: 4}


def test_hand_back_with_stop_makes_every_read_raise_it(inbox: Inbox) -> None:
    inbox.feed.put_items(run_of(0, 0, 2))
    item = take(inbox)
    error = HandlerError("stopped", topic="unit", partition=0, offset=0, attempts=1)
    inbox.leases.hand_back(item, error)
    assert inbox.stopped is error
    for read in (
        lambda: inbox.reads.read(0),
        lambda: inbox.reads.read_many(1, 0),
        lambda: inbox.reads.read_record(0),
        lambda: inbox.leases.take(0),
    ):
        with pytest.raises(HandlerError) as raised:
            read()
        assert raised.value is error
    assert [i.text for i in inbox.remaining()] == ["0:0", "0:1"]
    assert inbox.feed.take_done().get(0, 0) == 0


def test_hand_back_with_stop_wakes_a_waiting_read(inbox: Inbox) -> None:
    inbox.feed.put_items(run_of(0, 0, 1))
    item = take(inbox)
    waiting = InThread(lambda: inbox.reads.read(None))
    time.sleep(0.05)
    error = HandlerError("stopped", topic="unit", partition=0, offset=0, attempts=1)
    inbox.leases.hand_back(item, error)
    waiting.join()
    assert waiting.error is error


def test_a_message_handed_back_while_the_callback_holds_one_goes_right_after_it(inbox: Inbox) -> None:
    # A loop held "0:0" when the callback came; the callback is busy with "0:1" when the loop hands it back.
    inbox.feed.put_items(run_of(0, 0, 4))
    held = take(inbox)
    gate = Gate("0:1")
    inbox.register(gate)
    assert gate.entered.wait(WAIT)
    inbox.leases.hand_back(held)
    assert [i.text for i in inbox.remaining()] == ["0:1", "0:0", "0:2", "0:3"]
    assert inbox.feed.take_done().get(0, 0) == 0
    gate.release.set()
    assert wait_until(lambda: len(gate.returned) == 4)
    assert gate.got == ["0:1", "0:0", "0:2", "0:3"]
    assert gather_done(inbox, {0: 4}) == {0: 4}
    progress = inbox.progress()
    assert (progress.queued, progress.taken, progress.finished, progress.held) == (0, 4, 4, 0)


def test_a_message_handed_back_while_the_callback_holds_one_from_a_batch_of_items_and_raw(inbox: Inbox) -> None:
    # The callback's batch is split around the handed-back message: the rest of it keeps its order.
    inbox.feed.put_items(run_of(1, 0, 1))
    held = take(inbox)
    inbox.feed.put_items(run_of(0, 0, 3))
    gate = Gate("0:0")
    inbox.register(gate)
    assert gate.entered.wait(WAIT)
    inbox.leases.hand_back(held)
    inbox.unregister()
    gate.release.set()
    # Unregistered: the callback ends with "0:0"; reads get the rest, the handed-back message first.
    assert inbox.reads.read(WAIT) == "1:0"
    assert inbox.reads.read_many(5, 0) == ["0:1", "0:2"]
    assert gate.got == ["0:0"]
    assert gather_done(inbox, {0: 3, 1: 1}) == {0: 3, 1: 1}


# -- progress --------------------------------------------------------------------------------------


def test_progress_counts_queued_taken_finished_and_held(inbox: Inbox) -> None:
    start = time.monotonic()
    progress = inbox.progress()
    assert (progress.queued, progress.taken, progress.finished, progress.held) == (0, 0, 0, 0)
    assert (progress.oldest_held_at, progress.last_finished_at) == (None, None)
    inbox.feed.put_items(run_of(0, 0, 6))
    assert inbox.progress().queued == 6
    assert inbox.reads.read(0) == "0:0"
    progress = inbox.progress()
    assert (progress.queued, progress.taken, progress.finished, progress.held) == (5, 1, 1, 0)
    assert progress.oldest_held_at is None
    assert progress.last_finished_at is not None and progress.last_finished_at >= start
    first = take(inbox)
    taken_at = time.monotonic()
    second = take(inbox)
    progress = inbox.progress()
    assert (progress.queued, progress.taken, progress.finished, progress.held) == (3, 3, 1, 2)
    assert progress.oldest_held_at is not None and start <= progress.oldest_held_at <= taken_at
    inbox.leases.finish(first)
    progress = inbox.progress()
    assert (progress.taken, progress.finished, progress.held) == (3, 2, 1)
    assert progress.oldest_held_at is not None and progress.oldest_held_at >= taken_at
    inbox.leases.hand_back(second)  # not taken any more, and not finished
    progress = inbox.progress()
    assert (progress.queued, progress.taken, progress.finished, progress.held) == (4, 2, 2, 0)
    assert progress.oldest_held_at is None
    inbox.leases.release(take(inbox))
    progress = inbox.progress()
    assert (progress.queued, progress.taken, progress.finished, progress.held) == (3, 3, 2, 0)
    assert inbox.reads.read_many(5, 0) == ["0:3", "0:4", "0:5"]
    before = time.monotonic()
    progress = inbox.progress()
    assert (progress.queued, progress.taken, progress.finished, progress.held) == (0, 6, 5, 0)
    assert progress.last_finished_at is not None and progress.last_finished_at <= before


def test_progress_counts_the_callbacks_message_in_hand_as_held(inbox: Inbox) -> None:
    gate = Gate("b")
    inbox.feed.put_items([Item("a", 0, 0, -1), Item("b", 0, 1, -1), Item("c", 0, 2, -1)])
    before = time.monotonic()
    inbox.register(gate)
    assert gate.entered.wait(WAIT)
    progress = inbox.progress()
    assert (progress.queued, progress.taken, progress.finished, progress.held) == (1, 2, 1, 1)
    assert progress.oldest_held_at is not None and progress.oldest_held_at >= before
    gate.release.set()
    assert wait_until(lambda: inbox.progress().finished == 3)
    progress = inbox.progress()
    assert (progress.queued, progress.taken, progress.held, progress.oldest_held_at) == (0, 3, 0, None)
