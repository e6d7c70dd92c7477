"""The Inbox as a whole: its parts share one state; close, the asyncio waiters, remaining() and progress()."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from reading_support import items, run_of

from msgbus import BusClosedError
from msgbus._reading.inbox import Inbox
from msgbus._reading.item import Item


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox(10, name="unit")
    yield box
    box.close()


def test_the_parts_share_one_queue(inbox: Inbox) -> None:
    inbox.feed.put_items(run_of(0, 0, 3))
    assert inbox.reads.read(0) == "0:0"
    item = inbox.leases.take(0)
    assert item == Item("0:1", 0, 1, -1)
    assert inbox.reads.available() == 1
    assert inbox.feed.free() == 9
    assert inbox.remaining() == [Item("0:2", 0, 2, -1)]
    assert (inbox.name, inbox.capacity, inbox.taken, inbox.stopped) == ("unit", 10, 2, None)


def test_close_twice_is_harmless(inbox: Inbox) -> None:
    inbox.close()
    inbox.close()
    with pytest.raises(BusClosedError):
        inbox.reads.read(0)


def test_remaining_after_close_is_what_nobody_took_in_order(inbox: Inbox) -> None:
    inbox.feed.put_items(run_of(0, 0, 2))
    inbox.feed.put_items(run_of(1, 0, 2))
    assert inbox.reads.read(0) == "0:0"
    held = inbox.leases.take(0)
    assert held is not None
    inbox.leases.hand_back(held)
    inbox.close()
    assert [i.text for i in inbox.remaining()] == ["0:1", "1:0", "1:1"]


def test_progress_after_close_still_answers(inbox: Inbox) -> None:
    inbox.feed.put_items(run_of(0, 0, 3))
    assert inbox.reads.read_many(2, 0) == ["0:0", "0:1"]
    inbox.close()
    progress = inbox.progress()
    assert (progress.queued, progress.taken, progress.finished, progress.held) == (1, 2, 2, 0)


# -- wake-ups for readers outside the lock (msgbus.aio) ----------------------------------------------


def test_a_waiter_is_called_once_when_a_message_comes(inbox: Inbox) -> None:
    calls: list[int] = []
    inbox.add_waiter(lambda: calls.append(1))
    inbox.feed.put_items(items(("a", 0, 0)))
    inbox.feed.put_items(items(("b", 0, 1)))
    assert calls == [1]


def test_a_removed_waiter_is_not_called(inbox: Inbox) -> None:
    calls: list[int] = []

    def waiter() -> None:
        calls.append(1)

    inbox.add_waiter(waiter)
    inbox.remove_waiter(waiter)
    inbox.remove_waiter(waiter)  # twice is fine
    inbox.feed.put_items(items(("a", 0, 0)))
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
    inbox.feed.put_items(items(("a", 0, 0)))
    assert inbox.reads.read(0) == "a"


def test_a_hand_back_wakes_the_waiters(inbox: Inbox) -> None:
    inbox.feed.put_items(run_of(0, 0, 1))
    item = inbox.leases.take(0)
    assert item is not None
    calls: list[str] = []
    inbox.add_waiter(lambda: calls.append("handed back"))
    inbox.leases.hand_back(item)
    assert calls == ["handed back"]
