"""The callback thread records its progress without a lock per message: what that must still keep."""

from __future__ import annotations

import threading
import time

from msgbus._inbox import Inbox

WAIT = 10.0


def wait_for_done(inbox: Inbox, expected: dict[int, int]) -> dict[int, int]:
    """take_done() until it reported ``expected`` (bounded): the offsets merged over calls."""
    seen: dict[int, int] = {}
    deadline = time.monotonic() + WAIT
    while seen != expected and time.monotonic() < deadline:
        seen.update(inbox.take_done())
        time.sleep(0.005)
    return seen


def test_a_callback_that_hangs_midway_in_a_batch_does_not_hold_back_the_commits_before_it() -> None:
    inbox = Inbox(100, name="unit")
    entered, release = threading.Event(), threading.Event()

    def cb(msg: str) -> None:
        if msg == "stuck":
            entered.set()
            release.wait(WAIT)

    # One batch (all queued before the callback is registered), two partitions.
    inbox.put_many([("a", 0, 0, -1), ("b", 1, 7, -1), ("c", 0, 1, -1), ("stuck", 0, 2, -1), ("d", 1, 8, -1)])
    inbox.register(cb)
    try:
        assert entered.wait(WAIT)
        # The three before it are finished and reported while it still runs; it is not.
        assert wait_for_done(inbox, {0: 2, 1: 8}) == {0: 2, 1: 8}
        assert inbox.taken == 3
        release.set()
        assert wait_for_done(inbox, {0: 3, 1: 9}) == {0: 3, 1: 9}
        assert inbox.taken == 5
    finally:
        release.set()
        inbox.close()


def test_unregistering_midway_a_batch_records_what_the_callback_finished_and_puts_back_the_rest() -> None:
    inbox = Inbox(100, name="unit")
    entered, release = threading.Event(), threading.Event()

    def cb(msg: str) -> None:
        if msg == "b":
            entered.set()
            release.wait(WAIT)

    inbox.put_many([("a", 0, 0, -1), ("b", 0, 1, -1), ("c", 0, 2, -1), ("d", 0, 3, -1)])
    inbox.register(cb)
    try:
        assert entered.wait(WAIT)
        inbox.unregister()
        release.set()
        # "b" was being handled: it is finished; "c" and "d" go back, in order, unread.
        assert inbox.read(WAIT) == "c"
        assert inbox.take_done() == {0: 3}
        assert inbox.read(0) == "d"
        assert inbox.taken == 4
    finally:
        release.set()
        inbox.close()
